// The key/value cache, greedy generation and chunked token losses on random-weight models of every family:
// prompt + cached steps give the logits of one full forward at the same positions (under every normalizer,
// with sliding windows and gemma3's local/global RoPE), greedy generation equals an argmax loop without a
// cache, tokenLosses equals cross_entropy of full logits, and hooks of cached steps carry absolute positions.

#include <cmath>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "attnscope/generate.h"
#include "attnscope/hook_names.h"
#include "attnscope/model.h"
#include "attnscope/safetensors.h"

namespace attnscope {
namespace {

using nlohmann::json;

constexpr int64_t kLength = 24;  // total positions; phi3's longrope switches factors only beyond 32

json smallConfig(const std::string& model_type) {
  return {{"model_type", model_type}, {"vocab_size", 61},       {"hidden_size", 32},
          {"intermediate_size", 48},  {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"head_dim", 8},          {"max_position_embeddings", 256},
          {"rope_theta", 10000.0}};
}

/// One config per family the reference fixtures cover, with the features a cache must respect.
std::vector<std::pair<std::string, json>> familyConfigs() {
  std::vector<std::pair<std::string, json>> configs;
  configs.push_back({"gpt2",
                     {{"model_type", "gpt2"},
                      {"vocab_size", 61},
                      {"n_embd", 32},
                      {"n_layer", 2},
                      {"n_head", 4},
                      {"n_positions", 64}}});
  configs.push_back({"llama", smallConfig("llama")});
  json mistral = smallConfig("mistral");  // a window shorter than the sequence on every layer
  mistral["sliding_window"] = 5;
  configs.push_back({"mistral-window5", mistral});
  configs.push_back({"qwen3", smallConfig("qwen3")});
  configs.push_back({"olmo2", smallConfig("olmo2")});
  json gemma2 = smallConfig("gemma2");  // soft-capped scores and logits, sliding layer 0
  gemma2["sliding_window"] = 6;
  configs.push_back({"gemma2-window6", gemma2});
  json gemma3 = smallConfig("gemma3_text");  // local layers rotate with their own base
  gemma3["sliding_window"] = 7;
  gemma3["rope_local_base_freq"] = 100.0;
  gemma3["layer_types"] = json::array({"sliding_attention", "full_attention"});
  configs.push_back({"gemma3-local-global", gemma3});
  configs.push_back({"gpt_neox", json::parse(R"({"model_type": "gpt_neox", "vocab_size": 61,
      "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 96,
      "rotary_pct": 0.25, "rotary_emb_base": 10000, "max_position_embeddings": 256,
      "use_parallel_residual": true, "hidden_act": "gelu"})")});
  json phi3 = json::parse(R"({"model_type": "phi3", "vocab_size": 61, "hidden_size": 64,
      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96,
      "max_position_embeddings": 128, "original_max_position_embeddings": 32, "partial_rotary_factor": 0.75,
      "rms_norm_eps": 1e-5, "sliding_window": 9})");
  phi3["rope_scaling"] = {{"type", "longrope"},
                          {"short_factor", {1.0, 1.1, 1.2, 1.3, 1.4, 1.5}},
                          {"long_factor", {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}}};
  configs.push_back({"phi3-window9", phi3});
  return configs;
}

std::unique_ptr<Model> randomModel(const json& config, uint64_t seed = 3) {
  torch::manual_seed(seed);
  auto model = std::make_unique<Model>(parseConfig(config.dump()));
  // Larger weights than the training init, so attention is far from uniform and position errors would show.
  torch::NoGradGuard no_grad;
  for (auto& p : model->module().parameters())
    if (p.dim() >= 2) p.mul_(4.0);
  return model;
}

torch::Tensor randomIds(int64_t vocab, int64_t batch, int64_t T, uint64_t seed = 11) {
  torch::manual_seed(seed);
  return torch::randint(0, vocab, {batch, T}, torch::kInt64);
}

const char* const kNormalizers[] = {"softmax", "ssmax:s=0.7,b=0.1", "logn:L=4",
                                    "temperature:floor=4,scale=0.5"};

/// Logits [B, T, vocab] of ids [B, T] run as a prompt of `prefill` tokens, a chunk of 3, then single tokens,
/// all on one cache.
torch::Tensor cachedLogits(Model& model, const torch::Tensor& ids, int64_t prefill,
                           const ForwardOptions& base) {
  KvCache cache;
  ForwardOptions pass = base;
  pass.logits = LogitPositions::all();
  pass.cache = &cache;
  std::vector<torch::Tensor> parts;
  const int64_t T = ids.size(1);
  for (int64_t p0 = 0; p0 < T;) {
    const int64_t n = p0 == 0 ? prefill : p0 == prefill ? 3 : 1;
    EXPECT_EQ(cache.length(), p0);
    parts.push_back(model.forward(ids.narrow(1, p0, n), pass).logits);
    p0 += n;
  }
  EXPECT_EQ(cache.length(), T);
  return torch::cat(parts, 1);
}

TEST(Generate, CachedStepsEqualFullForwardInEveryFamilyAndNormalizer) {
  torch::NoGradGuard no_grad;
  double worst = 0;
  for (const auto& [name, config] : familyConfigs()) {
    auto model = randomModel(config);
    auto ids = randomIds(model->config().vocab_size, 2, kLength);
    for (const char* spec : kNormalizers) {
      SCOPED_TRACE(name + " " + spec);
      ForwardOptions options;
      options.normalizer = parseNormalizer(spec);
      options.logits = LogitPositions::all();
      auto full = model->forward(ids, options).logits;  // [2, T, vocab]
      options.query_block = 4;  // blocks that start inside the prompt and windows that straddle them
      auto cached = cachedLogits(*model, ids, 10, options);
      ASSERT_EQ(cached.sizes(), full.sizes());
      const double diff = (cached - full).abs().max().item<double>();
      EXPECT_LT(diff, 2e-5) << "logit scale " << full.abs().max().item<double>();
      worst = std::max(worst, diff);
    }
  }
  std::printf("largest difference, cached against full logits: %.3g\n", worst);
}

TEST(Generate, GreedyEqualsArgmaxLoopWithoutCache) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, config] : familyConfigs()) {
    SCOPED_TRACE(name);
    auto model = randomModel(config);
    auto prompt_ids = randomIds(model->config().vocab_size, 1, 9);
    std::vector<int64_t> prompt(prompt_ids.data_ptr<int64_t>(), prompt_ids.data_ptr<int64_t>() + 9);
    GenerateOptions options;
    options.max_new_tokens = 12;
    options.normalizer = parseNormalizer("ssmax:s=0.7");
    Generation generated = generateGreedy(*model, prompt, options);
    EXPECT_FALSE(generated.stopped);

    std::vector<int64_t> expected, ids = prompt;
    ForwardOptions pass;
    pass.logits = LogitPositions::last();
    pass.normalizer = options.normalizer;
    for (int64_t i = 0; i < options.max_new_tokens; ++i) {
      auto logits = model->forward(torch::tensor(ids, torch::kInt64).view({1, -1}), pass).logits;
      expected.push_back(logits[0][0].argmax().item<int64_t>());
      ids.push_back(expected.back());
    }
    EXPECT_EQ(generated.ids, expected);

    // A stop id ends generation after emitting it.
    options.stop_ids = {expected[4]};
    const auto first = std::find(expected.begin(), expected.end(), expected[4]);
    Generation stopped = generateGreedy(*model, prompt, options);
    EXPECT_EQ(stopped.ids, std::vector<int64_t>(expected.begin(), first + 1));
  }
}

TEST(Generate, TokenLossesEqualCrossEntropyOfFullLogits) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, config] : familyConfigs()) {
    SCOPED_TRACE(name);
    auto model = randomModel(config);
    const int64_t V = model->config().vocab_size;
    auto ids = randomIds(V, 2, kLength);
    ForwardOptions options;
    options.normalizer = parseNormalizer("logn:L=4");
    options.logits = LogitPositions::all();
    auto logits = model->forward(ids, options).logits;  // [2, T, V]
    auto expected =
        torch::nn::functional::cross_entropy(
            logits.narrow(1, 0, kLength - 1).reshape({-1, V}), ids.narrow(1, 1, kLength - 1).reshape(-1),
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
            .view({2, kLength - 1});
    model->attentionOptions().max_logit_bytes = 2 * V * 4 * 5;  // chunks of 5 positions, the last of 3
    int64_t chunks = 0;
    HookHandle count = model->hooks().add(kUnembedHook, [&](const HookEvent& e) {
      EXPECT_LE(e.q1 - e.q0, 5);
      ++chunks;
    });
    auto losses = model->tokenLosses(ids, options);
    EXPECT_EQ(chunks, 5);  // 23 positions
    ASSERT_EQ(losses.sizes(), expected.sizes());
    EXPECT_LT((losses - expected).abs().max().item<double>(), 1e-5);
  }
  auto model = randomModel(smallConfig("llama"));
  EXPECT_THROW(model->tokenLosses(torch::zeros({1, 1}, torch::kInt64)), std::invalid_argument);
}

TEST(Generate, HooksOfCachedStepsCarryAbsolutePositions) {
  torch::NoGradGuard no_grad;
  json config = smallConfig("mistral");
  config["sliding_window"] = 5;
  auto model = randomModel(config);
  auto ids = randomIds(model->config().vocab_size, 1, 12);
  // The pattern of the last position from a full pass, to compare with the cached step's.
  torch::Tensor full_row;
  {
    HookHandle h = model->hooks().add(BlockHookNames(1).pattern, [&](const HookEvent& e) {
      // [1, H, keys 7..11]: the five the window leaves the last position
      if (e.q1 == 12) full_row = e.tensor.select(2, e.tensor.size(2) - 1).narrow(-1, 7 - e.k0, 5).clone();
    });
    model->forward(ids, LogitPositions::none());
  }
  KvCache cache;
  ForwardOptions pass;
  pass.cache = &cache;
  model->forward(ids.narrow(1, 0, 11), pass);
  std::map<std::string, std::vector<int64_t>> seen;  // name: q0, q1, k0, k1
  torch::Tensor step_row;
  HookHandle h = model->hooks().add("*", [&](const HookEvent& e) {
    seen[e.name] = {e.q0, e.q1, e.k0, e.k1};
    if (e.name == BlockHookNames(1).pattern) step_row = e.tensor.select(2, 0).clone();
  });
  model->forward(ids.narrow(1, 11, 1), pass);
  EXPECT_EQ(seen[BlockHookNames(1).pattern], (std::vector<int64_t>{11, 12, 7, 12}));  // window 5
  EXPECT_EQ(seen[BlockHookNames(0).resid_pre], (std::vector<int64_t>{11, 12, 11, 12}));
  EXPECT_EQ(seen[BlockHookNames(1).k], (std::vector<int64_t>{11, 12, 11, 12}));
  EXPECT_EQ(seen[kFinalNormHook].at(0), 11);
  ASSERT_TRUE(step_row.defined() && full_row.defined());
  ASSERT_EQ(step_row.sizes(), full_row.sizes());
  EXPECT_LT((step_row - full_row).abs().max().item<double>(), 1e-6);
}

TEST(Generate, StoppedPassLeavesTheCacheAsItWas) {
  torch::NoGradGuard no_grad;
  auto model = randomModel(smallConfig("qwen3"));
  auto ids = randomIds(model->config().vocab_size, 1, 10);
  auto full = model->forward(ids, LogitPositions::all());
  KvCache cache;
  ForwardOptions pass;
  pass.cache = &cache;
  pass.logits = LogitPositions::all();
  model->forward(ids.narrow(1, 0, 8), pass);
  {
    HookHandle stop =
        model->hooks().add(BlockHookNames(1).resid_pre, [](const HookEvent&) { return HookResult::Stop; });
    EXPECT_TRUE(model->forward(ids.narrow(1, 8, 1), pass).stopped);
  }
  EXPECT_EQ(cache.length(), 8);
  auto rest = model->forward(ids.narrow(1, 8, 2), pass).logits;
  EXPECT_LT((rest - full.narrow(1, 8, 2)).abs().max().item<double>(), 2e-5);

  // generateGreedy reports a stop and the tokens before it.
  int64_t passes = 0;
  HookHandle stop_third = model->hooks().add(kFinalNormHook, [&](const HookEvent&) {
    return ++passes == 3 ? HookResult::Stop : HookResult::Continue;
  });
  Generation g = generateGreedy(*model, {1, 2, 3}, GenerateOptions{});
  EXPECT_TRUE(g.stopped);
  EXPECT_EQ(g.ids.size(), 2u);
}

TEST(Generate, BadInputIsRefusedWithOneLine) {
  torch::NoGradGuard no_grad;
  auto model = randomModel(smallConfig("llama"));
  auto other = randomModel(smallConfig("llama"));
  auto ids = randomIds(model->config().vocab_size, 1, 4);
  KvCache cache;
  ForwardOptions pass;
  pass.cache = &cache;
  model->forward(ids, pass);
  auto refused = [&](Model& m, const torch::Tensor& x, const ForwardOptions& o) {
    try {
      m.forward(x, o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(refused(*model, randomIds(61, 2, 1), pass).find("batch of 1"), std::string::npos);
  EXPECT_NE(refused(*other, ids, pass).find("another model"), std::string::npos);
  ForwardOptions ssmax = pass;
  ssmax.normalizer = parseNormalizer("ssmax:s=0.5");
  EXPECT_NE(refused(*model, ids, ssmax).find("normalizer"), std::string::npos);
  EXPECT_EQ(cache.length(), 4);

  EXPECT_THROW(generateGreedy(*model, {}, GenerateOptions{}), std::invalid_argument);
  EXPECT_THROW(generateGreedy(*model, {1, 61}, GenerateOptions{}), std::invalid_argument);
  GenerateOptions negative;
  negative.max_new_tokens = -1;
  EXPECT_THROW(generateGreedy(*model, {1}, negative), std::invalid_argument);
  // GPT-2's learned positions end at n_positions: generation past them is refused, not extrapolated.
  auto gpt2 = randomModel(familyConfigs()[0].second);
  GenerateOptions past_end;
  past_end.max_new_tokens = 8;
  EXPECT_THROW(generateGreedy(*gpt2, std::vector<int64_t>(60, 1), past_end), std::invalid_argument);
}

TEST(Generate, GreedyEqualsFloat64Reference) {
  // make_reference.py's greedy continuations: argmax of a full float64 forward per step, written from HF
  // semantics without attnscope; every step's top-2 gap there exceeds 1e-3.
  torch::NoGradGuard no_grad;
  const char* data = std::getenv("ATTNSCOPE_TEST_DATA");
  const std::string root = std::string(data ? data : "data") + "/reference";
  std::ifstream in(root + "/cases.json");
  ASSERT_TRUE(in) << root << "/cases.json missing";
  int64_t checked = 0;
  for (const auto& c : json::parse(in)) {
    const std::string dir = root + "/" + c["dir"].get<std::string>();
    SafetensorsFile reference(dir + "/reference.safetensors");
    const std::string first = c["runs"][0]["prefix"].get<std::string>() + ".greedy";
    if (!reference.contains(first)) continue;
    auto model = loadModel(dir, LoadOptions{ComputeDtype::Float32});
    const TensorView& input = reference.at("input_ids");
    const auto* all = reinterpret_cast<const int64_t*>(input.data);
    for (const auto& run : c["runs"]) {
      SCOPED_TRACE(c["name"].get<std::string>() + " " + run["normalizer"].get<std::string>());
      const TensorView& greedy = reference.at(run["prefix"].get<std::string>() + ".greedy");
      const auto* want = reinterpret_cast<const int64_t*>(greedy.data);
      const int64_t n_new = greedy.shape.at(0);
      GenerateOptions options;
      options.max_new_tokens = n_new;
      options.normalizer = parseNormalizer(run["normalizer"].get<std::string>());
      std::vector<int64_t> prompt(all, all + input.shape.at(0) - n_new);
      EXPECT_EQ(generateGreedy(*model, prompt, options).ids, std::vector<int64_t>(want, want + n_new));
      ++checked;
    }
  }
  EXPECT_GE(checked, 9);  // llama_gqa's six runs and mistral_window's three
}

}  // namespace
}  // namespace attnscope
