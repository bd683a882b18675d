// Position layouts and data options of the trainer: PoSE position ids cover the distances they promise, NoPE
// layers ignore position, distractors and the curriculum are what they say, and every option survives the
// trip through config.json into an ordinary model directory.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "attnscope/model.h"
#include "attnscope/train.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

/// A tiny Llama config; `extra` is merged into it.
std::string llamaConfig(const nlohmann::json& extra) {
  nlohmann::json j = {{"model_type", "llama"},    {"vocab_size", 64},
                      {"hidden_size", 32},        {"intermediate_size", 64},
                      {"num_hidden_layers", 2},   {"num_attention_heads", 4},
                      {"num_key_value_heads", 2}, {"max_position_embeddings", 64},
                      {"rms_norm_eps", 1e-5}};
  j.update(extra);
  return j.dump();
}

/// A small model's training params (2 heads, width 32) for tests that take a step or two.
TrainParams smallParams(int64_t n_layer, int64_t n_ctx) {
  TrainParams p = defaultTrainParams();
  p.n_layer = n_layer;
  p.n_head = 2;
  p.d_model = 32;
  p.d_ff = 64;
  p.n_ctx = n_ctx;
  p.checkpoint_every = 0;
  return p;
}

TEST(PosePositions, CoverEveryDistanceUpToTheirReach) {
  const int64_t T = 256, reach = 4096;
  std::mt19937_64 rng(11);
  std::vector<bool> seen(reach, false);
  for (int sequence = 0; sequence < 16 * 200; ++sequence) {  // 200 batches of 16
    const std::vector<int64_t> pos = drawPosePositions(T, reach, rng);
    ASSERT_EQ(static_cast<int64_t>(pos.size()), T);
    EXPECT_EQ(pos[0], 0);
    EXPECT_LT(pos.back(), reach);
    for (int64_t i = 1; i < T; ++i) ASSERT_GT(pos[i], pos[i - 1]) << "positions must increase";
    for (int64_t q = 0; q < T; ++q)
      for (int64_t k = 0; k <= q; ++k) seen[static_cast<std::size_t>(pos[q] - pos[k])] = true;
  }
  // The longest distances need the largest skips (reach - 1 only the largest of reach - T + 1): over 3,200
  // sequences each of the last 16 is missed with probability below 1e-5, so the check stops short of them.
  for (int64_t d = 0; d < reach - 16; ++d) EXPECT_TRUE(seen[static_cast<std::size_t>(d)]) << "distance " << d;
  EXPECT_THROW(drawPosePositions(300, 256, rng), std::invalid_argument);
  EXPECT_THROW(drawPosePositions(1, 256, rng), std::invalid_argument);
  // At the reach of the context itself PoSE is plain 0..T-1.
  const std::vector<int64_t> plain = drawPosePositions(8, 8, rng);
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(plain[static_cast<std::size_t>(i)], i);
}

TEST(NopeLayers, IgnorePositionWhileRopeLayersDoNot) {
  torch::manual_seed(3);
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 64, {2, 20}, torch::kInt64);
  auto shifted = (torch::arange(20, torch::kInt64) * 7 + 100).expand({2, 20}).contiguous();
  auto logitsWith = [&](Model& model, const torch::Tensor& positions) {
    ForwardOptions options;
    options.logits = LogitPositions::all();
    options.positions = positions;
    return model.forward(ids, options).logits;
  };
  Model nope(parseConfig(llamaConfig({{"no_rope_layers", {0, 0}}})));
  EXPECT_TRUE(torch::equal(logitsWith(nope, {}), logitsWith(nope, shifted)));
  Model hybrid(parseConfig(llamaConfig({{"no_rope_layers", {1, 0}}})));
  EXPECT_GT((logitsWith(hybrid, {}) - logitsWith(hybrid, shifted)).abs().max().item<double>(), 1e-3);
  // Explicit 0..T-1 equals leaving the positions out.
  auto plain = torch::arange(20, torch::kInt64);
  EXPECT_TRUE(torch::allclose(logitsWith(hybrid, {}), logitsWith(hybrid, plain), 1e-6, 1e-6));
  EXPECT_THROW(logitsWith(hybrid, torch::arange(19, torch::kInt64)), std::invalid_argument);
  EXPECT_THROW(logitsWith(hybrid, -plain), std::invalid_argument);
}

TEST(LayoutConfig, RefusesWhatItCannotHonour) {
  EXPECT_THROW(parseConfig(llamaConfig({{"no_rope_layers", {1}}})), ConfigError);
  EXPECT_THROW(parseConfig(llamaConfig({{"no_rope_layers", {1, 2}}})), ConfigError);
  EXPECT_THROW(parseConfig(llamaConfig({{"ssmax_layers", {0}}})), ConfigError);  // softmax model
  EXPECT_THROW(parseConfig(llamaConfig({{"attention_normalizer", "ssmax"}, {"ssmax_layers", {2}}})),
               ConfigError);
  EXPECT_THROW(parseConfig(llamaConfig({{"attention_normalizer", "ssmax"}, {"ssmax_layers", {1, 1}}})),
               ConfigError);
  EXPECT_THROW(parseConfig(R"({"model_type": "gpt2", "vocab_size": 10, "n_embd": 8, "n_layer": 1,
                               "n_head": 2, "n_positions": 16, "no_rope_layers": [0]})"),
               ConfigError);
  const ModelConfig c = parseConfig(llamaConfig({{"no_rope_layers", {1, 0}},
                                                 {"attention_normalizer", "ssmax"},
                                                 {"ssmax_layers", {1}},
                                                 {"sliding_window", 5},
                                                 {"layer_types", {"sliding_attention", "full_attention"}}}));
  EXPECT_TRUE(c.usesRope(0));
  EXPECT_FALSE(c.usesRope(1));
  EXPECT_FALSE(c.hasLearnedSsmax(0));
  EXPECT_TRUE(c.hasLearnedSsmax(1));
  EXPECT_EQ(c.windowOf(0), 5);
  EXPECT_EQ(c.windowOf(1), 0);
}

TEST(Distractors, SitInTheHaystackAndLeaveTheNeedleIntact) {
  std::string source;
  for (int i = 0; i < 400; ++i) source += "word" + std::to_string(i % 37) + (i % 9 ? " " : ".\n");
  const Needle needle{"Paris", "7654321"};
  const std::vector<std::pair<Needle, double>> others = {
      {{"Oslo", "1111111"}, 0.1}, {{"Lima", "2222222"}, 0.5}, {{"Rome", "3333333"}, 0.9}};
  const NeedlePrompt p = buildNeedlePrompt(source, 5, 1024, 0.5, needle, others);
  ASSERT_EQ(p.text.size(), 1024u);
  EXPECT_EQ(p.text.substr(p.needle_begin, p.needle_end - p.needle_begin), needleSentence(needle));
  EXPECT_EQ(p.text.substr(p.digits_begin, 7), "7654321");
  EXPECT_EQ(p.text.substr(p.text.size() - needleQuestion(needle).size()), needleQuestion(needle));
  int64_t previous = -1;
  for (const auto& [other, depth] : others) {
    const auto at = p.text.find(needleSentence(other));
    ASSERT_NE(at, std::string::npos) << other.city;
    EXPECT_EQ(p.text.find(needleSentence(other), at + 1), std::string::npos);
    EXPECT_GT(static_cast<int64_t>(at), previous) << "distractors in the order of their depths";
    previous = static_cast<int64_t>(at);
  }
  EXPECT_EQ(p.text.find(" magic Paris number is"), static_cast<std::size_t>(p.needle_begin) + 11);

  EXPECT_EQ(distractorCount(4, 1024), 4);
  EXPECT_EQ(distractorCount(4, 249), 1);
  EXPECT_EQ(distractorCount(0, 8192), 0);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 30; ++i) {
    const TrainSample s = drawTrainSample(source, 513, 1.0, rng, 8.0);  // 4 distractors in 505 bytes
    ASSERT_EQ(s.bytes.size(), 513u);
    // The city asked about has exactly one sentence in the haystack, holding the answer.
    const std::string question = "What is the special magic ";
    const auto asked = s.bytes.rfind(question) + question.size();
    const std::string city = s.bytes.substr(asked, s.bytes.find(" number?", asked) - asked);
    const std::string stated = "The special magic " + city + " number is: ";
    const auto needle = s.bytes.find(stated);
    ASSERT_NE(needle, std::string::npos);
    EXPECT_LT(needle, static_cast<std::size_t>(asked)) << "the needle sits before the question";
    EXPECT_EQ(s.bytes.substr(needle + stated.size(), 7), s.bytes.substr(s.answer_begin, 7));
    EXPECT_EQ(s.bytes.find(stated, needle + 1), s.bytes.rfind(stated)) << "one needle, then the answer";
    int sentences = 0;
    for (auto at = s.bytes.find("The special magic "); at != std::string::npos;
         at = s.bytes.find("The special magic ", at + 1))
      ++sentences;
    EXPECT_EQ(sentences, 1 + 4 + 1) << "needle, distractors, and the answer's own sentence";
  }
}

TEST(Curriculum, RampsTheDistractorRate) {
  TrainParams p = defaultTrainParams();
  p.distractors = 4;
  EXPECT_EQ(distractorRate(p, 0), 4);  // no curriculum: the full rate from the start
  p.curriculum_start = 100;
  p.curriculum_end = 300;
  EXPECT_EQ(distractorRate(p, 0), 0);
  EXPECT_EQ(distractorRate(p, 99), 0);
  EXPECT_DOUBLE_EQ(distractorRate(p, 200), 2);
  EXPECT_EQ(distractorRate(p, 300), 4);
  EXPECT_EQ(distractorRate(p, 5000), 4);
}

TEST(TrainLayouts, EveryOptionLoadsBackAsAnOrdinaryCheckpoint) {
  const fs::path root = fs::temp_directory_path() / ("attnscope_layouts_" + std::to_string(::getpid()));
  fs::create_directories(root / "corpus");
  {
    std::ofstream text(root / "corpus" / "alpha");
    for (int i = 0; i < 3000; ++i) text << "Some words of text number " << i % 97 << " go here.\n";
    std::ofstream(root / "corpus" / "zippy") << "Held-out text.\n";
  }
  TrainParams p = smallParams(4, 256);
  p.batch_size = 2;
  p.n_steps = 2;
  p.warmup_steps = 1;
  p.corpus = {(root / "corpus").string(), {"zippy"}};
  p.needle_share = 0.5;
  p.normalizer = "ssmax";
  p.ssmax_bias = true;
  p.ssmax_layers = {1, 3};
  p.nope_layers = {1, 3};
  p.window_layers = {0, 2};
  p.window = 16;
  p.qk_norm = true;
  p.pose_max = 1024;
  p.distractors = 4;
  p.bf16 = true;

  const ModelConfig c = parseConfig(trainConfigJson(p));
  EXPECT_EQ(c.model_type, "qwen3");
  EXPECT_EQ(c.qk_norm, QkNorm::PerHead);
  EXPECT_EQ(c.nope_layers, (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(c.sliding_layers, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(c.sliding_window, 16);
  EXPECT_EQ(c.ssmax_layers, (std::vector<bool>{false, true, false, true}));

  const TrainResult result = trainModel(p, (root / "model").string(), false);
  ASSERT_TRUE(result.finished);
  auto model = loadModel((root / "model").string());
  EXPECT_FALSE(model->ssmaxS(0).defined());
  EXPECT_TRUE(model->ssmaxS(1).defined() && model->ssmaxB(3).defined());
  std::set<std::string> names;
  for (const auto& item : model->module().named_parameters()) names.insert(item.key());
  EXPECT_EQ(names.count("model.layers.0.self_attn.ssmax_s"), 0u);
  EXPECT_EQ(names.count("model.layers.1.self_attn.q_norm.weight"), 1u);

  // A PoSE batch: [B, T] positions from the promised range, the first chunk starting at 0.
  Trainer trainer(p);
  const TrainBatch batch = trainer.nextBatch(loadCorpus(p.corpus).train_text);
  ASSERT_TRUE(batch.positions.defined());
  EXPECT_EQ(batch.positions.sizes(), (std::vector<int64_t>{2, 256}));
  EXPECT_EQ(batch.positions.select(1, 0).max().item<int64_t>(), 0);
  EXPECT_LT(batch.positions.max().item<int64_t>(), 1024);
  EXPECT_TRUE(std::isfinite(trainer.trainStep(batch)));

  p.ssmax_layers = {4};
  EXPECT_THROW(trainConfigJson(p), std::invalid_argument);
  p.ssmax_layers = {};
  p.pose_max = 100;  // below the context
  EXPECT_THROW(trainConfigJson(p), std::invalid_argument);
  fs::remove_all(root);
}

TEST(TrainLayouts, InitFromAddsTheSsmaxBiasAtZero) {
  const fs::path root = fs::temp_directory_path() / ("attnscope_addbias_" + std::to_string(::getpid()));
  TrainParams p = smallParams(2, 32);
  p.needle_share = 0;
  p.normalizer = "ssmax";
  Trainer first(p);
  auto ids = torch::randint(0, 256, {2, 33}, torch::kInt64);
  first.trainStep(ids);
  saveModel(first.model(), (root / "s-only").string());

  TrainParams next = p;
  next.ssmax_bias = true;
  next.init_from = (root / "s-only").string();
  Trainer continued(next);
  for (int64_t l = 0; l < 2; ++l) {
    EXPECT_TRUE(torch::equal(continued.model().ssmaxS(l), first.model().ssmaxS(l)));
    EXPECT_TRUE(torch::equal(continued.model().ssmaxB(l), torch::zeros({2})));
  }
  torch::NoGradGuard no_grad;
  auto x = ids.narrow(1, 0, 32);
  EXPECT_TRUE(torch::allclose(continued.model().forward(x, LogitPositions::all()),
                              first.model().forward(x, LogitPositions::all()), 1e-6, 1e-6));
  // Anything else that differs is still refused.
  next.n_head = 4;
  EXPECT_THROW(Trainer{next}, std::runtime_error);
  fs::remove_all(root);
}

}  // namespace
}  // namespace attnscope
