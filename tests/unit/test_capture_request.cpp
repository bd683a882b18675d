// One capture request, one runner: runCapture on saved model directories writes named runs and runs of other
// weights, reports progress, stops on cancel, and checks every field before the file exists — its errors name
// request fields, never a front end's flags. captureRuns leaves the model as it found it.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "attnscope/capture.h"
#include "attnscope/capture_request.h"
#include "attnscope/model.h"
#include "attnscope/prompt.h"
#include "attnscope/statistics.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const char* kConfig = R"({"model_type": "llama", "vocab_size": 40, "hidden_size": 32, "intermediate_size": 48,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64})";

class RunCaptureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root = fs::temp_directory_path() / ("attnscope_capture_request_" + std::to_string(::getpid()));
    fs::create_directories(root);
    for (int seed : {1, 2}) {  // the same architecture and vocabulary, different weights
      torch::manual_seed(seed);
      Model model(parseConfig(kConfig));
      saveModel(model, (root / ("model" + std::to_string(seed))).string());
    }
  }
  static void TearDownTestSuite() { fs::remove_all(root); }
  void SetUp() override { fs::remove(out()); }

  static std::string modelDir(int seed) { return (root / ("model" + std::to_string(seed))).string(); }
  static std::string out() { return (root / "capture.h5").string(); }

  static CaptureRequest request() {
    CaptureRequest r;
    r.model_dir = modelDir(1);
    r.prompt.ids = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4};
    r.normalizers = {"softmax", "ssmax:s=0.5"};
    r.run_names = {"plain", "sharp"};
    r.maps = "1.0,scores:0.3";
    r.targets = "2:4";
    r.query_block = 6;
    r.out = out();
    return r;
  }

  static fs::path root;
};

fs::path RunCaptureTest::root;

TEST_F(RunCaptureTest, WritesNamedRunsAndRunsOfOtherWeights) {
  std::vector<CaptureProgress> steps;
  CaptureResult result = runCapture(request(), [&](const CaptureProgress& p) { steps.push_back(p); });
  EXPECT_EQ(result.path, out());
  EXPECT_EQ(result.n_completed, 2);
  EXPECT_EQ(result.n_requested, 2);
  EXPECT_EQ(result.n_tokens, 20);
  EXPECT_EQ(result.n_head_maps, 2);
  EXPECT_FALSE(result.cancelled);
  ASSERT_EQ(steps.size(), 1u + 2u * 2u);  // loading, then each layer of each run
  EXPECT_TRUE(steps[0].loading);
  EXPECT_EQ(steps[0].n_run, 2);
  EXPECT_EQ(steps[0].fraction(), 0.0);
  for (std::size_t i = 1; i < steps.size(); ++i) {
    EXPECT_FALSE(steps[i].loading);
    EXPECT_EQ(steps[i].run, static_cast<int64_t>((i - 1) / 2));
    EXPECT_EQ(steps[i].layer, static_cast<int64_t>((i - 1) % 2 + 1));
    EXPECT_EQ(steps[i].n_layer, 2);
    EXPECT_EQ(steps[i].normalizer, request().normalizers[steps[i].run]);
    EXPECT_GT(steps[i].fraction(), steps[i - 1].fraction());
  }
  EXPECT_EQ(steps.back().fraction(), 1.0);

  // The same tokens through other weights, appended to the first model's file.
  CaptureRequest other = request();
  other.model_dir = modelDir(2);
  other.normalizers = {"logn:L=8"};
  other.run_names = {"other"};
  other.other_weights = true;
  result = runCapture(other);
  EXPECT_EQ(result.n_completed, 1);

  auto file = CaptureFile::open(out());
  EXPECT_EQ(file->model().path, modelDir(1));
  std::vector<std::string> names;
  for (const RunInfo& run : file->runs()) names.push_back(run.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"other", "plain", "sharp"}));
  const RunInfo plain = file->run("plain"), sharp = file->run("sharp"), theirs = file->run("other");
  EXPECT_TRUE(plain.complete && sharp.complete && theirs.complete);
  EXPECT_EQ(plain.normalizer, "softmax");
  EXPECT_EQ(sharp.normalizer, "ssmax:s=0.5");
  EXPECT_EQ(theirs.normalizer, "logn:L=8");
  EXPECT_FALSE(plain.model.has_value());
  ASSERT_TRUE(theirs.model.has_value());
  EXPECT_EQ(theirs.model->path, modelDir(2));
  EXPECT_NE(theirs.model->weights_hash, file->model().weights_hash);
  EXPECT_EQ(plain.targets, (std::vector<std::pair<int64_t, int64_t>>{{2, 4}}));
  EXPECT_EQ(plain.maps.size(), 2u);
  EXPECT_EQ(file->mapLevels("sharp", "blocks.0.attn.hook_scores", 3), 1);

  // Other weights without --other-weights are refused, and the file keeps its three runs.
  other.other_weights = false;
  other.run_names = {"refused"};
  EXPECT_THROW(runCapture(other), StoreError);
  EXPECT_EQ(CaptureFile::open(out())->runs().size(), 3u);
}

TEST_F(RunCaptureTest, FieldErrorsNameTheFieldAndWriteNothing) {
  struct Case {
    const char* what;  // the message, from its start
    CaptureField field;
    std::function<void(CaptureRequest&)> change;
  };
  const Case cases[] = {
      {"maps '9.0': layer '9' is not in 0..1", CaptureField::Maps, [](CaptureRequest& r) { r.maps = "9.0"; }},
      {"maps '1.x': head 'x' is not in 0..3", CaptureField::Maps, [](CaptureRequest& r) { r.maps = "1.x"; }},
      {"targets '5:99' is not a token range BEGIN:END within 0..20", CaptureField::Targets,
       [](CaptureRequest& r) { r.targets = "5:99"; }},
      {"run_names has 1 name(s) for 2 normalizer(s)", CaptureField::RunNames,
       [](CaptureRequest& r) { r.run_names = {"one"}; }},
      {"run_names would make two runs named 'same'", CaptureField::RunNames,
       [](CaptureRequest& r) {
         r.run_names = {"same", "same"};
       }},
      {"normalizers would make two runs named 'softmax'", CaptureField::Normalizers,
       [](CaptureRequest& r) {
         r.normalizers = {"softmax", "softmax"};
         r.run_names.clear();
       }},
      {"normalizers must hold at least one", CaptureField::Normalizers,
       [](CaptureRequest& r) {
         r.normalizers.clear();
         r.run_names.clear();
       }},
      {"topk must be at least 1 (is 0)", CaptureField::Topk, [](CaptureRequest& r) { r.topk = 0; }},
      {"local_window must be in 1..16777216 (is 0)", CaptureField::LocalWindow,
       [](CaptureRequest& r) { r.local_window = 0; }},
      {"query_block must not be negative (is -2)", CaptureField::QueryBlock,
       [](CaptureRequest& r) { r.query_block = -2; }},
      {"out must name a capture file", CaptureField::Out, [](CaptureRequest& r) { r.out.clear(); }},
      {"model_dir must name a model directory", CaptureField::ModelDir,
       [](CaptureRequest& r) { r.model_dir.clear(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    CaptureRequest r = request();
    c.change(r);
    try {
      runCapture(r);
      ADD_FAILURE() << "no error";
    } catch (const CaptureRequestError& e) {
      EXPECT_EQ(e.field(), c.field);
      EXPECT_EQ(std::string(e.what()).rfind(c.what, 0), 0u) << e.what();
      EXPECT_EQ(std::string(e.what()), std::string(captureFieldName(c.field)) + " " + e.detail());
      EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << "a flag in " << e.what();
    }
    EXPECT_FALSE(fs::exists(out()));
  }
  // Normalizer specs keep the normalizer grammar's own errors; they too come before the file.
  CaptureRequest r = request();
  r.normalizers = {"softmax", "ssmax:s=abc"};
  EXPECT_THROW(runCapture(r), std::invalid_argument);
  r.normalizers = {"softmax", "ssmax"};  // no learned s in these models
  EXPECT_THROW(runCapture(r), std::invalid_argument);
  EXPECT_FALSE(fs::exists(out()));
}

TEST_F(RunCaptureTest, CancelStopsBeforeTheFileOrAfterALayer) {
  CaptureResult result = runCapture(request(), {}, [] { return true; });
  EXPECT_TRUE(result.cancelled);
  EXPECT_TRUE(result.path.empty());
  EXPECT_EQ(result.n_completed, 0);
  EXPECT_FALSE(fs::exists(out()));

  int layers_done = 0;
  result = runCapture(
      request(), [&](const CaptureProgress& p) { layers_done += !p.loading; },
      [&] { return layers_done > 0; });
  EXPECT_EQ(layers_done, 1);  // the pass stopped after the layer that saw the cancel; no second run began
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(result.path, out());
  EXPECT_EQ(result.n_completed, 0);
  auto file = CaptureFile::open(out());
  ASSERT_EQ(file->runs().size(), 1u);
  EXPECT_EQ(file->runs()[0].name, "plain");
  EXPECT_FALSE(file->runs()[0].complete);
}

TEST_F(RunCaptureTest, CancelIsAskedEveryQueryBlockAndStopsInsideALayer) {
  // 20 tokens in blocks of 6: four blocks per layer, and the predicate is asked after each of them, so a
  // cancel takes effect within a block (a fraction of a second), not at the end of a layer (seconds on a long
  // prompt).
  int asked = 0, layers_done = 0;
  CaptureResult result = runCapture(
      request(), [&](const CaptureProgress& p) { layers_done += !p.loading; },
      [&] { return ++asked >= 3; });  // asked once before the file, then after blocks 1 and 2 of layer 0
  EXPECT_EQ(asked, 3);
  EXPECT_EQ(layers_done, 0);  // layer 0 never finished
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(result.n_completed, 0);
  auto file = CaptureFile::open(out());
  ASSERT_EQ(file->runs().size(), 1u);
  EXPECT_FALSE(file->runs()[0].complete);
}

TEST_F(RunCaptureTest, DefaultRunNamesAreRoundedAndTheNormalizerKeepsTheExactValue) {
  auto model = loadModel(modelDir(1));
  CaptureRequest r = request();
  r.run_names.clear();
  r.normalizers = {"softmax", "ssmax:ctx=256", "ssmax:s=0.18033688011112042", "ssmax:s=0.1803"};
  const std::vector<RunSpec> runs = planCaptureRuns(r, model->config(), 20);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].name, "softmax");
  EXPECT_EQ(runs[1].name, "ssmax:ctx=256");
  EXPECT_EQ(runs[1].normalizer.rfind("ssmax:s=0.18033688", 0), 0u);  // the file records s itself
  EXPECT_EQ(runs[2].name, "ssmax:s=0.18");
  EXPECT_EQ(runs[2].normalizer, "ssmax:s=0.18033688011112042");
  EXPECT_EQ(runs[3].name, "ssmax:s=0.1803");  // rounded, it would repeat the name before it
  EXPECT_EQ(parseNormalizer("ssmax:s=0.123456/2.5,b=0.0004567").label(), "ssmax:s=0.123/2.5,b=0.000457");
  EXPECT_EQ(parseNormalizer("temperature:floor=8192,scale=0.123456").label(),
            "temperature:floor=8192,scale=0.123");
}

TEST_F(RunCaptureTest, PlanRecordsEachRunAsTheFileWill) {
  auto model = loadModel(modelDir(1));
  const std::vector<RunSpec> runs = planCaptureRuns(request(), model->config(), 20);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].name, "plain");
  EXPECT_EQ(runs[1].name, "sharp");
  EXPECT_EQ(runs[1].normalizer, "ssmax:s=0.5");
  for (const RunSpec& run : runs) {
    EXPECT_EQ(run.stats, capturedStatistics(true));
    EXPECT_EQ(run.n_layer, 2);
    EXPECT_EQ(run.n_head, 4);
    EXPECT_EQ(run.n_tokens, 20);
    EXPECT_EQ(run.topk, 10);
    EXPECT_EQ(run.local_window, kDefaultLocalWindow);
    EXPECT_EQ(run.targets, (std::vector<std::pair<int64_t, int64_t>>{{2, 4}}));
    EXPECT_EQ(run.maps.size(), 2u);
    EXPECT_FALSE(run.model.has_value());
  }
  CaptureRequest unnamed = request();
  unnamed.run_names.clear();
  unnamed.normalizers = {"ssmax:s=0.1/0.2"};  // one value per layer: '/' may not name an HDF5 group
  EXPECT_EQ(planCaptureRuns(unnamed, model->config(), 20)[0].name, "ssmax:s=0.1|0.2");
}

// The induction preset: R random ids, repeated; drawn from config.json's vocabulary (these model directories
// have no tokenizer), the same for the same seed, and bad specs refused before the file exists.
TEST_F(RunCaptureTest, InductionPromptIsRandomTokensRepeated) {
  CaptureRequest r = request();
  r.prompt = {};
  r.prompt.induction = "30:5";
  r.targets.clear();
  r.local_window = 3;
  const CaptureResult result = runCapture(r);
  EXPECT_EQ(result.n_tokens, 60);
  auto file = CaptureFile::open(out());
  const std::vector<int64_t> ids = file->tokens().ids;
  EXPECT_EQ(ids, inductionPromptIds(30, 5, 40));
  EXPECT_EQ(file->run("plain").local_window, 3);
  // Every second-half query has an induction key; no first-half query does (30 distinct ids).
  const std::vector<float> induction = file->readStat("plain", kStatInductionMass, 1, 2);
  for (int64_t i = 0; i < 60; ++i) EXPECT_EQ(std::isnan(induction[i]), i < 30) << i;
  for (const char* bad : {"0", "x", "30:", "30:-1", "-5", ":3"}) {
    SCOPED_TRACE(bad);
    fs::remove(out());
    r.prompt.induction = bad;
    EXPECT_THROW(runCapture(r), std::invalid_argument);
    EXPECT_FALSE(fs::exists(out()));
  }
  r.prompt.induction = "30";
  r.prompt.text = "also text";
  EXPECT_THROW(runCapture(r), std::invalid_argument);
}

TEST(InductionPrompt, DistinctIdsThenTheSameAgain) {
  const std::vector<int64_t> ids = inductionPromptIds(50, 7, 256);
  ASSERT_EQ(ids.size(), 100u);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.begin() + 50).size(), 50u);
  EXPECT_TRUE(std::equal(ids.begin(), ids.begin() + 50, ids.begin() + 50));
  EXPECT_TRUE(std::all_of(ids.begin(), ids.end(), [](int64_t id) { return id >= 0 && id < 256; }));
  EXPECT_EQ(ids, inductionPromptIds(50, 7, 256));
  EXPECT_NE(ids, inductionPromptIds(50, 8, 256));
  const std::vector<int64_t> small = inductionPromptIds(20, 1, 5);  // more tokens than the vocabulary
  EXPECT_EQ(small.size(), 40u);
  EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](int64_t id) { return id >= 0 && id < 5; }));
  EXPECT_EQ(parseInductionPrompt("200"), (std::pair<int64_t, uint64_t>{200, 0}));
  EXPECT_EQ(parseInductionPrompt("200:3"), (std::pair<int64_t, uint64_t>{200, 3}));
  EXPECT_THROW(parseInductionPrompt(""), std::invalid_argument);
  EXPECT_THROW(parseInductionPrompt("99999999999999999999"), std::invalid_argument);
  EXPECT_THROW(inductionPromptIds(5, 0, 0), std::invalid_argument);
}

TEST_F(RunCaptureTest, CaptureRunsLeavesTheModelAsItWas) {
  auto model = loadModel(modelDir(1));
  model->setNormalizer(parseNormalizer("logn:L=4"));
  model->attentionOptions().query_block = 3;
  const CaptureRequest r = request();
  const CaptureModel weights = describeCheckpoint(*model, modelDir(1));
  auto file = CaptureFile::create(out(), weights, {r.prompt.ids, {}});
  EXPECT_EQ(captureRuns(*model, r.prompt.ids, weights, *file, r), 2);
  CaptureRequest cancelled = r;
  cancelled.run_names = {"plain2", "sharp2"};
  bool asked = false;
  auto cancel = [&] { return asked = true; };
  EXPECT_EQ(captureRuns(*model, r.prompt.ids, weights, *file, cancelled, {}, cancel), 0);
  EXPECT_TRUE(asked);
  EXPECT_EQ(model->normalizer().text(), "logn:L=4");
  EXPECT_EQ(model->attentionOptions().query_block, 3);
  EXPECT_TRUE(model->hooks().empty());
}

}  // namespace
}  // namespace attnscope
