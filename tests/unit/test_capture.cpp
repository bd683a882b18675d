// Streaming capture against the full in-memory attention: statistics and maps written block by block must
// equal those computed from whole [H, T, T] maps, for T not a multiple of the block, softmax and SSMax, GQA
// and windows.

#include <cmath>
#include <filesystem>
#include <map>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "attnscope/analysis.h"
#include "attnscope/capture.h"
#include "attnscope/model.h"
#include "attnscope/statistics.h"
#include "row_stats.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

const char* kGqaWindow = R"({"model_type": "mistral", "vocab_size": 60, "hidden_size": 32,
  "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "max_position_embeddings": 256, "sliding_window": 24})";
const char* kGqa = R"({"model_type": "llama", "vocab_size": 60, "hidden_size": 32, "intermediate_size": 48,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "max_position_embeddings": 256})";

/// Full [H, T, T] patterns of every layer from one unblocked forward pass.
std::vector<torch::Tensor> fullPatterns(Model& model, const std::vector<int64_t>& ids,
                                        const std::string& spec) {
  const int64_t T = static_cast<int64_t>(ids.size());
  std::vector<torch::Tensor> maps(model.config().n_layer);
  HookHandle hook = model.hooks().add("blocks.*.attn.hook_pattern", [&](const HookEvent& e) {
    maps[e.layer] = torch::zeros({e.tensor.size(1), T, T});
    maps[e.layer].slice(2, e.k0, e.k1).copy_(e.tensor[0]);
  });
  ForwardOptions pass;
  pass.normalizer = parseNormalizer(spec);
  pass.query_block = T;
  torch::NoGradGuard no_grad;
  model.forward(torch::tensor(ids, torch::kInt64).view({1, T}), pass);
  return maps;
}

torch::Tensor asTensor(const std::vector<float>& v, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}).clone();
}

/// Expects stored (float32) to equal reference (float64) within tol, with NaN in the same places.
void expectSameOrNan(const torch::Tensor& stored, const torch::Tensor& reference, double tol,
                     const char* what) {
  auto s = stored.to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(s.isnan(), reference.isnan())) << what << ": NaN in other places";
  auto both = ~(s.isnan() | reference.isnan());
  if (both.any().item<bool>()) {
    EXPECT_LT((s.masked_select(both) - reference.masked_select(both)).abs().max().item<double>(), tol)
        << what;
  }
}

/// Head-type statistics [H, T] of one layer from its full float64 map p [H, T, T], straight from their
/// definitions (statistics.h): key i−1; key j+1 for the latest j < i with ids[j] == ids[i]; keys i−W+1..i;
/// Σ_j p_j (i − j). NaN where the key does not exist or the query cannot see it (window > 0).
std::map<std::string, torch::Tensor> headTypesFromMap(const torch::Tensor& p, const std::vector<int64_t>& ids,
                                                      int64_t window, int64_t local_window) {
  const int64_t H = p.size(0), T = p.size(1);
  std::map<std::string, torch::Tensor> out;
  for (const char* name : {kStatPrevTokenMass, kStatInductionMass, kStatLocalMass, kStatMeanDistance})
    out[name] = torch::full({H, T}, NAN, torch::kFloat64);
  const auto visible = [&](int64_t i, int64_t key) { return key >= 0 && (window == 0 || i - key < window); };
  for (int64_t i = 0; i < T; ++i) {
    auto row = p.select(1, i);  // [H, T]
    if (visible(i, i - 1)) out[kStatPrevTokenMass].select(1, i).copy_(row.select(1, i - 1));
    int64_t j = i - 1;
    while (j >= 0 && ids[j] != ids[i]) --j;
    if (j >= 0 && visible(i, j + 1)) out[kStatInductionMass].select(1, i).copy_(row.select(1, j + 1));
    const int64_t lo = std::max<int64_t>(0, i - local_window + 1);
    out[kStatLocalMass].select(1, i).copy_(row.narrow(1, lo, i + 1 - lo).sum(1));
    auto distance = i - torch::arange(T, torch::kFloat64);
    out[kStatMeanDistance].select(1, i).copy_((row * distance).sum(1));
  }
  return out;
}

struct CaptureCase {
  const char* config;
  int64_t T, block;
};

class CaptureTest : public ::testing::TestWithParam<CaptureCase> {
 protected:
  void SetUp() override {
    path = fs::temp_directory_path() / ("attnscope_capture_" + std::to_string(::getpid()) + ".h5");
    fs::remove(path);
  }
  void TearDown() override { fs::remove(path); }
  fs::path path;
};

TEST_P(CaptureTest, StreamedStatisticsAndMapsEqualFullAttention) {
  const CaptureCase& c = GetParam();
  torch::manual_seed(3);
  Model model(parseConfig(c.config));
  // Quadratic residues repeat at many distances: induction keys near and far, inside and outside windows.
  std::vector<int64_t> ids(c.T);
  for (int64_t i = 0; i < c.T; ++i) ids[i] = (i * i + 3 * i + 11) % model.config().vocab_size;
  const int64_t H = model.config().n_head;

  CaptureRequest request;
  request.normalizers = {"softmax", "ssmax:s=0.45,b=0.05"};
  request.maps = "1.*,0.2";
  request.targets = "5:9," + std::to_string(c.T - 4) + ":" + std::to_string(c.T);
  request.topk = 3;
  request.local_window = 5;
  request.query_block = c.block;
  const CaptureModel weights{model.config().json, "memory", "0"};
  {
    auto file = CaptureFile::create(path.string(), weights, {ids, {}});
    EXPECT_EQ(captureRuns(model, ids, weights, *file, request), 2);
  }
  auto file = CaptureFile::open(path.string());
  ASSERT_EQ(file->runs().size(), 2u);
  const std::vector<MapRequest> maps = parseMapSpec(request.maps, model.config().n_layer, H);
  ASSERT_EQ(maps.size(), 2u);

  for (const std::string& spec : request.normalizers) {
    SCOPED_TRACE(spec);
    const std::string run = runNameFor(parseNormalizer(spec).text());
    EXPECT_TRUE(file->run(run).complete);
    EXPECT_EQ(file->run(run).local_window, 5);
    auto full = fullPatterns(model, ids, spec);
    for (int64_t layer = 0; layer < model.config().n_layer; ++layer) {
      const auto& p = full[layer];  // [H, T, T]
      auto stat = [&](const char* name) { return asTensor(file->readStat(run, name, layer), H, c.T); };
      auto [max_prob, argmax] = p.max(-1);
      EXPECT_LT((stat("max_prob") - max_prob).abs().max().item<double>(), 1e-6);
      // Ties aside, the argmax key is the same; compare the probabilities at both argmaxes instead of
      // indices.
      auto stored_argmax = stat("argmax").to(torch::kInt64);
      EXPECT_LT((p.gather(-1, stored_argmax.unsqueeze(-1)).squeeze(-1) - max_prob).abs().max().item<double>(),
                1e-6);
      auto entropy = -(p * torch::log(p.clamp_min(1e-30))).sum(-1);
      EXPECT_LT((stat("entropy") - entropy).abs().max().item<double>(), 1e-5);
      auto sink = p.select(-1, 0);
      EXPECT_LT((stat("sink_mass") - sink).abs().max().item<double>(), 1e-6);
      auto topk = std::get<0>(p.sort(-1, true)).narrow(-1, 0, 3).sum(-1);
      EXPECT_LT((stat("topk_mass") - topk).abs().max().item<double>(), 1e-6);
      auto target = p.narrow(-1, 5, 4).sum(-1) + p.narrow(-1, c.T - 4, 4).sum(-1);
      EXPECT_LT((stat("target_mass") - target).abs().max().item<double>(), 1e-6);
      auto n_keys = stat("n_keys");
      for (int64_t t = 0; t < c.T; ++t)
        EXPECT_EQ(n_keys[0][t].item<float>(), visibleKeys(t, model.config().windowOf(layer)));
      const auto types =
          headTypesFromMap(p.to(torch::kFloat64), ids, model.config().windowOf(layer), request.local_window);
      for (const auto& [name, reference] : types)
        expectSameOrNan(stat(name.c_str()), reference, name == kStatMeanDistance ? 2e-4 : 1e-6, name.c_str());
      // The prompt exercises every case: defined and undefined induction keys (no earlier occurrence, or one
      // beyond the window).
      const auto induction = types.at(kStatInductionMass);
      EXPECT_TRUE(induction.isnan().any().item<bool>());
      EXPECT_GT((~induction.isnan()).sum().item<int64_t>(), H * c.T / 4);

      for (const MapRequest& m : maps) {
        if (m.layer != layer) continue;
        for (int64_t head : m.heads) {
          auto level0 = asTensor(file->readMapTile(run, m.hook, head, 0, 0, c.T, 0, c.T), c.T, c.T);
          // fp16 storage: relative rounding 2^-11.
          EXPECT_LT((level0 - p[head]).abs().max().item<double>(), 5e-4) << m.hook << " head " << head;
          if (file->mapLevels(run, m.hook, head) > 1) {
            const int64_t side = (c.T + 1) / 2;
            auto level1 = asTensor(file->readMapTile(run, m.hook, head, 1, 0, side, 0, side), side, side);
            auto padded = torch::zeros({2 * side, 2 * side});
            padded.slice(0, 0, c.T).slice(1, 0, c.T).copy_(level0);
            auto pooled =
                torch::max_pool2d(padded.view({1, 1, 2 * side, 2 * side}), {2, 2}).view({side, side});
            EXPECT_TRUE(torch::equal(level1, pooled)) << "level 1 is not the 2x2 max-pool of level 0";
          }
        }
      }
    }
  }
  // The curves see every query exactly once per head.
  Curve curve = statCurve(*file, "softmax", "max_prob", -1, -1);
  int64_t counted = 0;
  for (const auto& point : curve.points) counted += point.count;
  EXPECT_EQ(counted, model.config().n_layer * H * c.T);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CaptureTest,
                         ::testing::Values(CaptureCase{kGqa, 301, 16}, CaptureCase{kGqaWindow, 300, 7},
                                           CaptureCase{kGqa, 45, 64}));

// Sharp rows (logits spread over tens of nats), hidden keys and ties: the one-pass statistics against the
// textbook formulas evaluated in float64.
TEST(RowStats, MatchTextbookFormulasOnSharpMaskedRows) {
  torch::manual_seed(11);
  const int64_t rows = 300, n = 517, k0 = 40, topk = 7;
  for (double scale : {0.1, 3.0, 30.0}) {
    SCOPED_TRACE(scale);
    auto y = torch::randn({rows, n}) * scale;
    auto hidden = torch::rand({rows, n}) < 0.3;
    hidden.select(1, 5).fill_(false);  // every row sees at least one key
    y.masked_fill_(hidden, -std::numeric_limits<float>::infinity());
    y[0].fill_(-std::numeric_limits<float>::infinity());
    y[0][9] = 2.f;     // a one-key row
    y[1].fill_(1.5f);  // a row of ties
    auto p = torch::softmax(y, -1);
    std::vector<std::pair<int64_t, int64_t>> targets = {{0, 45}, {100, 130}, {550, 600}};
    auto stats = torch::zeros({6, rows});
    float* s = stats.data_ptr<float>();
    RowStatsOutput out{s, s + rows, s + 2 * rows, s + 3 * rows, s + 4 * rows, s + 5 * rows};
    RowStatsParams params{k0, topk, &targets};
    computeRowStats(p.data_ptr<float>(), y.data_ptr<float>(), rows, n, params, out);

    auto pd = p.to(torch::kFloat64);
    auto [max_prob, argmax] = pd.max(-1);
    EXPECT_LT((stats[0].to(torch::kFloat64) - max_prob).abs().max().item<double>(), 1e-7);
    auto at_argmax = pd.gather(-1, (stats[1] - k0).to(torch::kInt64).unsqueeze(-1)).squeeze(-1);
    EXPECT_TRUE(torch::equal(at_argmax, max_prob));
    EXPECT_EQ(stats[1][1].item<float>(), k0);  // ties: the first key
    auto entropy = -torch::special::xlogy(pd, pd).sum(-1);
    EXPECT_LT((stats[2].to(torch::kFloat64) - entropy).abs().max().item<double>(), 1e-5);
    EXPECT_EQ(stats[2][0].item<float>(), 0.f);
    EXPECT_NEAR(stats[2][1].item<float>(), std::log(static_cast<double>(n)), 1e-5);
    EXPECT_TRUE(torch::equal(stats[3], torch::zeros({rows})));  // column 0 is key 40, not the first token
    auto top = std::get<0>(pd.topk(topk, -1)).sum(-1);
    EXPECT_LT((stats[4].to(torch::kFloat64) - top).abs().max().item<double>(), 1e-6);
    auto target = pd.narrow(1, 0, 5).sum(-1) + pd.narrow(1, 60, 30).sum(-1) + pd.narrow(1, 510, 7).sum(-1);
    EXPECT_LT((stats[5].to(torch::kFloat64) - target).abs().max().item<double>(), 1e-6);
  }
}

// The output head is a model's widest matrix: a capture must never compute [T, vocab] logits (40 GB for
// 65,536 tokens of a 151,936-token vocabulary), and `run` computes them at the last position only. Every head
// output passes unembed.hook_logits, so watching it (and every other hook's tensor) proves which positions
// were computed.
TEST_F(CaptureTest, NoWholeVocabularyLogits) {
  const char* config =
      R"({"model_type": "qwen2", "vocab_size": 1009, "hidden_size": 32, "intermediate_size": 48,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
    "tie_word_embeddings": true})";
  Model model(parseConfig(config));
  const int64_t T = 70, vocab = model.config().vocab_size;
  std::vector<int64_t> ids(T);
  for (int64_t i = 0; i < T; ++i) ids[i] = (i * 131 + 7) % vocab;
  std::vector<std::vector<int64_t>> head_shapes;
  int64_t vocab_wide = 0;
  HookHandle head_hook = model.hooks().add(
      kUnembedHook, [&](const HookEvent& e) { head_shapes.push_back(e.tensor.sizes().vec()); });
  HookHandle every_hook =
      model.hooks().add("*", [&](const HookEvent& e) { vocab_wide += e.tensor.size(-1) == vocab; });

  CaptureRequest request;
  request.normalizers = {"softmax", "ssmax:s=0.4"};
  request.maps = "all";
  const CaptureModel weights{model.config().json, "memory", "0"};
  {
    auto file = CaptureFile::create(path.string(), weights, {ids, {}});
    EXPECT_EQ(captureRuns(model, ids, weights, *file, request), 2);
  }
  EXPECT_TRUE(head_shapes.empty()) << "a capture ran the output head";
  EXPECT_EQ(vocab_wide, 0);

  torch::NoGradGuard no_grad;
  auto input = torch::tensor(ids, torch::kInt64).view({1, T});
  auto last = model.forward(input, LogitPositions::last());  // what `attnscope-cli run` asks for
  ASSERT_EQ(head_shapes.size(), 1u);
  EXPECT_EQ(head_shapes[0], (std::vector<int64_t>{1, 1, vocab}));
  auto all = model.forward(input, LogitPositions::all());
  EXPECT_TRUE(torch::allclose(last[0][0], all[0][T - 1], 1e-5, 1e-6));
  auto picked = model.forward(input, LogitPositions::at({3, -2}));
  EXPECT_EQ(picked.sizes(), (c10::IntArrayRef{1, 2, vocab}));
  EXPECT_TRUE(torch::allclose(picked[0][1], all[0][T - 2], 1e-5, 1e-6));
  EXPECT_FALSE(model.forward(input, LogitPositions::none()).defined());
  EXPECT_THROW(model.forward(input, LogitPositions::at({T})), std::invalid_argument);
}

TEST(CaptureSpecs, MapsAndTargets) {
  auto maps = parseMapSpec("3.1,3.*,scores:0.2", 4, 4);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].hook, "blocks.0.attn.hook_scores");
  EXPECT_EQ(maps[0].heads, std::vector<int64_t>({2}));
  EXPECT_EQ(maps[1].hook, "blocks.3.attn.hook_pattern");
  EXPECT_EQ(maps[1].heads.size(), 4u);
  EXPECT_EQ(parseMapSpec("all", 2, 3).size(), 2u);
  EXPECT_TRUE(parseMapSpec("none", 2, 3).empty());
  EXPECT_THROW(parseMapSpec("4.0", 4, 4), std::invalid_argument);
  EXPECT_THROW(parseMapSpec("1", 4, 4), std::invalid_argument);
  auto targets = parseTargetRanges("3:5,9", 10);
  EXPECT_EQ(targets, (std::vector<std::pair<int64_t, int64_t>>{{3, 5}, {9, 10}}));
  EXPECT_THROW(parseTargetRanges("5:3", 10), std::invalid_argument);
  EXPECT_THROW(parseTargetRanges("8:11", 10), std::invalid_argument);
  EXPECT_EQ(runNameFor("ssmax:s=0.1/0.2"), "ssmax:s=0.1|0.2");
}

}  // namespace
}  // namespace attnscope
