// GPT-NeoX (Pythia) and Phi-3 beyond the reference's exactness: what each feature must do (partial rotary
// leaves the other head dimensions position-independent, parallel and sequential residual differ, longrope
// switches factors by sequence length), the configs they refuse, training and MLP slicing.

#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "attnscope/model.h"
#include "attnscope/safetensors.h"

namespace attnscope {
namespace {

using nlohmann::json;

// Pythia's proportions at toy size: 16-dim heads, rotary_pct 0.25 (4 dims turn), parallel residual.
json neoxConfig() {
  return json::parse(
      R"({"model_type": "gpt_neox", "vocab_size": 50, "hidden_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 96, "rotary_pct": 0.25, "rotary_emb_base": 10000,
    "max_position_embeddings": 256, "use_parallel_residual": true, "hidden_act": "gelu"})");
}

// Phi-4-mini's proportions at toy size: partial_rotary_factor 0.75 of 16-dim heads, GQA, longrope over an
// original context of 32.
json phi3Config() {
  json c = json::parse(R"({"model_type": "phi3", "vocab_size": 50, "hidden_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96, "max_position_embeddings": 128,
    "original_max_position_embeddings": 32, "partial_rotary_factor": 0.75, "rms_norm_eps": 1e-5})");
  c["rope_scaling"] = {{"type", "longrope"},
                       {"short_factor", {1.0, 1.1, 1.2, 1.3, 1.4, 1.5}},
                       {"long_factor", {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}}};
  return c;
}

std::string configError(const json& config) {
  try {
    parseConfig(config.dump());
  } catch (const ConfigError& e) {
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "error must be one line: " << message;
    return message;
  }
  return "parsed without error";
}

std::string referenceCase(const std::string& name) {
  const char* data = std::getenv("ATTNSCOPE_TEST_DATA");
  return std::string(data ? data : "data") + "/reference/" + name;
}

torch::Tensor referenceTensor(const SafetensorsFile& file, const std::string& name) {
  const TensorView& view = file.at(name);
  auto type = view.dtype == DType::I64 ? torch::kInt64 : torch::kFloat32;
  return torch::from_blob(const_cast<std::byte*>(view.data), view.shape, torch::TensorOptions().dtype(type))
      .clone();
}

TEST(GptNeoxConfig, DefaultsFollowConfigurationGptNeox) {
  json j = neoxConfig();
  for (const char* key : {"rotary_pct", "rotary_emb_base", "use_parallel_residual", "hidden_act"})
    j.erase(key);
  ModelConfig c = parseConfig(j.dump());
  EXPECT_EQ(c.arch, Architecture::GptNeox);
  EXPECT_EQ(c.d_head, 16);
  EXPECT_EQ(c.rotaryDim(), 4);  // rotary_pct 0.25
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_TRUE(c.parallel_residual);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_EQ(minimumParameterCount(c), 2 * 50 * 64 + 2 * (4 * 64 * 64 + 2 * 64 * 96));
}

TEST(GptNeoxConfig, RefusesWhatItDoesNotImplement) {
  json j = neoxConfig();
  j["rotary_pct"] = 0.3;  // int(16 * 0.3) = int(4.8): HF truncates
  EXPECT_EQ(parseConfig(j.dump()).rotaryDim(), 4);
  j["rotary_pct"] = 0.2;  // 3 dimensions: rotate-half needs an even number
  EXPECT_NE(configError(j).find("'rotary_pct' gives 3 of 16"), std::string::npos) << configError(j);
  j = neoxConfig();
  j["hidden_act"] = "relu";
  EXPECT_NE(configError(j).find("hidden_act 'relu'"), std::string::npos);
  j = neoxConfig();
  j["rope_theta"] = 500.0;  // disagrees with rotary_emb_base
  EXPECT_NE(configError(j).find("'rope_theta' disagrees with 'rotary_emb_base'"), std::string::npos);
  j["rope_theta"] = 10000.0;  // transformers 4.4x writes both, equal
  EXPECT_EQ(parseConfig(j.dump()).rope_theta, 10000.0);
  j = neoxConfig();
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
  EXPECT_NE(configError(j).find("'rope_parameters'"), std::string::npos);
}

TEST(Phi3Config, LongropeFollowsModelingRopeUtils) {
  ModelConfig c = parseConfig(phi3Config().dump());
  EXPECT_EQ(c.arch, Architecture::Phi3);
  EXPECT_EQ(c.rotaryDim(), 12);
  EXPECT_EQ(c.rope_scaling.type, "longrope");
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 32);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);  // max_position_embeddings / original
  EXPECT_NEAR(*c.rope_scaling.attention_factor, std::sqrt(1 + std::log(4.0) / std::log(32.0)), 1e-15);
  json j = phi3Config();
  j["rope_scaling"]["type"] = "su";  // the older name
  EXPECT_EQ(parseConfig(j.dump()).rope_scaling.type, "longrope");
  j["rope_scaling"]["attention_factor"] = 1.25;
  EXPECT_EQ(*parseConfig(j.dump()).rope_scaling.attention_factor, 1.25);
  j = phi3Config();
  j.erase("rope_scaling");
  EXPECT_EQ(parseConfig(j.dump()).rope_scaling.type, "default");
}

TEST(Phi3Config, RefusesWhatItDoesNotImplement) {
  json j = phi3Config();
  j["rope_scaling"]["type"] = "dynamic";
  EXPECT_NE(configError(j).find("phi3 rope_scaling type 'dynamic'"), std::string::npos);
  j["rope_scaling"]["type"] = "yarn";  // transformers versions disagree on its attention factor
  EXPECT_NE(configError(j).find("phi3 rope_scaling type 'yarn'"), std::string::npos);
  j = phi3Config();
  j["rope_scaling"]["short_factor"] = {1.0, 1.0};
  EXPECT_NE(configError(j).find("'short_factor' must be a list of 6 numbers"), std::string::npos);
  j = phi3Config();
  j["rope_scaling"].erase("long_factor");
  EXPECT_NE(configError(j).find("needs 'long_factor'"), std::string::npos);
  j = phi3Config();
  j["rope_scaling"]["long_mscale"] = 1.2;
  EXPECT_NE(configError(j).find("key 'long_mscale'"), std::string::npos);
  j = phi3Config();
  j["rope_scaling"]["factor"] = 2.0;  // transformers versions disagree on which factor wins
  EXPECT_NE(configError(j).find("'factor'"), std::string::npos);
  j["rope_scaling"]["factor"] = 4.0;
  EXPECT_NO_THROW(parseConfig(j.dump()));
  j = phi3Config();
  j["head_dim"] = 32;
  EXPECT_NE(configError(j).find("'head_dim'"), std::string::npos);
  j = phi3Config();
  j["hidden_act"] = "gelu";
  EXPECT_NE(configError(j).find("hidden_act 'gelu'"), std::string::npos);
  j = phi3Config();
  j["partial_rotary_factor"] = 0.1;  // 1 dimension
  EXPECT_NE(configError(j).find("'partial_rotary_factor' gives 1 of 16"), std::string::npos);
}

TEST(ArchitectureFeatures, NameWhatTheConfigTurnsOn) {
  auto joined = [](const ModelConfig& c) {
    std::string all;
    for (const std::string& f : architectureFeatures(c)) all += f + "\n";
    return all;
  };
  json j = neoxConfig();
  const std::string neox = joined(parseConfig(j.dump()));
  EXPECT_NE(neox.find("partial rotary: first 4 of 16 head dims"), std::string::npos) << neox;
  EXPECT_NE(neox.find("parallel residual"), std::string::npos) << neox;
  EXPECT_NE(neox.find("gelu (exact, erf)"), std::string::npos) << neox;
  j["use_parallel_residual"] = false;
  EXPECT_NE(joined(parseConfig(j.dump())).find("sequential residual"), std::string::npos);
  const std::string phi3 = joined(parseConfig(phi3Config().dump()));
  EXPECT_NE(phi3.find("partial rotary: first 12 of 16"), std::string::npos) << phi3;
  EXPECT_NE(phi3.find("longrope: short factors up to 32 tokens"), std::string::npos) << phi3;
  EXPECT_STREQ(architectureName(Architecture::GptNeox), "GPT-NeoX");
}

// The fuzzer starts from these seeds (tests/fuzz/corpus): they must reach the new parsers' far ends.
TEST(FusedArchitectures, FuzzSeedsParse) {
  const char* source = std::getenv("ATTNSCOPE_SOURCE_DIR");
  ASSERT_NE(source, nullptr);
  auto seed = [&](const std::string& name) {
    std::ifstream in(std::string(source) + "/tests/fuzz/corpus/fuzz_config/" + name);
    return parseConfig(std::string(std::istreambuf_iterator<char>(in), {}));
  };
  ModelConfig neox = seed("gpt_neox");
  EXPECT_EQ(neox.arch, Architecture::GptNeox);
  EXPECT_FALSE(neox.parallel_residual);
  EXPECT_EQ(neox.rope_scaling.type, "dynamic");
  ModelConfig phi3 = seed("phi3-longrope");
  EXPECT_EQ(phi3.rope_scaling.type, "longrope");
  EXPECT_EQ(phi3.rotaryDim(), 12);
  EXPECT_EQ(phi3.sliding_window, 262144);
}

// Layer 0 sees the same embedding at every position of a repeated token: RoPE alone makes its queries and
// keys differ by position, and only in the rotated dimensions.
TEST(PartialRotary, LeavesTheOtherDimensionsPositionIndependent) {
  torch::NoGradGuard no_grad;
  for (const json& config : {neoxConfig(), phi3Config()}) {
    SCOPED_TRACE(config["model_type"].get<std::string>());
    torch::manual_seed(3);
    Model model(parseConfig(config.dump()));
    const int64_t rot = model.config().rotaryDim(), d = model.config().d_head;
    ASSERT_LT(rot, d);
    torch::Tensor q, k;
    HookHandle q_hook =
        model.hooks().add("blocks.0.attn.hook_q", [&](const HookEvent& e) { q = e.tensor.clone(); });
    HookHandle k_hook =
        model.hooks().add("blocks.0.attn.hook_k", [&](const HookEvent& e) { k = e.tensor.clone(); });
    model.forward(torch::full({1, 20}, 7, torch::kInt64), LogitPositions::none());
    for (const torch::Tensor& t : {q, k}) {  // [1, heads, 20, d]
      auto first = t.narrow(2, 0, 1);
      auto pass = (t - first).narrow(-1, rot, d - rot).abs().max().item<double>();
      auto rotated = (t - first).narrow(-1, 0, rot).abs().amax({0, 1, 3});  // [20] per position
      EXPECT_LT(pass, 1e-6);
      EXPECT_GT(rotated.narrow(0, 1, 19).min().item<double>(), 1e-3);  // every later position turned
    }
  }
}

// The reference cases hold one parallel and one sequential GPT-NeoX; each matches its own (test_model). Here:
// computing either with the other residual form gives clearly different logits.
TEST(GptNeoxResidual, ParallelAndSequentialDiffer) {
  torch::NoGradGuard no_grad;
  for (const char* name : {"gpt_neox_parallel", "gpt_neox_sequential_bf16"}) {
    SCOPED_TRACE(name);
    const std::string dir = referenceCase(name);
    ModelConfig config = loadConfig(dir);
    json j = json::parse(config.json);
    j["use_parallel_residual"] = !config.parallel_residual;
    SafetensorsFile reference(dir + "/reference.safetensors");
    auto ids = referenceTensor(reference, "input_ids").view({1, -1});
    auto expected = referenceTensor(reference, "softmax.logits");
    auto own = loadModel(dir, config, LoadOptions{ComputeDtype::Float32});
    auto swapped = loadModel(dir, parseConfig(j.dump()), LoadOptions{ComputeDtype::Float32});
    const double scale = expected.abs().max().item<double>();
    EXPECT_LT((own->forward(ids, LogitPositions::all())[0] - expected).abs().max().item<double>() / scale,
              1e-5);
    EXPECT_GT((swapped->forward(ids, LogitPositions::all())[0] - expected).abs().max().item<double>() / scale,
              1e-2);
  }
}

// HF picks longrope's factors once per forward from the sequence length (max position + 1) against
// original_max_position_embeddings: one token past it changes every position's rotation, one token short of
// it changes nothing.
TEST(Longrope, FactorsFollowTheSequenceLength) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(4);
  Model model(parseConfig(phi3Config().dump()));  // original context 32
  auto ids = torch::randint(0, 50, {1, 33}, torch::kInt64);
  auto patternsOf = [&](int64_t T) {
    torch::Tensor pattern;
    HookHandle hook = model.hooks().add("blocks.0.attn.hook_pattern",
                                        [&](const HookEvent& e) { pattern = e.tensor.clone(); });
    model.forward(ids.narrow(1, 0, T), LogitPositions::none());
    return pattern.narrow(2, 0, 31).narrow(3, 0, 31);  // the first 31 queries over their keys
  };
  auto p31 = patternsOf(31), p32 = patternsOf(32), p33 = patternsOf(33);
  EXPECT_LT((p32 - p31).abs().max().item<double>(), 1e-6);  // short factors both times
  EXPECT_GT((p33 - p32).abs().max().item<double>(), 1e-3);  // long factors for T = 33
  auto again = patternsOf(32);                              // and back (the cos/sin cache follows)
  EXPECT_LT((again - p32).abs().max().item<double>(), 1e-7);
}

TEST(FusedArchitectures, SlicedMlpEqualsWholePass) {
  torch::NoGradGuard no_grad;
  json sequential = neoxConfig();
  sequential["use_parallel_residual"] = false;
  for (const json& config : {neoxConfig(), sequential, phi3Config()}) {
    SCOPED_TRACE(config.dump());
    torch::manual_seed(5);
    Model model(parseConfig(config.dump()));
    auto ids = torch::randint(0, 50, {2, 150}, torch::kInt64);
    auto whole = model.forward(ids, LogitPositions::all());
    model.attentionOptions().max_mlp_bytes = 1;  // 64 positions per slice: 3 slices of 150
    auto sliced = model.forward(ids, LogitPositions::all());
    EXPECT_LT((whole - sliced).abs().max().item<double>(), 1e-5);
  }
}

TEST(FusedArchitectures, TrainGradientsReachEveryParameter) {
  json ssmax = phi3Config();
  ssmax["attention_normalizer"] = "ssmax";
  for (const json& config : {neoxConfig(), ssmax}) {
    SCOPED_TRACE(config["model_type"].get<std::string>());
    torch::manual_seed(6);
    Model model(parseConfig(config.dump()));
    if (model.config().ssmax_learned) model.setNormalizer(parseNormalizer("ssmax"));  // the learned s
    auto ids = torch::randint(0, 50, {2, 24}, torch::kInt64);
    auto logits = model.forward(ids.narrow(1, 0, 23), LogitPositions::all());
    auto loss =
        torch::nn::functional::cross_entropy(logits.reshape({-1, 50}), ids.narrow(1, 1, 23).reshape(-1));
    loss.backward();
    for (const auto& item : model.module().named_parameters()) {
      ASSERT_TRUE(item.value().grad().defined()) << item.key();
      EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key();
    }
  }
}

}  // namespace
}  // namespace attnscope
