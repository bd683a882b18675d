#pragma once
// Curves from capture files: a per-query statistic (max probability, entropy, target mass, ...) against the
// number of keys n the query sees, per head or aggregated over heads; and the theory curves of the SSMax
// paper. No torch and no Qt: the GUI and the CLI share it.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

class CaptureFile;

/// One bin of n: the statistic's values of every query (and head) whose n falls in [n_lo, n_hi).
struct CurvePoint {
  double n_lo = 0, n_hi = 0, n_center = 0;  // n_center: geometric mean of the n values in the bin
  double mean = 0, median = 0, q10 = 0, q90 = 0;
  int64_t count = 0;
};

struct Curve {
  std::string run, stat;
  int64_t layer = -1;   // -1: every layer
  int64_t head = -1;    // -1: every head of the layer(s)
  int64_t n_heads = 1;  // heads pooled in each bin: a bin of count values holds count / n_heads queries
  std::vector<CurvePoint> points;
};

struct CurveOptions {
  int bins_per_octave = 2;  // log-spaced bins: n in [2^(i/b), 2^((i+1)/b))
};

/// Bins values by their n into log-spaced bins and summarises each bin. values and n have equal length.
std::vector<CurvePoint> binByContext(const std::vector<float>& values, const std::vector<float>& n,
                                     const CurveOptions& options = {});

/// Returns stat against n for one head, one layer (all its heads) or every layer (layer = -1). A statistic
/// that needs targets (target_mass) counts only the queries that see a target (querySeesTarget), as the
/// per-head summaries do; unwritten and undefined (NaN) values are skipped.
Curve statCurve(const CaptureFile& file, const std::string& run, const std::string& stat, int64_t layer,
                int64_t head, const CurveOptions& options = {});

/// Per-head summaries: one number per layer and head for a statistic, the same in the head grid, the compare
/// table and `attnscope-cli stats`. It is the mean over the long-context end of the prompt — the last tenth
/// of the query positions, ceil(T / 10) of them and at least one — and, for a statistic that needs targets
/// (target_mass), only over those of them that see a target token (a key of a target range lies among the
/// n_keys keys the query sees). Unwritten (NaN) values are skipped.
constexpr int64_t kSummaryTailDivisor = 10;

/// Whether query q, which sees the n keys q − n + 1 .. q (n < 1 or NaN: causal, q + 1), sees a key of a
/// target range [begin, end). Queries that cannot see a target say nothing about target mass.
bool querySeesTarget(int64_t q, float n_keys, const std::vector<std::pair<int64_t, int64_t>>& targets);

/// The first query of the summarised tail: T − max(1, ceil(T / kSummaryTailDivisor)).
int64_t summaryTailBegin(int64_t n_tokens);

struct HeadSummaries {
  std::string run, stat;
  int64_t n_layer = 0, n_head = 0;
  int64_t q0 = 0, q1 = 0;      // the queries summarised: [q0, q1)
  std::vector<double> values;  // [n_layer, n_head]; NaN where the run lacks the statistic or no query counts
  double at(int64_t layer, int64_t head) const;
};

/// Summarises one run's statistic per head (see above). Throws StoreError.
HeadSummaries summarizeHeads(const CaptureFile& file, const std::string& run, const std::string& stat);

/// The mean of a layer's finite head summaries; NaN when it has none.
double layerMean(const HeadSummaries& summaries, int64_t layer);

/// The paper's Figure 1: logits all -2 except one +3. Softmax's largest weight 1 / (1 + (n-1) e^-5).
double theorySoftmaxMax(double n, double gap = 5.0);
/// SSMax's largest weight for the same logits: 1 / (1 + (n-1) n^(-s·gap)).
double theorySsmaxMax(double n, double s, double gap = 5.0);

/// The n at which theory curves are tabulated: 1, 2, 4, ... up to n_max (at least n = 1; at most 63 values).
std::vector<int64_t> theoryContextSizes(int64_t n_max);

/// Largest n monteCarloMax samples: each n costs n × samples normal draws (2^18 × 200 ≈ 1 s here).
constexpr int64_t kMaxMonteCarloKeys = int64_t{1} << 18;

/// Monte Carlo: expected largest weight of softmax(m(n) · z) for n i.i.d. N(0, sigma²) logits z. Throws
/// std::invalid_argument for an n outside [1, kMaxMonteCarloKeys].
std::vector<double> monteCarloMax(const std::vector<int64_t>& ns, double sigma,
                                  const std::function<double(int64_t)>& multiplier, int samples = 200,
                                  uint64_t seed = 1);

}  // namespace attnscope
