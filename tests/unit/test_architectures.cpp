// The distinctive features of qwen3, olmo2, gemma2 and gemma3_text on random-weight models built in memory
// (exactness against the float64 reference is test_model's): soft-capping bounds the scores and the logits,
// and the normalizer multiplies the capped scores; sliding-window layers give zero weight beyond the window
// while full layers do not; q/k norm weights change the output. Also the config rules: defaults per family,
// layer_types, and keys refused rather than ignored.

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "attnscope/model.h"

namespace attnscope {
namespace {

using nlohmann::json;

json smallConfig(const std::string& model_type) {
  return {{"model_type", model_type}, {"vocab_size", 61},       {"hidden_size", 32},
          {"intermediate_size", 48},  {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"head_dim", 8},          {"max_position_embeddings", 256},
          {"rope_theta", 10000.0}};
}

std::unique_ptr<Model> randomModel(const json& config, uint64_t seed = 3) {
  torch::manual_seed(seed);
  return std::make_unique<Model>(parseConfig(config.dump()));
}

torch::Tensor randomIds(const Model& model, int64_t T) {
  torch::manual_seed(11);
  return torch::randint(0, model.config().vocab_size, {1, T}, torch::kInt64);
}

/// Scales every weight matrix so that scores and logits are large enough for a cap to bend them.
void sharpen(Model& model, double factor) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.module().parameters())
    if (p.dim() >= 2) p.mul_(factor);
}

/// Collects one hook's blocks into a [H, T, T] map per layer (batch 0), `fill` where no block wrote.
std::map<int64_t, torch::Tensor> collect(Model& model, const std::string& pattern, int64_t T, float fill) {
  auto maps = std::make_shared<std::map<int64_t, torch::Tensor>>();
  HookHandle hook = model.hooks().add(pattern, [maps, T, fill](const HookEvent& e) {
    auto& map = (*maps)[e.layer];
    if (!map.defined()) map = torch::full({e.tensor.size(1), T, T}, fill);
    map.slice(1, e.q0, e.q1).slice(2, e.k0, e.k1).copy_(e.tensor[0]);
  });
  auto ids = randomIds(model, T);
  torch::NoGradGuard no_grad;
  model.forward(ids, LogitPositions::none());
  return *maps;
}

TEST(Architectures, FamilyDefaultsFollowTransformers) {
  json qwen3 = smallConfig("qwen3");
  qwen3.erase("head_dim");
  auto c = parseConfig(qwen3.dump());
  EXPECT_EQ(c.d_head, 128);  // Qwen3Config's head_dim, not hidden_size / heads
  EXPECT_EQ(c.qk_norm, QkNorm::PerHead);
  EXPECT_EQ(c.windowOf(1), 0);  // no window without use_sliding_window

  auto olmo2 = parseConfig(smallConfig("olmo2").dump());
  EXPECT_EQ(olmo2.qk_norm, QkNorm::Whole);
  EXPECT_EQ(olmo2.norm_layout, NormLayout::Post);
  EXPECT_DOUBLE_EQ(olmo2.norm_eps, 1e-5);

  auto gemma2 = parseConfig(smallConfig("gemma2").dump());
  EXPECT_DOUBLE_EQ(gemma2.attn_softcap, 50.0);
  EXPECT_DOUBLE_EQ(gemma2.final_softcap, 30.0);
  EXPECT_DOUBLE_EQ(gemma2.attn_scale, 1.0 / 16.0);  // query_pre_attn_scalar 256
  EXPECT_TRUE(gemma2.tie_word_embeddings);
  EXPECT_EQ(gemma2.windowOf(0), 4096);  // sliding first, then full
  EXPECT_EQ(gemma2.windowOf(1), 0);

  json g3 = smallConfig("gemma3_text");
  g3["num_hidden_layers"] = 7;
  auto gemma3 = parseConfig(g3.dump());
  EXPECT_EQ(gemma3.attn_softcap, 0.0);
  EXPECT_EQ(gemma3.final_softcap, 0.0);
  EXPECT_DOUBLE_EQ(gemma3.rope_local_theta, 10000.0);
  for (int64_t l = 0; l < 7; ++l) EXPECT_EQ(gemma3.isSlidingLayer(l), l != 5) << "layer " << l;  // 5 : 1
  g3["layer_types"] = json::array({"full_attention", "sliding_attention", "full_attention", "full_attention",
                                   "full_attention", "full_attention", "sliding_attention"});
  auto typed = parseConfig(g3.dump());
  for (int64_t l = 0; l < 7; ++l) EXPECT_EQ(typed.isSlidingLayer(l), l == 1 || l == 6) << "layer " << l;
  g3["attn_logit_softcapping"] = nullptr;  // null: no cap, as None in transformers
  EXPECT_EQ(parseConfig(g3.dump()).attn_softcap, 0.0);
}

TEST(Architectures, LayerTypesHonouredWhereverGiven) {
  json mistral = smallConfig("mistral");
  mistral["sliding_window"] = 5;
  mistral["layer_types"] = json::array({"full_attention", "sliding_attention"});
  auto c = parseConfig(mistral.dump());
  EXPECT_EQ(c.windowOf(0), 0);
  EXPECT_EQ(c.windowOf(1), 5);

  json qwen3 = smallConfig("qwen3");
  qwen3["use_sliding_window"] = true;
  qwen3["sliding_window"] = 7;
  qwen3["max_window_layers"] = 1;
  EXPECT_EQ(parseConfig(qwen3.dump()).windowOf(0), 0);
  EXPECT_EQ(parseConfig(qwen3.dump()).windowOf(1), 7);
  qwen3["sliding_window"] = nullptr;  // None: no window at all, whatever max_window_layers says
  EXPECT_EQ(parseConfig(qwen3.dump()).windowOf(1), 0);
  qwen3["sliding_window"] = 7;
  qwen3["layer_types"] = json::array({"sliding_attention", "full_attention"});  // wins over max_window_layers
  EXPECT_EQ(parseConfig(qwen3.dump()).windowOf(0), 7);
  EXPECT_EQ(parseConfig(qwen3.dump()).windowOf(1), 0);
}

/// Returns the ConfigError message parseConfig gives for a config, or "" when it parses.
std::string configError(const json& config) {
  try {
    parseConfig(config.dump());
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Architectures, RefusesWhatItDoesNotImplement) {
  auto with = [](json config, const char* key, json value) {
    config[key] = std::move(value);
    return config;
  };
  const json llama = smallConfig("llama"), qwen3 = smallConfig("qwen3"), gemma2 = smallConfig("gemma2");
  const json gpt2 = {{"model_type", "gpt2"}, {"vocab_size", 50}, {"n_embd", 32},
                     {"n_layer", 2},         {"n_head", 4},      {"n_positions", 64}};
  const std::pair<json, std::string> cases[] = {
      {with(llama, "attn_logit_softcapping", 50.0), "'attn_logit_softcapping'"},
      {with(qwen3, "final_logit_softcapping", 30.0), "'final_logit_softcapping'"},
      {with(llama, "query_pre_attn_scalar", 64), "'query_pre_attn_scalar'"},
      {with(gemma2, "rope_local_base_freq", 10000.0), "'rope_local_base_freq'"},
      {with(qwen3, "quantization_config", json{{"quant_method", "gptq"}}), "'quantization_config'"},
      {with(qwen3, "rope_parameters", json{{"rope_type", "default"}}), "'rope_parameters'"},
      {with(gemma2, "use_bidirectional_attention", true), "'use_bidirectional_attention'"},
      {with(gemma2, "hidden_activation", "gelu"), "hidden_activation 'gelu'"},
      {with(gemma2, "layer_types", json::array({"sliding_attention", "chunked_attention"})),
       "layer_types entry 'chunked_attention'"},
      {with(gemma2, "layer_types", json::array({"full_attention"})), "one type per layer"},
      {with(llama, "layer_types", json::array({"sliding_attention", "full_attention"})), "no sliding window"},
      {with(gpt2, "layer_types", json::array({"full_attention", "sliding_attention"})), "no sliding window"},
      {with(qwen3, "layer_types", json::array({"sliding_attention", "full_attention"})),
       "use_sliding_window"},
      {with(gemma2, "attn_logit_softcapping", -1.0), "'attn_logit_softcapping' must be"},
  };
  for (const auto& [config, expected] : cases) {
    const std::string message = configError(config);
    EXPECT_NE(message.find(expected), std::string::npos)
        << "message: '" << message << "' for " << config.dump();
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  // Keys that are unset, null or false are no request at all.
  EXPECT_EQ(configError(with(llama, "attn_logit_softcapping", nullptr)), "");
  EXPECT_EQ(configError(with(qwen3, "use_bidirectional_attention", false)), "");
}

// Gemma 2's cap bounds every score: |z| <= cap, and the scores come close to it (the cap really bends them);
// the normalizer multiplies the capped scores (hook_logits = m · hook_scores); the final cap bounds the
// logits.
TEST(Architectures, SoftCappingBoundsScoresAndLogits) {
  json config = smallConfig("gemma2");
  config["attn_logit_softcapping"] = 2.0;
  config["final_logit_softcapping"] = 1.5;
  config["query_pre_attn_scalar"] = 8;
  auto model = randomModel(config);
  sharpen(*model, 40.0);
  const int64_t T = 33;
  model->setNormalizer(parseNormalizer("ssmax:s=0.7"));
  auto scores = collect(*model, "blocks.*.attn.hook_scores", T, -INFINITY);
  auto logits = collect(*model, "blocks.*.attn.hook_logits", T, -INFINITY);
  auto multipliers = std::make_shared<std::map<int64_t, torch::Tensor>>();
  HookHandle hook = model->hooks().add("blocks.*.attn.hook_multiplier", [multipliers, T](const HookEvent& e) {
    auto& m = (*multipliers)[e.layer];
    if (!m.defined()) m = torch::zeros({e.tensor.size(0), T});
    m.slice(1, e.q0, e.q1).copy_(e.tensor);
  });
  torch::NoGradGuard no_grad;
  auto out = model->forward(randomIds(*model, T), LogitPositions::all());
  ASSERT_EQ(scores.size(), 2u);
  for (const auto& [layer, z] : scores) {
    auto visible = torch::isfinite(z);
    auto finite = z.masked_select(visible);
    EXPECT_LE(finite.abs().max().item<double>(), 2.0);
    EXPECT_GT(finite.abs().max().item<double>(), 1.9);  // sharpened: without the cap they would be far larger
    auto expected = z * multipliers->at(layer).unsqueeze(-1);
    EXPECT_LT((logits.at(layer).masked_select(visible) - expected.masked_select(visible))
                  .abs()
                  .max()
                  .item<double>(),
              1e-5);
  }
  EXPECT_LE(out.abs().max().item<double>(), 1.5);
  EXPECT_GT(out.abs().max().item<double>(), 1.4);
}

// Gemma 3 with pattern 3 and window 6: layers 0, 1 and 3 are local, layer 2 global. Local layers put exactly
// zero weight on keys at distance >= 6; the global layer puts weight there.
TEST(Architectures, SlidingLayersGiveZeroWeightBeyondTheWindow) {
  json config = smallConfig("gemma3_text");
  config["num_hidden_layers"] = 4;
  config["sliding_window_pattern"] = 3;
  config["sliding_window"] = 6;
  auto model = randomModel(config);
  const int64_t T = 30;
  for (int64_t block : {0, 4}) {  // whole map, and query blocks whose keys start mid-window
    model->attentionOptions().query_block = block;
    auto patterns = collect(*model, "blocks.*.attn.hook_pattern", T, 0.0f);
    ASSERT_EQ(patterns.size(), 4u);
    auto i = torch::arange(T).view({-1, 1}), j = torch::arange(T).view({1, -1});
    auto beyond = (i - j >= 6).logical_and(j <= i).expand({4, T, T});
    for (const auto& [layer, p] : patterns) {
      SCOPED_TRACE("layer " + std::to_string(layer));
      const double mass_beyond = p.masked_select(beyond).abs().max().item<double>();
      if (layer == 2) {
        EXPECT_GT(mass_beyond, 1e-3);
      } else {
        EXPECT_EQ(mass_beyond, 0.0);
      }
      EXPECT_LT((p.sum(-1) - 1).abs().max().item<double>(), 1e-5);
    }
  }
}

// Changing one layer's q_norm or k_norm weights changes the logits, for each family that has them.
TEST(Architectures, QkNormWeightsChangeTheOutput) {
  for (const char* type : {"qwen3", "olmo2", "gemma3_text"}) {
    SCOPED_TRACE(type);
    auto model = randomModel(smallConfig(type));
    auto ids = randomIds(*model, 20);
    torch::NoGradGuard no_grad;
    auto before = model->forward(ids, LogitPositions::all());
    auto params = model->module().named_parameters();
    for (const char* name :
         {"model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight"}) {
      ASSERT_TRUE(params.contains(name)) << name;
      torch::Tensor w = params[name];
      const auto saved = w.clone();
      w.copy_(torch::linspace(-1.0, 2.0, w.numel()));
      auto after = model->forward(ids, LogitPositions::all());
      EXPECT_GT((after - before).abs().max().item<double>(), 1e-3) << name;
      w.copy_(saved);
      EXPECT_LT((model->forward(ids, LogitPositions::all()) - before).abs().max().item<double>(), 1e-6);
    }
  }
}

// Trainable: a loss reaches every new parameter kind (q/k norms, the (1 + w) norms) through the soft caps.
TEST(Architectures, GradientsReachNormsThroughTheCaps) {
  json config = smallConfig("gemma3_text");
  config["attn_logit_softcapping"] = 5.0;
  config["final_logit_softcapping"] = 5.0;
  for (json c : {config, smallConfig("olmo2"), smallConfig("qwen3")}) {
    SCOPED_TRACE(c["model_type"].get<std::string>());
    auto model = randomModel(c);
    model->setNormalizer(parseNormalizer("ssmax:s=0.5"));
    auto logits = model->forward(randomIds(*model, 16), LogitPositions::all());
    logits.pow(2).mean().backward();
    for (const auto& item : model->module().named_parameters()) {
      const bool norm = item.key().find("norm") != std::string::npos;
      if (!norm) continue;
      ASSERT_TRUE(item.value().grad().defined()) << item.key();
      EXPECT_GT(item.value().grad().abs().max().item<double>(), 0.0) << item.key();
    }
  }
}

}  // namespace
}  // namespace attnscope
