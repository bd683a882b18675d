// Normalizer parsing and the invariants every normalizer must keep, on random-weight models built in memory.

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "attnscope/model.h"

namespace attnscope {
namespace {

const char* kLlamaWindow = R"({"model_type": "mistral", "vocab_size": 50, "hidden_size": 32,
  "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "max_position_embeddings": 128, "sliding_window": 12, "attention_normalizer": "ssmax", "ssmax_bias": true})";
const char* kGpt2 = R"({"model_type": "gpt2", "vocab_size": 50, "n_embd": 32, "n_layer": 2, "n_head": 4,
  "n_positions": 64})";

/// Runs a model and returns every layer's full pattern [H, T, T] (batch 0) and multipliers [H, T].
struct Captured {
  std::vector<torch::Tensor> pattern, multiplier;
};

Captured run(Model& model, const std::string& spec, int64_t T, int64_t query_block = 5) {
  model.setNormalizer(parseNormalizer(spec));
  model.attentionOptions().query_block = query_block;
  Captured out;
  for (int64_t l = 0; l < model.config().n_layer; ++l) {
    out.pattern.push_back(torch::full({model.config().n_head, T, T}, -1.0f));  // -1: never written
    out.multiplier.push_back(torch::zeros({model.config().n_head, T}));
  }
  HookHandle pattern_hook = model.hooks().add("blocks.*.attn.hook_pattern", [&](const HookEvent& e) {
    auto& map = out.pattern[e.layer];
    map.slice(1, e.q0, e.q1).fill_(0.0f);  // keys outside [k0, k1) are hidden: probability 0
    map.slice(1, e.q0, e.q1).slice(2, e.k0, e.k1).copy_(e.tensor[0]);
  });
  HookHandle multiplier_hook = model.hooks().add("blocks.*.attn.hook_multiplier", [&](const HookEvent& e) {
    out.multiplier[e.layer].slice(1, e.q0, e.q1).copy_(e.tensor);
  });
  torch::manual_seed(7);
  auto ids = torch::randint(0, model.config().vocab_size, {1, T}, torch::kInt64);
  torch::NoGradGuard no_grad;
  model.forward(ids, LogitPositions::none());
  return out;
}

TEST(NormalizerParse, AcceptsEveryForm) {
  EXPECT_EQ(parseNormalizer("softmax").kind, NormalizerKind::Softmax);
  auto learned = parseNormalizer("ssmax");
  EXPECT_TRUE(learned.use_learned);
  auto given = parseNormalizer("ssmax:s=0.3,b=0.1");
  EXPECT_FALSE(given.use_learned);
  EXPECT_DOUBLE_EQ(given.sAt(1, 2, 2, 4), 0.3);
  EXPECT_DOUBLE_EQ(given.bAt(1, 2, 2, 4), 0.1);
  auto per_head = parseNormalizer("ssmax:s=0.1/0.2/0.3/0.4/0.5/0.6/0.7/0.8");
  EXPECT_DOUBLE_EQ(per_head.sAt(1, 2, 2, 4), 0.7);
  auto per_layer = parseNormalizer("ssmax:s=0.1/0.2");
  EXPECT_DOUBLE_EQ(per_layer.sAt(1, 3, 2, 4), 0.2);
  EXPECT_NEAR(parseNormalizer("ssmax:ctx=256").s.at(0), 1.0 / std::log(256.0), 1e-15);
  EXPECT_DOUBLE_EQ(parseNormalizer("logn:L=1024").logn_base, 1024);
  auto temp = parseNormalizer("temperature:floor=8192,scale=0.1");
  EXPECT_DOUBLE_EQ(temp.floor_scale, 8192);
  EXPECT_DOUBLE_EQ(temp.attn_scale, 0.1);
  // The canonical text parses back to the same spec.
  EXPECT_EQ(parseNormalizer(per_head.text()).s, per_head.s);
  EXPECT_EQ(parseNormalizer(given.text()).text(), given.text());
}

TEST(NormalizerParse, RejectsBadSpecsWithAReason) {
  auto message = [](const std::string& spec) {
    try {
      parseNormalizer(spec);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("sparsemax").find("unknown kind"), std::string::npos);
  EXPECT_NE(message("ssmax:s=abc").find("not a number"), std::string::npos);
  EXPECT_NE(message("ssmax:q=1").find("no parameter 'q'"), std::string::npos);
  EXPECT_NE(message("logn").find("needs L"), std::string::npos);
  EXPECT_NE(message("ssmax:b=0.1").find("needs s="), std::string::npos);
  EXPECT_NE(message("ssmax:").find("empty parameter"), std::string::npos);

  Model gpt2(parseConfig(kGpt2));
  try {
    gpt2.setNormalizer(parseNormalizer("ssmax"));
    FAIL() << "learned ssmax accepted without learned parameters";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no learned SSMax"), std::string::npos);
  }
  EXPECT_THROW(gpt2.setNormalizer(parseNormalizer("ssmax:s=0.1/0.2/0.3")), std::invalid_argument);
}

class Invariants : public ::testing::TestWithParam<std::string> {};

TEST_P(Invariants, RowsSumToOneCausalZerosAndSingleKeyWeightOne) {
  for (const char* config : {kGpt2, kLlamaWindow}) {
    Model model(parseConfig(config));
    if (GetParam() == "ssmax" && !model.config().ssmax_learned) continue;  // no learned s to use
    const int64_t T = 29, window = model.config().sliding_window;
    auto out = run(model, GetParam(), T);
    for (const auto& map : out.pattern) {
      EXPECT_FALSE((map < 0).any().item<bool>()) << "a query block was never reported";
      EXPECT_LT((map.sum(-1) - 1).abs().max().item<double>(), 1e-6);
      auto q = torch::arange(T).view({-1, 1}), k = torch::arange(T).view({1, -1});
      auto hidden = k > q;
      if (window > 0) hidden = hidden.logical_or(q - k >= window);
      EXPECT_EQ(map.masked_select(hidden.expand_as(map)).abs().max().item<float>(), 0.0f);
      EXPECT_TRUE(torch::all(map.select(1, 0).select(1, 0) == 1.0f).item<bool>())
          << "n = 1 must give weight 1";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, Invariants,
                         ::testing::Values("softmax", "ssmax:s=0.4", "ssmax:s=0,b=0", "ssmax:s=0.5,b=-0.2",
                                           "ssmax", "logn:L=4", "temperature:floor=3,scale=0.5"));

TEST(Ssmax, UnitMultiplierEqualsSoftmax) {
  Model model(parseConfig(kLlamaWindow));
  const int64_t T = 31;
  auto softmax = run(model, "softmax", T);
  auto unit = run(model, "ssmax:s=0,b=1", T);  // s·ln n + b ≡ 1
  for (int64_t l = 0; l < 2; ++l) EXPECT_TRUE(torch::equal(softmax.pattern[l], unit.pattern[l]));
  // s = 1/ln n for one query's n makes that query's row the softmax row. Only layer 0 is comparable: later
  // layers see residuals that the other rows' different multipliers changed.
  for (int64_t i : {1, 5, 11}) {
    NormalizerSpec spec;
    spec.kind = NormalizerKind::Ssmax;
    spec.s = {1.0 / std::log(i + 1.0)};
    auto row = run(model, spec.text(), T);
    EXPECT_LT((row.pattern[0].select(1, i) - softmax.pattern[0].select(1, i)).abs().max().item<double>(),
              1e-6);
  }
}

TEST(Multiplier, FollowsEachFormula) {
  Model model(parseConfig(kLlamaWindow));
  const int64_t T = 40, W = 12;
  auto ssmax = run(model, "ssmax:s=0.3,b=0.1", T);
  auto logn = run(model, "logn:L=4", T);
  auto temp = run(model, "temperature:floor=3,scale=0.5", T);
  for (int64_t i = 0; i < T; ++i) {
    double n = static_cast<double>(std::min<int64_t>(i + 1, W));
    EXPECT_NEAR(ssmax.multiplier[1][2][i].item<double>(), 0.3 * std::log(n) + 0.1, 1e-6);
    EXPECT_NEAR(logn.multiplier[0][0][i].item<double>(), n > 4 ? std::log(n) / std::log(4.0) : 1.0, 1e-6);
    EXPECT_NEAR(temp.multiplier[0][3][i].item<double>(), std::log1p(std::floor((i + 1) / 3.0)) * 0.5 + 1,
                1e-6);
  }
  auto learned = run(model, "ssmax", T);
  double s0 = model.ssmaxS(0)[1].item<double>();
  EXPECT_NEAR(learned.multiplier[0][1][T - 1].item<double>(), s0 * std::log(static_cast<double>(W)), 1e-6);
}

TEST(Ssmax, GradientsReachLearnedParameters) {
  Model model(parseConfig(kLlamaWindow));
  model.setNormalizer(parseNormalizer("ssmax"));
  auto ids = torch::randint(0, 50, {2, 20}, torch::kInt64);
  auto logits = model.forward(ids, LogitPositions::all());
  torch::nn::functional::cross_entropy(logits.view({-1, 50}), ids.view({-1})).backward();
  for (int64_t l = 0; l < 2; ++l) {
    EXPECT_GT(model.ssmaxS(l).grad().abs().sum().item<double>(), 0.0);
    EXPECT_GT(model.ssmaxB(l).grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(Hooks, GlobPatternsAndRemoval) {
  EXPECT_TRUE(HookRegistry::matches("blocks.*.attn.hook_pattern", "blocks.11.attn.hook_pattern"));
  EXPECT_TRUE(HookRegistry::matches("*", "ln_final.hook_normalized"));
  EXPECT_TRUE(HookRegistry::matches("blocks.1.*", "blocks.1.hook_resid_post"));
  EXPECT_FALSE(HookRegistry::matches("blocks.1.*", "blocks.11.hook_resid_post"));
  EXPECT_FALSE(HookRegistry::matches("blocks.*.attn.hook_q", "blocks.0.attn.hook_qx"));

  Model model(parseConfig(kGpt2));
  std::map<std::string, int> seen;
  HookHandle hook = model.hooks().add("*", [&](const HookEvent& e) { ++seen[e.name]; });
  model.attentionOptions().query_block = 4;
  torch::NoGradGuard no_grad;
  model.forward(torch::zeros({1, 10}, torch::kInt64), LogitPositions::all());
  EXPECT_EQ(seen["blocks.0.hook_resid_pre"], 1);
  EXPECT_EQ(seen["blocks.1.attn.hook_q"], 1);
  EXPECT_EQ(seen["blocks.1.attn.hook_pattern"], 3);  // query blocks 0-3, 4-7, 8-9
  EXPECT_EQ(seen["ln_final.hook_normalized"], 1);
  hook.remove();
  EXPECT_FALSE(hook.active());
  seen.clear();
  model.forward(torch::zeros({1, 10}, torch::kInt64), LogitPositions::all());
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace attnscope
