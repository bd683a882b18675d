// Aggregates of sweep records: the percentile bootstrap (exact on a case with a known distribution, an
// interval that holds the mean and shrinks with n, bit for bit an independent Python implementation), the
// retrieval grid, needle scores per head, and binned curves on hand-made records whose answers are worked out
// by hand below.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnscope/sweep_analysis.h"

namespace attnscope {
namespace {

TEST(Bootstrap, OneValueEmptyAndKnownDistribution) {
  SweepEstimate one = bootstrapMean({0.25});
  EXPECT_EQ(one.mean, 0.25);
  EXPECT_EQ(one.lo, 0.25);
  EXPECT_EQ(one.hi, 0.25);
  EXPECT_EQ(one.count, 1);
  SweepEstimate none = bootstrapMean({});
  EXPECT_TRUE(std::isnan(none.mean) && std::isnan(none.lo) && std::isnan(none.hi));
  EXPECT_EQ(none.count, 0);
  // Resampling {0, 1} twice gives means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5%
  // quantiles of 4,000 resamples are 0 and 1.
  SweepAggregateOptions options;
  options.resamples = 4000;
  SweepEstimate pair = bootstrapMean({0.0, 1.0}, options);
  EXPECT_EQ(pair.mean, 0.5);
  EXPECT_EQ(pair.lo, 0.0);
  EXPECT_EQ(pair.hi, 1.0);
  // At 50% confidence the 25% and 75% quantiles fall exactly on the mass boundaries of that distribution,
  // where resampling noise decides between neighbours: only bounds are exact.
  options.confidence = 0.5;
  pair = bootstrapMean({0.0, 1.0}, options);
  EXPECT_GE(pair.lo, 0.0);
  EXPECT_LE(pair.lo, 0.5);
  EXPECT_GE(pair.hi, 0.5);
  EXPECT_LE(pair.hi, 1.0);
  options.confidence = 1.0;
  EXPECT_THROW(bootstrapMean({1.0, 2.0}, options), std::invalid_argument);
}

TEST(Bootstrap, IntervalHoldsTheMeanShrinksWithNAndIsDeterministic) {
  // 0, 1, 0, 1, ... : mean 0.5 whatever n; the interval's width falls like 1 / sqrt(n).
  std::vector<double> small, large;
  for (int i = 0; i < 10; ++i) small.push_back(i % 2);
  for (int i = 0; i < 1000; ++i) large.push_back(i % 2);
  const SweepEstimate a = bootstrapMean(small), b = bootstrapMean(large);
  for (const SweepEstimate& e : {a, b}) {
    EXPECT_DOUBLE_EQ(e.mean, 0.5);
    EXPECT_LT(e.lo, e.mean);
    EXPECT_GT(e.hi, e.mean);
  }
  const double ratio = (a.hi - a.lo) / (b.hi - b.lo);
  std::printf("[          ] 95%% interval width: n=10 %.4f, n=1000 %.4f (ratio %.1f, sqrt(100) = 10)\n",
              a.hi - a.lo, b.hi - b.lo, ratio);
  EXPECT_GT(ratio, 6.0);
  EXPECT_LT(ratio, 16.0);
  // The normal approximation of the interval for n = 1000: 0.5 ± 1.96 · 0.5 / sqrt(1000) = ± 0.031.
  EXPECT_NEAR(b.hi - b.lo, 2 * 1.96 * 0.5 / std::sqrt(1000.0), 0.008);
  const SweepEstimate again = bootstrapMean(small);
  EXPECT_EQ(again.lo, a.lo);
  EXPECT_EQ(again.hi, a.hi);
  SweepAggregateOptions other;
  other.seed = 8;
  std::vector<double> ramp;
  for (int i = 0; i < 37; ++i) ramp.push_back(i * i % 11);
  const SweepEstimate x = bootstrapMean(ramp), y = bootstrapMean(ramp, other);
  EXPECT_EQ(x.mean, y.mean);
  EXPECT_TRUE(x.lo != y.lo || x.hi != y.hi);
}

/// Runs tests/reference/sweep_bootstrap.py (an independent MT19937-64 and bootstrap in Python) on values.
SweepEstimate pythonBootstrap(const std::vector<double>& values, const SweepAggregateOptions& options) {
  const char* source = std::getenv("ATTNSCOPE_SOURCE_DIR");
  std::string command = "/usr/bin/python3 " + std::string(source) + "/tests/reference/sweep_bootstrap.py " +
                        std::to_string(options.seed) + " " + std::to_string(options.resamples) + " ";
  char number[64];
  std::snprintf(number, sizeof number, "%.17g", options.confidence);
  command += number;
  for (double v : values) {
    std::snprintf(number, sizeof number, " %.17g", v);
    command += number;
  }
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {};
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << output;
  SweepEstimate e;
  EXPECT_EQ(std::sscanf(output.c_str(), "%lf %lf %lf", &e.mean, &e.lo, &e.hi), 3) << output;
  return e;
}

// The same intervals, bit for bit, as a Python implementation written from the definitions: so the resampling
// is std::mt19937_64 as the standard defines it, unbiased, and reproducible on any platform.
TEST(Bootstrap, EqualsAnIndependentPythonReference) {
  if (!std::getenv("ATTNSCOPE_SOURCE_DIR")) GTEST_SKIP() << "ATTNSCOPE_SOURCE_DIR is not set (ctest sets it)";
  std::vector<double> skewed, three = {0.1, 0.7, 0.25};
  for (int i = 0; i < 37; ++i) skewed.push_back((i * i % 11) / 7.0 + (i % 5 == 0 ? 3.5 : 0.0));
  SweepAggregateOptions options;
  for (uint64_t seed : {uint64_t{7}, uint64_t{123456789012345}}) {
    for (double confidence : {0.95, 0.8}) {
      options.seed = seed;
      options.confidence = confidence;
      options.resamples = seed == 7 ? 1000 : 333;
      for (const std::vector<double>* values : {&skewed, &three}) {
        const SweepEstimate ours = bootstrapMean(*values, options),
                            theirs = pythonBootstrap(*values, options);
        SCOPED_TRACE("seed " + std::to_string(seed) + ", confidence " + std::to_string(confidence) + ", n " +
                     std::to_string(values->size()));
        EXPECT_EQ(ours.mean, theirs.mean);
        EXPECT_EQ(ours.lo, theirs.lo);
        EXPECT_EQ(ours.hi, theirs.hi);
        EXPECT_LT(ours.lo, ours.hi);
      }
    }
  }
}

/// Lengths {10, 20} × depths {0, 1} × 2 prompts: cell = (length · 2 + depth) · 2 + prompt.
SweepGrid smallGrid() {
  SweepGrid grid;
  grid.normalizers = {"softmax"};
  grid.lengths = {10, 20};
  grid.depths = {0.0, 1.0};
  grid.prompts_per_cell = 2;
  return grid;
}

SweepRecord needleRecord(int64_t cell, bool correct, double digits, std::vector<float> scores = {}) {
  SweepRecord r;
  r.cell = cell;
  r.correct = correct;
  r.digit_accuracy = digits;
  r.needle_scores = std::move(scores);
  return r;
}

TEST(SweepAggregates, RetrievalGrid) {
  const SweepGrid grid = smallGrid();
  // (10, 0): both right; (10, 1): one of two; (20, 0): none; (20, 1): no records.
  const std::vector<SweepRecord> records = {needleRecord(0, true, 1.0),   needleRecord(1, true, 1.0),
                                            needleRecord(2, false, 0.5),  needleRecord(3, true, 1.0),
                                            needleRecord(4, false, 0.25), needleRecord(5, false, 0.0)};
  const std::vector<SweepEstimate> exact = retrievalGrid(grid, records);
  ASSERT_EQ(exact.size(), 4u);
  EXPECT_EQ(exact[0].mean, 1.0);
  EXPECT_EQ(exact[0].count, 2);
  EXPECT_EQ(exact[1].mean, 0.5);
  EXPECT_EQ(exact[2].mean, 0.0);
  EXPECT_TRUE(std::isnan(exact[3].mean));
  EXPECT_EQ(exact[3].count, 0);
  const std::vector<SweepEstimate> digits = retrievalGrid(grid, records, false);
  EXPECT_EQ(digits[1].mean, 0.75);
  EXPECT_EQ(digits[2].mean, 0.125);
  EXPECT_THROW(retrievalGrid(grid, {needleRecord(8, true, 1)}), std::invalid_argument);

  // By length, every depth together: length 10 holds 3 of 4 right, length 20 none of 2.
  const std::vector<SweepEstimate> by_length = retrievalByLength(grid, records);
  ASSERT_EQ(by_length.size(), 2u);
  EXPECT_EQ(by_length[0].mean, 0.75);
  EXPECT_EQ(by_length[0].count, 4);
  EXPECT_LE(by_length[0].lo, 0.75);
  EXPECT_GE(by_length[0].hi, 0.75);
  EXPECT_LT(by_length[0].lo, by_length[0].hi);
  EXPECT_EQ(by_length[1].mean, 0.0);
  EXPECT_EQ(by_length[1].count, 2);
  EXPECT_EQ(retrievalByLength(grid, records, false)[1].mean, 0.125);
}

TEST(SweepAggregates, NeedleScoresPerHeadAtOneLength) {
  const SweepGrid grid = smallGrid();
  // One layer, two heads; length 20 holds cells 4..7.
  const std::vector<SweepRecord> records = {
      needleRecord(0, true, 1, {9.0f, 9.0f}), needleRecord(4, true, 1, {0.5f, 0.1f}),
      needleRecord(6, true, 1, {0.25f, 0.3f}), needleRecord(7, true, 1, {0.75f, 0.2f})};
  const std::vector<SweepEstimate> heads = needleScoreGrid(grid, records, 20, 1, 2);
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_DOUBLE_EQ(heads[0].mean, 0.5);
  EXPECT_NEAR(heads[1].mean, 0.2, 1e-7);
  EXPECT_EQ(heads[0].count, 3);
  EXPECT_THROW(needleScoreGrid(grid, records, 30, 1, 2), std::invalid_argument);
  EXPECT_THROW(needleScoreGrid(grid, records, 20, 1, 3), std::invalid_argument);  // records of 2 heads
}

TEST(SweepAggregates, StatCurveBinsHeadsLayersAndModel) {
  // Prompts of 4 tokens, one bin per octave: bins n = 1, n in [2, 4), n = 4. Two layers of two heads.
  SweepGrid grid = smallGrid();
  grid.lengths = {4};
  grid.depths = {0.0};
  grid.bins_per_octave = 1;
  grid.stats = {"entropy", "max_prob"};
  ASSERT_EQ(sweepRecordShape(grid, 2, 2).n_bins, 3);
  // stat_sums [stat, layer, head, bin], stat_counts [layer, bin]. Layer 1 has a window: nothing in bin 2.
  const auto record = [](int64_t cell, float scale) {
    SweepRecord r;
    r.cell = cell;
    r.stat_sums.assign(2 * 2 * 2 * 3, 0.0f);
    r.stat_counts = {1, 2, 1, 1, 3, 0};
    const auto at = [&](int s, int l, int h, int b) -> float& {
      return r.stat_sums[((s * 2 + l) * 2 + h) * 3 + b];
    };
    at(1, 0, 0, 0) = 1.0f * scale, at(1, 0, 1, 0) = 1.0f * scale;  // bin 0 (1 query): mean 1·scale
    at(1, 0, 0, 1) = 1.0f * scale, at(1, 0, 1, 1) = 0.6f * scale;  // bin 1 (2 queries): 0.5, 0.3 (×scale)
    at(1, 0, 0, 2) = 0.2f * scale, at(1, 0, 1, 2) = 0.4f * scale;  // bin 2 (1 query)
    at(1, 1, 0, 1) = 1.5f * scale, at(1, 1, 1, 1) = 0.3f * scale;  // layer 1, bin 1 (3 queries): 0.5, 0.1
    at(1, 1, 0, 0) = 1.0f * scale, at(1, 1, 1, 0) = 1.0f * scale;
    return r;
  };
  const std::vector<SweepRecord> records = {record(0, 1.0f), record(1, 0.5f)};
  // Head 0.0: bin 1 per prompt 0.5 and 0.25.
  std::vector<SweepCurvePoint> head = sweepStatCurve(grid, records, "max_prob", 0, 0, 2, 2);
  ASSERT_EQ(head.size(), 3u);
  EXPECT_EQ(head[1].n_lo, 2.0);
  EXPECT_EQ(head[1].n_hi, 4.0);
  EXPECT_DOUBLE_EQ(head[1].value.mean, (0.5 + 0.25) / 2);
  EXPECT_EQ(head[1].value.count, 2);
  // Layer 0, bin 1: per prompt the mean of 0.5 and 0.3 (×scale): 0.4 and 0.2.
  std::vector<SweepCurvePoint> layer = sweepStatCurve(grid, records, "max_prob", 0, -1, 2, 2);
  EXPECT_NEAR(layer[1].value.mean, 0.3, 1e-7);
  // Layer 1 has no query in bin 2: its curve stops at bin 1.
  EXPECT_EQ(sweepStatCurve(grid, records, "max_prob", 1, -1, 2, 2).size(), 2u);
  // Whole model, bin 1: per prompt the mean of 0.5, 0.3, 0.5, 0.1 (×scale) = 0.35 and 0.175; bin 2 only
  // layer 0: (0.2 + 0.4) / 2 = 0.3 and 0.15.
  std::vector<SweepCurvePoint> model = sweepStatCurve(grid, records, "max_prob", -1, -1, 2, 2);
  ASSERT_EQ(model.size(), 3u);
  EXPECT_NEAR(model[1].value.mean, (0.35 + 0.175) / 2, 1e-7);
  EXPECT_NEAR(model[2].value.mean, (0.3 + 0.15) / 2, 1e-7);
  EXPECT_EQ(model[0].n_lo, 1.0);
  EXPECT_EQ(model[0].n_hi, 2.0);
  // The other statistic is all zeros.
  EXPECT_EQ(sweepStatCurve(grid, records, "entropy", -1, -1, 2, 2)[1].value.mean, 0.0);
  EXPECT_THROW(sweepStatCurve(grid, records, "sink_mass", 0, 0, 2, 2), std::invalid_argument);
  EXPECT_THROW(sweepStatCurve(grid, records, "max_prob", -1, 0, 2, 2), std::invalid_argument);
  EXPECT_THROW(sweepStatCurve(grid, records, "max_prob", 2, 0, 2, 2), std::invalid_argument);
  EXPECT_THROW(sweepStatCurve(grid, records, "max_prob", 0, 0, 2, 3), std::invalid_argument);
}

TEST(SweepAggregates, LossCurveByBucket) {
  SweepGrid grid = smallGrid();
  grid.mode = SweepMode::Documents;
  grid.depths = {0.0};
  grid.loss_edges = {0, 4, 10, 20};
  SweepRecord a, b;
  a.cell = 0, b.cell = 2;
  a.loss_sums = {8.0, 6.0, 0.0};
  a.loss_counts = {4, 6, 0};  // a 10-token prompt: nothing in [10, 20)
  b.loss_sums = {4.0, 3.0, 20.0};
  b.loss_counts = {4, 6, 10};
  const std::vector<SweepCurvePoint> curve = sweepLossCurve(grid, {a, b});
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_EQ(curve[0].n_lo, 0.0);
  EXPECT_EQ(curve[0].n_hi, 4.0);
  EXPECT_DOUBLE_EQ(curve[0].value.mean, (2.0 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(curve[1].value.mean, (1.0 + 0.5) / 2);
  EXPECT_DOUBLE_EQ(curve[2].value.mean, 2.0);
  EXPECT_EQ(curve[2].value.count, 1);
  b.loss_sums.pop_back();
  EXPECT_THROW(sweepLossCurve(grid, {a, b}), std::invalid_argument);
}

}  // namespace
}  // namespace attnscope
