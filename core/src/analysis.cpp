#include "attnscope/analysis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>
#include <string>

#include "attnscope/statistics.h"
#include "attnscope/store.h"
#include "attnscope/sweep.h"  // sweepBinOf: the one rule of log-spaced bins of n

namespace attnscope {
namespace {

double quantile(std::vector<float>& sorted, double q) {
  if (sorted.empty()) return NAN;
  double pos = q * static_cast<double>(sorted.size() - 1);
  std::size_t lo = static_cast<std::size_t>(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] * (1 - frac) + sorted[hi] * frac;
}

}  // namespace

std::vector<CurvePoint> binByContext(const std::vector<float>& values, const std::vector<float>& n,
                                     const CurveOptions& options) {
  const double b = std::max(1, options.bins_per_octave);
  std::map<int64_t, std::vector<std::pair<float, float>>> bins;  // bin index → (value, n)
  for (std::size_t i = 0; i < values.size() && i < n.size(); ++i) {
    // Unwritten positions are NaN; an n no capture can hold (beyond kMaxCaptureTokens) has no bin.
    if (!std::isfinite(values[i]) || !(n[i] >= 1 && n[i] <= static_cast<float>(kMaxCaptureTokens))) continue;
    const int64_t bin = sweepBinOf(static_cast<int64_t>(n[i]), options.bins_per_octave);  // n is a count
    bins[bin].emplace_back(values[i], n[i]);
  }
  std::vector<CurvePoint> points;
  for (auto& [bin, items] : bins) {
    CurvePoint p;
    p.n_lo = std::pow(2.0, bin / b);
    p.n_hi = std::pow(2.0, (bin + 1) / b);
    std::vector<float> v;
    double sum = 0, log_n = 0;
    for (const auto& [value, count] : items) {
      v.push_back(value);
      sum += value;
      log_n += std::log(static_cast<double>(count));
    }
    std::sort(v.begin(), v.end());
    p.count = static_cast<int64_t>(v.size());
    p.mean = sum / static_cast<double>(p.count);
    p.median = quantile(v, 0.5);
    p.q10 = quantile(v, 0.1);
    p.q90 = quantile(v, 0.9);
    p.n_center = std::exp(log_n / static_cast<double>(p.count));
    points.push_back(p);
  }
  return points;
}

Curve statCurve(const CaptureFile& file, const std::string& run, const std::string& stat, int64_t layer,
                int64_t head, const CurveOptions& options) {
  RunInfo info = file.run(run);
  Curve curve{run, stat, layer, head, {}};
  std::vector<float> values, n;
  const int64_t first = layer < 0 ? 0 : layer, last = layer < 0 ? info.n_layer - 1 : layer;
  for (int64_t l = first; l <= last; ++l) {
    if (head >= 0) {
      auto v = file.readStat(run, stat, l, head);
      auto k = file.readStat(run, kStatNKeys, l, head);
      values.insert(values.end(), v.begin(), v.end());
      n.insert(n.end(), k.begin(), k.end());
    } else {
      auto v = file.readStat(run, stat, l);
      auto k = file.readStat(run, kStatNKeys, l);
      values.insert(values.end(), v.begin(), v.end());
      n.insert(n.end(), k.begin(), k.end());
    }
  }
  curve.points = binByContext(values, n, options);
  return curve;
}

int64_t summaryTailBegin(int64_t n_tokens) {
  const int64_t n_tail = std::max<int64_t>(1, (n_tokens + kSummaryTailDivisor - 1) / kSummaryTailDivisor);
  return std::max<int64_t>(0, n_tokens - n_tail);
}

double HeadSummaries::at(int64_t layer, int64_t head) const {
  if (layer < 0 || layer >= n_layer || head < 0 || head >= n_head) return NAN;
  return values[static_cast<std::size_t>(layer * n_head + head)];
}

HeadSummaries summarizeHeads(const CaptureFile& file, const std::string& run, const std::string& stat) {
  const RunInfo info = file.run(run);
  HeadSummaries out;
  out.run = info.name;
  out.stat = stat;
  out.n_layer = info.n_layer;
  out.n_head = info.n_head;
  out.q0 = summaryTailBegin(info.n_tokens);
  out.q1 = info.n_tokens;
  out.values.assign(static_cast<std::size_t>(info.n_layer * info.n_head), NAN);
  const auto has = [&info](const std::string& name) {
    return std::find(info.stats.begin(), info.stats.end(), name) != info.stats.end();
  };
  if (!has(stat)) return out;
  const StatisticInfo* entry = findStatistic(stat);
  const bool only_seeing_targets = entry && entry->needs_targets;
  const bool has_n_keys = has(kStatNKeys);
  const auto T = static_cast<std::size_t>(info.n_tokens);
  const auto expected = static_cast<std::size_t>(info.n_head) * T;
  for (int64_t layer = 0; layer < info.n_layer; ++layer) {
    const std::vector<float> values = file.readStat(info.name, stat, layer);  // [n_head, T]
    std::vector<float> n_keys;
    if (only_seeing_targets && has_n_keys) n_keys = file.readStat(info.name, kStatNKeys, layer);
    if (values.size() != expected || (!n_keys.empty() && n_keys.size() != expected))
      throw StoreError(file.path() + ": run '" + info.name + "': statistic '" + stat + "' of layer " +
                       std::to_string(layer) + " does not hold n_head x n_tokens values");
    for (int64_t head = 0; head < info.n_head; ++head) {
      const std::size_t row = static_cast<std::size_t>(head) * T;
      double sum = 0;
      int64_t count = 0;
      for (int64_t q = out.q0; q < out.q1; ++q) {
        const float v = values[row + static_cast<std::size_t>(q)];
        if (!std::isfinite(v)) continue;
        if (only_seeing_targets) {
          // The query sees keys [q − n + 1, q]: n from the capture (sliding windows), else causal q + 1.
          const float n_seen = n_keys.empty() ? NAN : n_keys[row + static_cast<std::size_t>(q)];
          const int64_t n = std::isfinite(n_seen) && n_seen >= 1 ? static_cast<int64_t>(n_seen) : q + 1;
          const bool sees = std::any_of(info.targets.begin(), info.targets.end(), [&](const auto& range) {
            return range.first <= q && range.second > q - n + 1;
          });
          if (!sees) continue;
        }
        sum += v;
        ++count;
      }
      if (count > 0)
        out.values[static_cast<std::size_t>(layer * info.n_head + head)] = sum / static_cast<double>(count);
    }
  }
  return out;
}

double layerMean(const HeadSummaries& summaries, int64_t layer) {
  double sum = 0;
  int64_t count = 0;
  for (int64_t head = 0; head < summaries.n_head; ++head) {
    const double v = summaries.at(layer, head);
    if (std::isfinite(v)) sum += v, ++count;
  }
  return count > 0 ? sum / static_cast<double>(count) : NAN;
}

double theorySoftmaxMax(double n, double gap) {
  return 1.0 / (1.0 + (n - 1.0) * std::exp(-gap));
}

double theorySsmaxMax(double n, double s, double gap) {
  return 1.0 / (1.0 + (n - 1.0) * std::pow(n, -s * gap));
}

std::vector<int64_t> theoryContextSizes(int64_t n_max) {
  std::vector<int64_t> ns{1};
  // Doubling stops before it could overflow, whatever n_max a caller passes.
  while (ns.back() <= n_max / 2) ns.push_back(ns.back() * 2);
  return ns;
}

std::vector<double> monteCarloMax(const std::vector<int64_t>& ns, double sigma,
                                  const std::function<double(int64_t)>& multiplier, int samples,
                                  uint64_t seed) {
  for (int64_t n : ns)
    if (n < 1 || n > kMaxMonteCarloKeys)
      throw std::invalid_argument("monteCarloMax: n = " + std::to_string(n) + " is outside [1, " +
                                  std::to_string(kMaxMonteCarloKeys) + "]");
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<double> out;
  std::vector<double> z;
  for (int64_t n : ns) {
    const double m = multiplier(n);
    double total = 0;
    for (int s = 0; s < samples; ++s) {
      z.resize(static_cast<std::size_t>(n));
      double top = -INFINITY;
      for (auto& x : z) {
        x = m * normal(rng);
        top = std::max(top, x);
      }
      double sum = 0;
      for (double x : z) sum += std::exp(x - top);
      total += 1.0 / sum;  // the largest weight is exp(top - top) / sum
    }
    out.push_back(total / samples);
  }
  return out;
}

}  // namespace attnscope
