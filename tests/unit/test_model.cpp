// Exactness against the independent PyTorch reference (tests/reference/make_reference.py, float64): attention
// probabilities within 1e-5 absolute, logits and scores within 1e-5 of their scale, for every case and
// normalizer, with query blocks that do not divide T.

#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "attnscope/model.h"
#include "attnscope/safetensors.h"

namespace attnscope {
namespace {

std::string referenceDir() {
  const char* data = std::getenv("ATTNSCOPE_TEST_DATA");
  return std::string(data ? data : "data") + "/reference";
}

torch::Tensor toTensor(const TensorView& view) {
  auto type = view.dtype == DType::I64 ? torch::kInt64 : torch::kFloat32;
  return torch::from_blob(const_cast<std::byte*>(view.data), view.shape, torch::TensorOptions().dtype(type)).clone();
}

/// Collects a hook's blocks into one [H, T, T] map (batch 0), filling uncovered keys with `fill`.
struct MapCollector {
  MapCollector(int64_t T, float fill) : T(T), fill(fill) {}
  int64_t T;
  float fill;
  std::map<int64_t, torch::Tensor> maps;  // layer → [H, T, T]
  int64_t blocks = 0;
  void operator()(const HookEvent& e) {
    auto& map = maps[e.layer];
    if (!map.defined()) map = torch::full({e.tensor.size(1), T, T}, fill);
    map.slice(1, e.q0, e.q1).slice(2, e.k0, e.k1).copy_(e.tensor[0]);
    ++blocks;
  }
};

double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  // -inf entries (masked scores) must agree exactly; compare the finite rest numerically.
  auto finite = torch::isfinite(b);
  EXPECT_TRUE(torch::equal(torch::isfinite(a), finite)) << "masked entries differ";
  return (a.masked_select(finite) - b.masked_select(finite)).abs().max().item<double>();
}

/// Error relative to the reference's scale: logits of magnitude ~10 carry fp32 rounding of ~1e-5 absolute
/// after a few layers, so unbounded quantities are compared as max|a - b| / max(1, max|b|).
double maxScaledDiff(const torch::Tensor& a, const torch::Tensor& b) {
  auto finite = torch::isfinite(b);
  double scale = std::max(1.0, b.masked_select(finite).abs().max().item<double>());
  return maxAbsDiff(a, b) / scale;
}

struct Case {
  std::string name, dir;
  int64_t T;
  std::vector<std::pair<std::string, std::string>> runs;  // normalizer spec, reference prefix
};

std::vector<Case> loadCases() {
  std::ifstream in(referenceDir() + "/cases.json");
  if (!in) return {};
  auto j = nlohmann::json::parse(in);
  std::vector<Case> cases;
  for (const auto& c : j) {
    Case item{c["name"], c["dir"], c["T"], {}};
    for (const auto& r : c["runs"]) item.runs.emplace_back(r["normalizer"], r["prefix"]);
    cases.push_back(item);
  }
  return cases;
}

class ReferenceTest : public ::testing::TestWithParam<int64_t> {
 protected:
  static void TearDownTestSuite() {
    std::printf("worst errors vs reference: probabilities %.3g (abs), logits %.3g, scores %.3g (scaled)\n",
                worst_pattern, worst_logits, worst_scores);
  }
  static inline double worst_pattern = 0, worst_logits = 0, worst_scores = 0;
};

TEST(Reference, CasesExist) {
  auto cases = loadCases();
  ASSERT_GE(cases.size(), 10u) << "reference cases missing in " << referenceDir();
}

TEST_P(ReferenceTest, MatchesReference) {
  const int64_t query_block = GetParam();
  torch::NoGradGuard no_grad;
  for (const Case& c : loadCases()) {
    SCOPED_TRACE("case " + c.name);
    const std::string dir = referenceDir() + "/" + c.dir;
    auto model = loadModel(dir);
    model->attentionOptions().query_block = query_block;
    SafetensorsFile reference(dir + "/reference.safetensors");
    auto ids = toTensor(reference.at("input_ids")).view({1, -1});
    ASSERT_EQ(ids.size(1), c.T);
    for (const auto& [spec, prefix] : c.runs) {
      SCOPED_TRACE("normalizer " + spec);
      model->setNormalizer(parseNormalizer(spec));
      MapCollector patterns{c.T, 0.0f}, scores{c.T, -std::numeric_limits<float>::infinity()};
      model->hooks().clear();
      model->hooks().add("blocks.*.attn.hook_pattern", std::ref(patterns));
      model->hooks().add("blocks.*.attn.hook_scores", std::ref(scores));
      auto logits = model->forward(ids)[0];

      double logit_error = maxScaledDiff(logits, toTensor(reference.at(prefix + ".logits")));
      worst_logits = std::max(worst_logits, logit_error);
      EXPECT_LT(logit_error, 1e-5);
      ASSERT_EQ(static_cast<int64_t>(patterns.maps.size()), model->config().n_layer);
      for (const auto& [layer, map] : patterns.maps) {
        SCOPED_TRACE("layer " + std::to_string(layer));
        double pattern_error = maxAbsDiff(map, toTensor(reference.at(prefix + ".pattern." + std::to_string(layer))));
        worst_pattern = std::max(worst_pattern, pattern_error);
        EXPECT_LT(pattern_error, 1e-5);
        std::string score_name = prefix + ".scores." + std::to_string(layer);
        if (reference.contains(score_name)) {
          double score_error = maxScaledDiff(scores.maps.at(layer), toTensor(reference.at(score_name)));
          worst_scores = std::max(worst_scores, score_error);
          EXPECT_LT(score_error, 1e-5);
        }
      }
      if (query_block > 0) {  // 0 is the automatic block: no count to expect (and no division by zero)
        const int64_t expected_blocks = (c.T + query_block - 1) / query_block;
        EXPECT_EQ(patterns.blocks, expected_blocks * model->config().n_layer);
      }
    }
  }
}

// 0: the automatic block (whole sequence at these sizes); 16 and 7: blocks that do not divide T.
INSTANTIATE_TEST_SUITE_P(QueryBlocks, ReferenceTest, ::testing::Values(0, 16, 7));

}  // namespace
}  // namespace attnscope
