// Scoped, cancellable passes: hook handles remove their hook, a hook stops a pass without an exception, a
// forward call's options leave the model as it was, and an attention observer receives every stage of a
// block in one event, equal to what the per-name hooks see.

#include <map>
#include <memory>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "attnscope/model.h"

namespace attnscope {
namespace {

const char* kLlama = R"({"model_type": "llama", "vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
  "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128})";
const char* kGpt2 = R"({"model_type": "gpt2", "vocab_size": 50, "n_embd": 32, "n_layer": 2, "n_head": 4,
  "n_positions": 64})";

torch::Tensor someIds(int64_t T) {
  return (torch::arange(T, torch::kInt64) * 7 + 3).remainder(50).view({1, T});
}

TEST(HookHandle, RemovesItsHookWhenItGoesOutOfScope) {
  Model model(parseConfig(kGpt2));
  torch::NoGradGuard no_grad;
  int calls = 0;
  {
    HookHandle hook = model.hooks().add("blocks.*.hook_resid_post", [&](const HookEvent&) { ++calls; });
    EXPECT_TRUE(hook.active());
    model.forward(someIds(6), LogitPositions::none());
    EXPECT_EQ(calls, 2);
  }
  EXPECT_TRUE(model.hooks().empty());
  model.forward(someIds(6), LogitPositions::none());
  EXPECT_EQ(calls, 2);

  // Moved handles keep the hook; the moved-from one owns nothing.
  HookHandle outer;
  EXPECT_FALSE(outer.active());
  {
    HookHandle inner = model.hooks().add("blocks.0.hook_resid_post", [&](const HookEvent&) { ++calls; });
    outer = std::move(inner);
    EXPECT_FALSE(inner.active());  // NOLINT(bugprone-use-after-move): a moved-from handle is empty
  }
  EXPECT_TRUE(outer.active());
  model.forward(someIds(6), LogitPositions::none());
  EXPECT_EQ(calls, 3);
  outer.remove();
  EXPECT_FALSE(outer.active());
  EXPECT_TRUE(model.hooks().empty());
}

TEST(HookHandle, MayOutliveTheRegistryAndItsClear) {
  HookHandle survivor;
  {
    auto registry = std::make_unique<HookRegistry>();
    survivor = registry->add("x", [](const HookEvent&) {});
    HookHandle cleared = registry->add("y", [](const HookEvent&) {});
    registry->clear();
    EXPECT_FALSE(cleared.active());
    survivor = registry->add("z", [](const HookEvent&) {});
    EXPECT_TRUE(survivor.active());
  }
  EXPECT_FALSE(survivor.active());
  survivor.remove();  // the registry is gone: nothing to do, no crash
}

TEST(HookRegistry, CallbacksMayAddAndRemoveHooksWhileAnEventIsDelivered) {
  HookRegistry registry;
  const std::string name = "blocks.0.hook_resid_post";
  const at::Tensor tensor;
  int first = 0, second = 0, added = 0;
  HookHandle second_hook, added_hook;
  HookHandle first_hook = registry.add(name, [&](const HookEvent&) {
    ++first;
    second_hook.remove();  // takes effect from the next event, as does the hook added here
    if (!added_hook.active()) added_hook = registry.add(name, [&](const HookEvent&) { ++added; });
  });
  second_hook = registry.add(name, [&](const HookEvent&) { ++second; });
  registry.fire({name, 0, 0, 1, 0, 1, tensor});
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(added, 0);
  registry.fire({name, 0, 0, 1, 0, 1, tensor});
  EXPECT_EQ(first, 2);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(added, 1);
}

TEST(HookResult, StopEndsThePassWithoutAnException) {
  for (const char* config : {kLlama, kGpt2}) {
    SCOPED_TRACE(config);
    Model model(parseConfig(config));
    torch::NoGradGuard no_grad;
    std::map<std::string, int> seen;
    HookHandle every = model.hooks().add("*", [&](const HookEvent& e) { ++seen[e.name]; });
    HookHandle stop =
        model.hooks().add("blocks.0.hook_resid_post", [](const HookEvent&) { return HookResult::Stop; });
    ForwardResult result;
    ASSERT_NO_THROW(result = model.forward(someIds(12), ForwardOptions{LogitPositions::all(), {}, 4}));
    EXPECT_TRUE(result.stopped);
    EXPECT_FALSE(result.logits.defined());
    EXPECT_EQ(seen["blocks.0.hook_resid_post"], 1);
    EXPECT_EQ(seen["blocks.0.attn.hook_pattern"], 3);
    EXPECT_EQ(seen.count("blocks.1.hook_resid_pre"), 0u);
    EXPECT_EQ(seen.count(kFinalNormHook), 0u);
    EXPECT_EQ(seen.count(kUnembedHook), 0u);

    // A stop in the middle of a layer's query blocks: no later block fires.
    seen.clear();
    stop = model.hooks().add("blocks.1.attn.hook_logits", [](const HookEvent& e) {
      return e.q0 == 4 ? HookResult::Stop : HookResult::Continue;
    });
    result = model.forward(someIds(12), ForwardOptions{LogitPositions::last(), {}, 4});
    EXPECT_TRUE(result.stopped);
    EXPECT_EQ(seen["blocks.1.attn.hook_logits"], 2);
    EXPECT_EQ(seen["blocks.1.attn.hook_pattern"], 1);
    EXPECT_EQ(seen.count("blocks.1.hook_resid_post"), 0u);

    // The same model runs whole passes afterwards.
    stop.remove();
    seen.clear();
    result = model.forward(someIds(12), ForwardOptions{LogitPositions::last(), {}, 4});
    EXPECT_FALSE(result.stopped);
    EXPECT_EQ(result.logits.sizes(), (c10::IntArrayRef{1, 1, 50}));
    EXPECT_EQ(seen[kUnembedHook], 1);
  }
}

TEST(ForwardOptions, ApplyToOneCallAndLeaveTheModelAsItWas) {
  Model model(parseConfig(kLlama));
  torch::NoGradGuard no_grad;
  const int64_t T = 20;
  std::vector<torch::Tensor> blocks;
  HookHandle hook = model.hooks().add("blocks.2.attn.hook_pattern",
                                      [&](const HookEvent& e) { blocks.push_back(e.tensor.clone()); });
  ForwardOptions options;
  options.logits = LogitPositions::all();
  options.normalizer = parseNormalizer("ssmax:s=0.7");
  options.query_block = 6;
  const at::Tensor per_call = model.forward(someIds(T), options).logits;
  EXPECT_EQ(blocks.size(), 4u);  // 6 + 6 + 6 + 2 queries
  EXPECT_EQ(model.normalizer().text(), "softmax");
  EXPECT_EQ(model.attentionOptions().query_block, 0);

  // The same pass through the model's settings gives the same logits.
  model.setNormalizer(parseNormalizer("ssmax:s=0.7"));
  model.attentionOptions().query_block = 6;
  blocks.clear();
  const at::Tensor through_model = model.forward(someIds(T), LogitPositions::all());
  EXPECT_EQ(blocks.size(), 4u);
  EXPECT_TRUE(torch::equal(per_call, through_model));

  // An option that does not fit this model is refused before anything runs.
  options.normalizer = parseNormalizer("ssmax:s=0.1/0.2");  // 2 layers' values for 3 layers
  blocks.clear();
  EXPECT_THROW(model.forward(someIds(T), options), std::invalid_argument);
  EXPECT_TRUE(blocks.empty());
}

TEST(AttentionObserver, OneEventPerBlockCarriesEveryStage) {
  Model model(parseConfig(kLlama));
  torch::NoGradGuard no_grad;
  struct Stages {
    torch::Tensor scores, multiplier, logits, pattern;
  };
  std::map<std::pair<int64_t, int64_t>, Stages> named, observed;  // (layer, q0) -> stages
  auto keep = [](const at::Tensor& t) { return t.defined() ? t.clone() : t; };
  HookHandle scores = model.hooks().add("blocks.*.attn.hook_scores", [&](const HookEvent& e) {
    named[{e.layer, e.q0}].scores = keep(e.tensor);
  });
  HookHandle multiplier = model.hooks().add("blocks.*.attn.hook_multiplier", [&](const HookEvent& e) {
    named[{e.layer, e.q0}].multiplier = keep(e.tensor);
  });
  HookHandle logits = model.hooks().add("blocks.*.attn.hook_logits", [&](const HookEvent& e) {
    named[{e.layer, e.q0}].logits = keep(e.tensor);
  });
  HookHandle pattern = model.hooks().add("blocks.*.attn.hook_pattern", [&](const HookEvent& e) {
    named[{e.layer, e.q0}].pattern = keep(e.tensor);
  });
  HookHandle observer = model.hooks().observeAttention(
      "blocks.*.attn",
      [&](const AttentionBlock& b) {
        EXPECT_EQ(b.k1, b.q1);
        observed[{b.layer, b.q0}] = {keep(b.scores), keep(b.multiplier), keep(b.logits), keep(b.pattern)};
        return HookResult::Continue;
      },
      {true});
  ForwardOptions options;
  options.normalizer = parseNormalizer("ssmax:s=0.4,b=0.1");
  options.query_block = 5;
  model.forward(someIds(13), options);
  ASSERT_EQ(observed.size(), 3u * 3u);  // 3 layers × blocks at 0, 5, 10
  for (const auto& [key, stages] : observed) {
    SCOPED_TRACE("layer " + std::to_string(key.first) + " q0 " + std::to_string(key.second));
    const Stages& hooks = named.at(key);
    EXPECT_TRUE(torch::equal(stages.scores, hooks.scores));
    EXPECT_TRUE(torch::equal(stages.multiplier, hooks.multiplier));
    EXPECT_TRUE(torch::equal(stages.logits, hooks.logits));
    EXPECT_TRUE(torch::equal(stages.pattern, hooks.pattern));
  }

  // Alone and without asking for scores: the same blocks, no scores, and only the layers of its pattern.
  scores.remove();
  multiplier.remove();
  logits.remove();
  pattern.remove();
  std::vector<int64_t> layers;
  observer = model.hooks().observeAttention("blocks.1.attn", [&](const AttentionBlock& b) {
    EXPECT_FALSE(b.scores.defined());
    EXPECT_TRUE(torch::equal(b.pattern, observed.at({b.layer, b.q0}).pattern));
    EXPECT_EQ(b.multiplier.sizes(), (c10::IntArrayRef{4, b.q1 - b.q0}));
    layers.push_back(b.layer);
    return HookResult::Continue;
  });
  model.forward(someIds(13), options);
  EXPECT_EQ(layers, (std::vector<int64_t>{1, 1, 1}));
}

}  // namespace
}  // namespace attnscope
