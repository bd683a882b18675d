// Aggregates of sweep records: percentile-bootstrap means, the retrieval grid, per-head needle scores and
// binned curves. Deterministic on every platform: the resampling uses std::mt19937_64 (its output is fixed by
// the standard) with an explicit unbiased index draw, never a distribution whose algorithm is the library's.

#include "attnscope/sweep_analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

namespace attnscope {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// A uniform index in [0, n): rejection of the low values that would bias x % n.
uint64_t uniformIndex(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  uint64_t x;
  do x = rng();
  while (x < threshold);
  return x % n;
}

/// The q-quantile of sorted values, interpolated linearly between order statistics.
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] * (1 - frac) + sorted[hi] * frac;
}

double meanOf(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

SweepCell cellOf(const SweepGrid& grid, const SweepRecord& record) {
  return sweepCell(grid, record.cell);  // throws std::invalid_argument outside the grid
}

void checkSize(const char* what, size_t actual, int64_t expected, const SweepRecord& record) {
  if (static_cast<int64_t>(actual) != expected)
    throw std::invalid_argument("record of cell " + std::to_string(record.cell) + ": " + what + " has " +
                                std::to_string(actual) + " values, not " + std::to_string(expected));
}

}  // namespace

SweepEstimate bootstrapMean(const std::vector<double>& values, const SweepAggregateOptions& options) {
  if (!(options.confidence > 0 && options.confidence < 1))
    throw std::invalid_argument("bootstrap confidence must lie in (0, 1)");
  SweepEstimate estimate;
  estimate.count = static_cast<int64_t>(values.size());
  if (values.empty()) {
    estimate.mean = estimate.lo = estimate.hi = kNaN;
    return estimate;
  }
  estimate.mean = estimate.lo = estimate.hi = meanOf(values);
  if (values.size() == 1 || options.resamples < 1) return estimate;
  std::mt19937_64 rng(options.seed);
  std::vector<double> means(static_cast<size_t>(options.resamples));
  std::vector<double> sample(values.size());
  for (double& mean : means) {
    for (double& v : sample) v = values[uniformIndex(rng, values.size())];
    mean = meanOf(sample);
  }
  std::sort(means.begin(), means.end());
  const double tail = (1 - options.confidence) / 2;
  estimate.lo = quantile(means, tail);
  estimate.hi = quantile(means, 1 - tail);
  return estimate;
}

std::vector<SweepEstimate> retrievalGrid(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                         bool exact, const SweepAggregateOptions& options) {
  const size_t n_depths = grid.depths.size();
  std::vector<std::vector<double>> values(grid.lengths.size() * n_depths);
  for (const SweepRecord& record : records) {
    const SweepCell cell = cellOf(grid, record);
    values[static_cast<size_t>(cell.length_index) * n_depths + static_cast<size_t>(cell.depth_index)]
        .push_back(exact ? (record.correct ? 1.0 : 0.0) : record.digit_accuracy);
  }
  std::vector<SweepEstimate> grid_estimates;
  for (const std::vector<double>& cell_values : values)
    grid_estimates.push_back(bootstrapMean(cell_values, options));
  return grid_estimates;
}

std::vector<SweepEstimate> retrievalByLength(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                             bool exact, const SweepAggregateOptions& options) {
  std::vector<std::vector<double>> values(grid.lengths.size());
  for (const SweepRecord& record : records)
    values[static_cast<size_t>(cellOf(grid, record).length_index)].push_back(
        exact ? (record.correct ? 1.0 : 0.0) : record.digit_accuracy);
  std::vector<SweepEstimate> estimates;
  for (const std::vector<double>& length_values : values)
    estimates.push_back(bootstrapMean(length_values, options));
  return estimates;
}

std::vector<SweepEstimate> needleScoreGrid(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                           int64_t length, int64_t n_layer, int64_t n_head,
                                           const SweepAggregateOptions& options) {
  const auto at = std::find(grid.lengths.begin(), grid.lengths.end(), length);
  if (at == grid.lengths.end())
    throw std::invalid_argument("the sweep has no length " + std::to_string(length));
  const int64_t length_index = at - grid.lengths.begin();
  const size_t n_heads = static_cast<size_t>(n_layer * n_head);
  std::vector<std::vector<double>> values(n_heads);
  for (const SweepRecord& record : records) {
    if (cellOf(grid, record).length_index != length_index) continue;
    checkSize("needle_scores", record.needle_scores.size(), n_layer * n_head, record);
    for (size_t i = 0; i < n_heads; ++i) values[i].push_back(record.needle_scores[i]);
  }
  std::vector<SweepEstimate> estimates;
  for (const std::vector<double>& head_values : values)
    estimates.push_back(bootstrapMean(head_values, options));
  return estimates;
}

std::vector<SweepCurvePoint> sweepStatCurve(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                            const std::string& stat, int64_t layer, int64_t head,
                                            int64_t n_layer, int64_t n_head,
                                            const SweepAggregateOptions& options) {
  const auto at = std::find(grid.stats.begin(), grid.stats.end(), stat);
  if (at == grid.stats.end()) throw std::invalid_argument("the sweep did not bin statistic '" + stat + "'");
  if (layer >= n_layer || head >= n_head || layer < -1 || head < -1 || (layer < 0 && head >= 0))
    throw std::invalid_argument("layer " + std::to_string(layer) + ", head " + std::to_string(head) +
                                " do not name a head, a layer or the whole model");
  const SweepRecordShape shape = sweepRecordShape(grid, n_layer, n_head);
  const int64_t n_bins = shape.n_bins, s = at - grid.stats.begin();
  const int64_t l0 = layer < 0 ? 0 : layer, l1 = layer < 0 ? n_layer : layer + 1;
  const int64_t h0 = head < 0 ? 0 : head, h1 = head < 0 ? n_head : head + 1;
  std::vector<SweepCurvePoint> curve;
  for (int64_t bin = 0; bin < n_bins; ++bin) {
    // Per prompt: the mean over the chosen heads of each head's bin mean (sum / count), over the heads
    // whose layer has queries in the bin; prompts without any are left out of the bin.
    std::vector<double> prompt_means;
    for (const SweepRecord& record : records) {
      cellOf(grid, record);
      checkSize("stat_sums", record.stat_sums.size(), shape.stat_sums, record);
      checkSize("stat_counts", record.stat_counts.size(), shape.stat_counts, record);
      double sum = 0;
      int64_t n_means = 0;
      for (int64_t l = l0; l < l1; ++l) {
        const int32_t count = record.stat_counts[static_cast<size_t>(l * n_bins + bin)];
        if (count <= 0) continue;
        for (int64_t h = h0; h < h1; ++h) {
          sum += record.stat_sums[static_cast<size_t>(((s * n_layer + l) * n_head + h) * n_bins + bin)] /
                 static_cast<double>(count);
          ++n_means;
        }
      }
      if (n_means > 0) prompt_means.push_back(sum / static_cast<double>(n_means));
    }
    if (prompt_means.empty()) continue;
    const double b = grid.bins_per_octave;
    curve.push_back({std::exp2(static_cast<double>(bin) / b), std::exp2(static_cast<double>(bin + 1) / b),
                     bootstrapMean(prompt_means, options)});
  }
  return curve;
}

std::vector<SweepCurvePoint> sweepLossCurve(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                            const SweepAggregateOptions& options) {
  const int64_t n_buckets = sweepBucketCount(grid);
  std::vector<SweepCurvePoint> curve;
  for (int64_t bucket = 0; bucket < n_buckets; ++bucket) {
    std::vector<double> prompt_means;
    for (const SweepRecord& record : records) {
      cellOf(grid, record);
      checkSize("loss_sums", record.loss_sums.size(), n_buckets, record);
      checkSize("loss_counts", record.loss_counts.size(), n_buckets, record);
      const int64_t count = record.loss_counts[static_cast<size_t>(bucket)];
      if (count > 0)
        prompt_means.push_back(record.loss_sums[static_cast<size_t>(bucket)] / static_cast<double>(count));
    }
    if (prompt_means.empty()) continue;
    curve.push_back({static_cast<double>(grid.loss_edges[static_cast<size_t>(bucket)]),
                     static_cast<double>(grid.loss_edges[static_cast<size_t>(bucket) + 1]),
                     bootstrapMean(prompt_means, options)});
  }
  return curve;
}

}  // namespace attnscope
