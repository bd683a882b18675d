// Curves and theory: binning by context size, the paper's Figure 1 closed forms, Monte Carlo maxima.

#include <cmath>
#include <limits>
#include <stdexcept>

#include <gtest/gtest.h>

#include "attnscope/analysis.h"

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

}  // namespace
}  // namespace attnscope
