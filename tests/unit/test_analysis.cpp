// Curves and theory: binning by context size, the paper's Figure 1 closed forms, Monte Carlo maxima; the
// per-head summaries every view shows.

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include <gtest/gtest.h>

#include "attnscope/analysis.h"
#include "attnscope/store.h"

namespace attnscope {
namespace {

TEST(Analysis, BinsByOctaveWithQuantilesAndSkipsUnwritten) {
  // n = 1..16, value = n; two bins per octave: [1, 1.41), [1.41, 2), [2, 2.83), [2.83, 4), ...
  std::vector<float> values, n;
  for (int i = 1; i <= 16; ++i) {
    values.push_back(static_cast<float>(i));
    n.push_back(static_cast<float>(i));
  }
  values.push_back(NAN);  // an unwritten position
  n.push_back(3.f);
  auto points = binByContext(values, n, {2});
  ASSERT_EQ(points.size(), 8u);  // bins of 1, 2, 3, 4-5, 6-7, 8-11, 12-15, 16 (none holds [1.41, 2))
  EXPECT_EQ(points[0].count, 1);
  EXPECT_DOUBLE_EQ(points[0].n_lo, 1.0);
  EXPECT_EQ(points[2].count, 1);       // n = 3 once: the NaN is skipped
  const CurvePoint& wide = points[5];  // [8, 11.31): n = 8..11
  EXPECT_NEAR(wide.n_lo, 8.0, 1e-12);
  EXPECT_EQ(wide.count, 4);
  EXPECT_DOUBLE_EQ(wide.mean, 9.5);
  EXPECT_DOUBLE_EQ(wide.median, 9.5);
  EXPECT_NEAR(wide.q10, 8.3, 1e-6);
  EXPECT_NEAR(wide.q90, 10.7, 1e-6);
  EXPECT_NEAR(wide.n_center, std::pow(8.0 * 9 * 10 * 11, 0.25), 1e-9);
  int64_t total = 0;
  for (const auto& p : points) total += p.count;
  EXPECT_EQ(total, 16);
}

TEST(Analysis, PaperFigureOneClosedForms) {
  // Logits all -2 except one +3, s = 0.43 (the paper's Figure 1): n = 1024 gives 0.127 against 0.9997.
  EXPECT_NEAR(theorySoftmaxMax(1024), 0.1266, 5e-4);
  EXPECT_NEAR(theorySsmaxMax(1024, 0.43), 0.9997, 5e-5);
  EXPECT_DOUBLE_EQ(theorySoftmaxMax(1), 1.0);
  EXPECT_DOUBLE_EQ(theorySsmaxMax(1, 0.43), 1.0);
  for (double n = 2; n < 1e6; n *= 2) {
    EXPECT_LT(theorySoftmaxMax(2 * n), theorySoftmaxMax(n));          // softmax fades
    EXPECT_GT(theorySsmaxMax(2 * n, 0.43), theorySsmaxMax(n, 0.43));  // s·gap > 1: SSMax sharpens
  }
}

TEST(Analysis, MonteCarloMaxOfGaussianLogits) {
  std::vector<int64_t> ns = {1, 16, 256, 4096};
  // m = 0: every weight is 1/n exactly.
  auto flat = monteCarloMax(
      ns, 1.0, [](int64_t) { return 0.0; }, 20);
  for (std::size_t i = 0; i < ns.size(); ++i) EXPECT_NEAR(flat[i], 1.0 / ns[i], 1e-12);
  auto softmax = monteCarloMax(
      ns, 1.0, [](int64_t) { return 1.0; }, 200);
  auto ssmax = monteCarloMax(
      ns, 1.0, [](int64_t n) { return 1.0 * std::log(static_cast<double>(n)); }, 200);
  EXPECT_DOUBLE_EQ(softmax[0], 1.0);
  for (std::size_t i = 1; i < ns.size(); ++i) {
    EXPECT_LT(softmax[i], softmax[i - 1]);
    EXPECT_GT(ssmax[i], softmax[i]);
  }
  EXPECT_LT(softmax[3], 0.01);  // about e^{max z}/(n e^{1/2}): fades like 1/n up to log factors
  EXPECT_GT(ssmax[3], 0.3);     // SSMax with s = 1 keeps a clear winner at n = 4096
  // Same seed, same numbers.
  EXPECT_EQ(softmax, monteCarloMax(
                         ns, 1.0, [](int64_t) { return 1.0; }, 200));
}

// A capture may claim 2^40 tokens: the theory sizes stay a short list and Monte Carlo refuses to sample them.
TEST(Analysis, TheorySizesAndMonteCarloAreBounded) {
  EXPECT_EQ(theoryContextSizes(0), (std::vector<int64_t>{1}));
  EXPECT_EQ(theoryContextSizes(-7), (std::vector<int64_t>{1}));
  EXPECT_EQ(theoryContextSizes(12), (std::vector<int64_t>{1, 2, 4, 8}));
  const std::vector<int64_t> huge = theoryContextSizes(int64_t{1} << 40);
  ASSERT_EQ(huge.size(), 41u);
  EXPECT_EQ(huge.back(), int64_t{1} << 40);
  EXPECT_EQ(theoryContextSizes(std::numeric_limits<int64_t>::max()).size(), 63u);  // no overflow
  const auto one = [](int64_t) { return 1.0; };
  EXPECT_THROW(monteCarloMax({int64_t{1} << 40}, 1.0, one, 200), std::invalid_argument);
  EXPECT_THROW(monteCarloMax({0}, 1.0, one, 200), std::invalid_argument);
  EXPECT_EQ(monteCarloMax({kMaxMonteCarloKeys}, 1.0, one, 1).size(), 1u);
}

TEST(HeadSummary, TailIsTheLastTenthOfTheQueriesRoundedUp) {
  EXPECT_EQ(summaryTailBegin(64), 57);  // 7 queries
  EXPECT_EQ(summaryTailBegin(30), 27);  // 3, though 0.1 * 30 rounds above 3 in floating point
  EXPECT_EQ(summaryTailBegin(25), 22);
  EXPECT_EQ(summaryTailBegin(9), 8);  // at least one
  EXPECT_EQ(summaryTailBegin(1), 0);
}

/// A capture of 25 tokens, 2 layers x 2 heads, one run "r" with targets [3, 4) and [23, 24): layer 1 has a
/// sliding window of 19 keys. Values: stat(layer, head, q) = 100 layer + 10 head + q; query 24 of head 1 is
/// left unwritten (NaN).
class HeadSummaryFile : public ::testing::Test {
 protected:
  static constexpr int64_t kT = 25;

  void SetUp() override {
    m_path = std::filesystem::temp_directory_path() /
             ("attnscope_test_summary_" + std::to_string(::getpid()) + ".h5");
    std::filesystem::remove(m_path);
    CaptureTokens tokens;
    for (int64_t i = 0; i < kT; ++i) tokens.ids.push_back(i), tokens.text.push_back("t");
    auto file = CaptureFile::create(m_path.string(), {"{}", "m", "0"}, tokens);
    RunSpec spec;
    spec.name = "r";
    spec.normalizer = "softmax";
    spec.n_layer = 2, spec.n_head = 2, spec.n_tokens = kT;
    spec.stats = {"max_prob", "target_mass", "n_keys"};
    spec.targets = {{3, 4}, {23, 24}};
    RunWriter writer = file->beginRun(spec);
    for (int64_t layer = 0; layer < 2; ++layer) {
      std::vector<float> values, n_keys;  // [head, q]
      for (int64_t head = 0; head < 2; ++head)
        for (int64_t q = 0; q < kT; ++q) {
          values.push_back(static_cast<float>(100 * layer + 10 * head + q));
          n_keys.push_back(static_cast<float>(layer == 1 ? std::min<int64_t>(q + 1, 19) : q + 1));
        }
      values[static_cast<std::size_t>(kT + 24)] = NAN;  // head 1, query 24
      writer.writeStat("max_prob", layer, 0, kT, values.data());
      writer.writeStat("target_mass", layer, 0, kT, values.data());
      writer.writeStat("n_keys", layer, 0, kT, n_keys.data());
    }
    writer.finish();
    m_file = CaptureFile::open(m_path.string());
  }
  void TearDown() override {
    m_file.reset();
    std::filesystem::remove(m_path);
  }

  std::filesystem::path m_path;
  std::unique_ptr<CaptureFile> m_file;
};

TEST_F(HeadSummaryFile, MeansTheTailSkippingUnwrittenValues) {
  const HeadSummaries s = summarizeHeads(*m_file, "r", "max_prob");
  EXPECT_EQ(s.q0, 22);
  EXPECT_EQ(s.q1, 25);
  ASSERT_EQ(s.values.size(), 4u);
  EXPECT_DOUBLE_EQ(s.at(0, 0), 23.0);       // queries 22, 23, 24
  EXPECT_DOUBLE_EQ(s.at(0, 1), 10 + 22.5);  // 22, 23: query 24 is NaN
  EXPECT_DOUBLE_EQ(s.at(1, 0), 100 + 23.0);
  EXPECT_DOUBLE_EQ(layerMean(s, 0), (23.0 + 32.5) / 2);
  EXPECT_TRUE(std::isnan(s.at(2, 0)));  // outside the run
}

TEST_F(HeadSummaryFile, TargetMassCountsOnlyQueriesThatSeeATarget) {
  const HeadSummaries s = summarizeHeads(*m_file, "r", "target_mass");
  // Layer 0 (causal): every tail query sees key 3. Layer 1 (window 19): query 22 sees keys 4..22, no target;
  // queries 23 and 24 see key 23.
  EXPECT_DOUBLE_EQ(s.at(0, 0), 23.0);
  EXPECT_DOUBLE_EQ(s.at(1, 0), 100 + 23.5);
  EXPECT_DOUBLE_EQ(s.at(1, 1), 110 + 23.0);  // query 24 is NaN: only 23 is left
}

// Issue 15, defect 13, in the curves: a target-mass curve bins only the queries that can see a target, like
// the summaries; before, queries 0..2 (n = 1..3, before the first target) entered as if they had looked away.
TEST_F(HeadSummaryFile, TargetMassCurveCountsOnlyQueriesThatSeeATarget) {
  const auto counted = [](const Curve& curve) {
    int64_t count = 0;
    for (const CurvePoint& p : curve.points) count += p.count;
    return count;
  };
  const Curve causal = statCurve(*m_file, "r", "target_mass", 0, 0);
  EXPECT_EQ(counted(causal), kT - 3);  // queries 3..24
  ASSERT_FALSE(causal.points.empty());
  EXPECT_GE(causal.points.front().n_lo, 2.0);  // no bin of n = 1 (query 0)
  // Layer 1 (window 19): queries 0..2 and 22 see no target; head 1's query 24 is unwritten.
  EXPECT_EQ(counted(statCurve(*m_file, "r", "target_mass", 1, 0)), kT - 4);
  EXPECT_EQ(counted(statCurve(*m_file, "r", "target_mass", 1, -1)), 2 * (kT - 4) - 1);
  EXPECT_EQ(counted(statCurve(*m_file, "r", "target_mass", -1, -1)), 2 * (kT - 3) - 1 + 2 * (kT - 4) - 1);
  // Other statistics keep every written query.
  EXPECT_EQ(counted(statCurve(*m_file, "r", "max_prob", 1, 0)), kT);
  EXPECT_TRUE(querySeesTarget(3, 4.f, {{3, 4}}));
  EXPECT_FALSE(querySeesTarget(2, 3.f, {{3, 4}}));
  EXPECT_FALSE(querySeesTarget(22, 19.f, {{3, 4}, {23, 24}}));
  EXPECT_TRUE(querySeesTarget(22, NAN, {{3, 4}}));  // no n stored: causal
}

TEST_F(HeadSummaryFile, MissingStatisticIsNaN) {
  const HeadSummaries s = summarizeHeads(*m_file, "r", "entropy");
  ASSERT_EQ(s.values.size(), 4u);
  for (double v : s.values) EXPECT_TRUE(std::isnan(v));
  EXPECT_TRUE(std::isnan(layerMean(s, 0)));
}

}  // namespace
}  // namespace attnscope
