// runSweep on random-weight checkpoints with real vocabularies (GPT-2's BPE, Llama 3's tokenizer.json with
// BOS): every record of the grid written, the needle's token range decoding to the needle sentence, the
// needle score equal to the attention a plain forward pass shows, statistics binned from the same rows a
// capture stores, documents' losses equal to Model::tokenLosses, and request errors before any file exists.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "attnscope/capture_request.h"
#include "attnscope/model.h"
#include "attnscope/statistics.h"
#include "attnscope/store.h"
#include "attnscope/sweep_file.h"
#include "attnscope/sweep_request.h"
#include "attnscope/tokenizer.h"
#include "attnscope/train_data.h"
#include "sweep_prompts.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

// Small shapes, real vocabulary sizes (GPT-2 50,257; Llama 3 128,256 and its BOS 128000).
const char* kGpt2 = R"({"model_type": "gpt2", "vocab_size": 50257, "n_embd": 32, "n_layer": 2, "n_head": 2,
  "n_positions": 160})";
const char* kLlama3 =
    R"({"model_type": "llama", "vocab_size": 128256, "hidden_size": 32, "intermediate_size": 48,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
  "bos_token_id": 128000})";

class SweepRunnerTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    root = fs::temp_directory_path() / ("attnscope_sweep_runner_" + std::to_string(::getpid()));
    fs::create_directories(root);
    const char* data = std::getenv("ATTNSCOPE_TOKENIZER_DATA");
    if (!data) return;
    const fs::path vocab = fs::path(data) / "models";
    torch::manual_seed(3);
    saveModel(*std::make_unique<Model>(parseConfig(kGpt2)), (root / "gpt2").string());
    for (const char* f : {"vocab.json", "merges.txt"}) fs::copy_file(vocab / "gpt2" / f, root / "gpt2" / f);
    saveModel(*std::make_unique<Model>(parseConfig(kLlama3)), (root / "llama3").string());
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(vocab / "llama3-bos" / f, root / "llama3" / f);
    // A small haystack in a file of its own (--haystack FILE).
    std::string text;
    for (int i = 0; i < 200; ++i)
      text += "Line " + std::to_string(i) +
              ": the cat sat on the mat, and \xe2\x80\x9cnothing\xe2\x80\x9d moved.\n";
    std::ofstream(root / "hay.txt") << text;
  }
  static void TearDownTestSuite() { fs::remove_all(root); }

  void SetUp() override {
    if (!std::getenv("ATTNSCOPE_TOKENIZER_DATA"))
      GTEST_SKIP() << "ATTNSCOPE_TOKENIZER_DATA not set (run tests/tokenizer/setup.sh)";
  }

  static SweepRequest needleRequest(const std::string& model, const std::string& out) {
    SweepRequest r;
    r.model_dir = (root / model).string();
    r.normalizers = {"softmax", "ssmax:s=0.4"};
    r.lengths = {64, 120};
    r.depths = {0.0, 0.5, 1.0};
    r.prompts_per_cell = 2;
    r.distractors = 10;
    r.haystack = (root / "hay.txt").string();
    r.out = (root / out).string();
    return r;
  }

  /// Checks every record of a needle sweep against the model run without the sweep.
  static void checkNeedleSweep(const std::string& model_name) {
    const SweepRequest request = needleRequest(model_name, model_name + "-needle.h5");
    std::vector<SweepProgress> steps;
    const SweepResult result = runSweep(request, [&](const SweepProgress& p) { steps.push_back(p); });
    ASSERT_EQ(result.n_written, 2 * 3 * 2 * 2);
    ASSERT_EQ(steps.size(), 24u);
    EXPECT_EQ(steps.back().done, 24);
    EXPECT_GE(steps.back().eta_seconds, 0);
    const auto reader = SweepReader::open(request.out);
    const SweepGrid& grid = reader->header().grid;
    EXPECT_EQ(grid.normalizers, request.normalizers);

    const auto tokenizer = loadTokenizer(request.model_dir);
    const std::string text = loadHaystack(request.haystack).text;
    const SweepPromptBuilder builder(*tokenizer, text);
    auto model = loadModel(request.model_dir);
    const int64_t L = model->config().n_layer, H = model->config().n_head;
    for (int64_t k = 0; k < 2; ++k) {
      const std::vector<SweepRecord> records = reader->records(k);
      ASSERT_EQ(records.size(), 12u);
      for (const SweepRecord& r : records) {
        const SweepPrompt prompt =
            builder.needle(r.length, r.depth, grid.seed, r.prompt_index, grid.distractors);
        ASSERT_EQ(static_cast<int64_t>(prompt.ids.size()), r.length);
        EXPECT_EQ(r.needle_begin, prompt.needle_begin);
        EXPECT_EQ(r.needle_end, prompt.needle_end);
        const std::vector<int64_t> needle(prompt.ids.begin() + r.needle_begin,
                                          prompt.ids.begin() + r.needle_end);
        std::string decoded = tokenizer->decode(needle);
        if (!decoded.empty() && decoded[0] == ' ') decoded.erase(0, 1);
        EXPECT_EQ(decoded, prompt.sentence) << model_name << " cell " << r.cell;
        EXPECT_EQ(r.answer, prompt.answer);
        EXPECT_EQ(r.correct, r.generated.rfind(r.answer, 0) == 0);
        // The needle score: the last prompt position's attention on the needle, from a plain forward pass.
        std::vector<double> expected(L * H, 0.0);
        HookHandle hook = model->hooks().add("blocks.*.attn.hook_pattern", [&](const HookEvent& e) {
          const int64_t q = r.length - 1;
          if (q < e.q0 || q >= e.q1) return;
          const int64_t lo = std::max(r.needle_begin, e.k0), hi = std::min(r.needle_end, e.k1);
          if (lo >= hi) return;
          auto mass = e.tensor[0].select(1, q - e.q0).narrow(-1, lo - e.k0, hi - lo).sum(-1);  // [H]
          for (int64_t h = 0; h < H; ++h) expected[e.layer * H + h] += mass[h].item<double>();
        });
        ForwardOptions options;
        options.normalizer = parseNormalizer(grid.normalizers[k]);
        torch::NoGradGuard no_grad;
        model->forward(torch::tensor(prompt.ids).view({1, -1}), options);
        ASSERT_EQ(r.needle_scores.size(), static_cast<std::size_t>(L * H));
        for (int64_t i = 0; i < L * H; ++i) EXPECT_NEAR(r.needle_scores[i], expected[i], 1e-5);
        // Every prompt query is counted once per layer, in the bin of its n.
        const int64_t n_bins = static_cast<int64_t>(r.stat_counts.size()) / L;
        for (int64_t l = 0; l < L; ++l)
          EXPECT_EQ(std::accumulate(r.stat_counts.begin() + l * n_bins,
                                    r.stat_counts.begin() + (l + 1) * n_bins, int64_t{0}),
                    r.length);
      }
    }
  }

  static fs::path root;
};

fs::path SweepRunnerTest::root;

TEST_F(SweepRunnerTest, NeedleSweepOnGpt2Vocabulary) {
  checkNeedleSweep("gpt2");
}

TEST_F(SweepRunnerTest, NeedleSweepOnLlama3Vocabulary) {
  checkNeedleSweep("llama3");
  const auto tokenizer = loadTokenizer((root / "llama3").string());
  const std::string text = loadHaystack((root / "hay.txt").string()).text;
  EXPECT_EQ(SweepPromptBuilder(*tokenizer, text).needle(64, 0.5, 1234, 0, 0).ids[0], 128000) << "BOS first";
}

TEST_F(SweepRunnerTest, BinnedStatisticsAreTheCapturesRows) {
  SweepRequest request = needleRequest("llama3", "binned.h5");
  request.normalizers = {"ssmax:s=0.4"};
  request.lengths = {100};
  request.depths = {0.5};
  request.prompts_per_cell = 1;
  runSweep(request);
  const auto reader = SweepReader::open(request.out);
  const SweepGrid& grid = reader->header().grid;
  const SweepRecord r = reader->records(0).at(0);
  // Capture the same prompt and bin its stored per-query statistics by n.
  const auto tokenizer = loadTokenizer(request.model_dir);
  const std::string text = loadHaystack(request.haystack).text;
  const SweepPrompt prompt =
      SweepPromptBuilder(*tokenizer, text).needle(100, 0.5, grid.seed, 0, grid.distractors);
  CaptureRequest capture;
  capture.model_dir = request.model_dir;
  capture.prompt.ids = prompt.ids;
  capture.normalizers = request.normalizers;
  capture.out = (root / "binned-capture.h5").string();
  runCapture(capture);
  const auto file = CaptureFile::open(capture.out);
  const int64_t L = 2, H = 4, n_bins = sweepBinCount(100, grid.bins_per_octave);
  ASSERT_EQ(r.stat_sums.size(), grid.stats.size() * L * H * n_bins);
  for (std::size_t s = 0; s < grid.stats.size(); ++s) {
    ASSERT_TRUE(findStatistic(grid.stats[s])->per_context);
    for (int64_t l = 0; l < L; ++l) {
      const std::vector<float> values = file->readStat("ssmax:s=0.4", grid.stats[s], l);  // [H, T]
      for (int64_t h = 0; h < H; ++h) {
        std::vector<double> bins(n_bins, 0.0);
        for (int64_t q = 0; q < 100; ++q)
          bins[sweepBinOf(q + 1, grid.bins_per_octave)] += values[h * 100 + q];
        for (int64_t b = 0; b < n_bins; ++b)
          EXPECT_NEAR(r.stat_sums[((s * L + l) * H + h) * n_bins + b], bins[b],
                      1e-4 * (1 + std::abs(bins[b])))
              << grid.stats[s] << " layer " << l << " head " << h << " bin " << b;
      }
    }
  }
}

TEST_F(SweepRunnerTest, DocumentLossesAreTokenLosses) {
  SweepRequest request = needleRequest("llama3", "documents.h5");
  request.mode = SweepMode::Documents;
  request.normalizers = {"softmax"};
  request.distractors = 0;
  request.lengths = {40, 100};
  const SweepResult result = runSweep(request);
  EXPECT_EQ(result.n_written, 2 * 2);  // depths are not a documents axis
  const auto reader = SweepReader::open(request.out);
  const SweepGrid& grid = reader->header().grid;
  EXPECT_EQ(grid.depths, std::vector<double>{0.0});
  const auto tokenizer = loadTokenizer(request.model_dir);
  const std::string text = loadHaystack(request.haystack).text;
  auto model = loadModel(request.model_dir);
  for (const SweepRecord& r : reader->records(0)) {
    const SweepPrompt doc =
        SweepPromptBuilder(*tokenizer, text).document(r.length, grid.seed, r.prompt_index);
    torch::NoGradGuard no_grad;
    auto losses = model->tokenLosses(torch::tensor(doc.ids).view({1, -1}))[0].to(torch::kFloat64);
    ASSERT_EQ(r.loss_sums.size() + 1, grid.loss_edges.size());
    for (std::size_t b = 0; b + 1 < grid.loss_edges.size(); ++b) {
      const int64_t lo = std::min(grid.loss_edges[b], r.length),
                    hi = std::min(grid.loss_edges[b + 1], r.length);
      EXPECT_EQ(r.loss_counts[b], hi - lo);
      EXPECT_NEAR(r.loss_sums[b], hi > lo ? losses.slice(0, lo, hi).sum().item<double>() : 0.0, 1e-6);
    }
  }
}

TEST_F(SweepRunnerTest, RequestErrorsComeBeforeTheFile) {
  // Each case changes one field of a good request; the error names it and no file appears.
  const std::vector<std::pair<std::function<void(SweepRequest&)>, std::string>> cases = {
      {[](SweepRequest& x) { x.lengths = {20}; }, "cannot hold the needle"},
      {[](SweepRequest& x) { x.lengths = {200}; }, "exceed the gpt2 model's 160 learned positions"},
      {[](SweepRequest& x) {
         x.normalizers = {"softmax", "softmax"};
       },
       "given twice"},
      {[](SweepRequest& x) { x.normalizers = {"ssmax"}; }, "no learned SSMax"},
      {[](SweepRequest& x) { x.depths = {1.5}; }, "depths"},
      {[](SweepRequest& x) { x.haystack = (root / "none.txt").string(); }, "does not exist"},
      {[](SweepRequest& x) {
         x.shard = {3, 3};
       },
       "shard"},
  };
  for (const auto& [change, message] : cases) {
    SweepRequest r = needleRequest("gpt2", "refused.h5");
    change(r);
    try {
      runSweep(r);
      ADD_FAILURE() << "accepted; expected: " << message;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(r.out)) << message;
  }
}

}  // namespace
}  // namespace attnscope
