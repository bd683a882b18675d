#pragma once
// Per-row attention statistics for streaming capture, computed in a few cache-resident passes over each row
// instead of one full pass over the block per statistic.

#include <cstdint>
#include <utility>
#include <vector>

namespace attnscope {

/// Where computeRowStats writes; each pointer holds one value per row. target_mass may be null; so may the
/// head types (prev_token_mass .. mean_distance), which need RowStatsParams' query positions.
struct RowStatsOutput {
  float* max_prob = nullptr;
  float* argmax = nullptr;  // key position (column + k0), as float
  float* entropy = nullptr;
  float* sink_mass = nullptr;
  float* topk_mass = nullptr;
  float* target_mass = nullptr;
  float* prev_token_mass = nullptr;  // p on key i−1; NaN at i = 0
  float* induction_mass = nullptr;   // p on induction_keys[i]; NaN without one, or when it is not visible
  float* local_mass = nullptr;       // p on keys i−local_window+1..i
  float* mean_distance = nullptr;    // Σ_j p_j (i − j)
};

struct RowStatsParams {
  int64_t k0 = 0;  // key position of column 0
  int64_t topk = 10;
  const std::vector<std::pair<int64_t, int64_t>>* targets = nullptr;  // [begin, end) key positions
  // Query positions: row r is query i = q0 + r % n_queries (rows are [head, query] of one block); 0: r.
  int64_t q0 = 0, n_queries = 0;
  int64_t window = 0;        // the layer's sliding window: the query sees keys i−window+1..i (0: all ≤ i)
  int64_t local_window = 1;  // W of local_mass
  const std::vector<int64_t>* induction_keys = nullptr;  // [T] inductionKeys(ids); needed for induction_mass
};

/// The induction key of every query position: j + 1 for the latest j < i with ids[j] == ids[i], or -1 when
/// the token has not occurred before. O(T) time and memory: [T].
std::vector<int64_t> inductionKeys(const std::vector<int64_t>& ids);

/// Computes the statistics of rows attention rows. p: probabilities [rows, n_keys]; logits: the softmax input
/// they came from [rows, n_keys] (hidden keys -inf, p = 0 there). Entropy uses ln p_j = y_j - y_max + ln
/// p_max, so it needs no logarithm per key: H = sum_j p_j (y_max - y_j) - ln(p_max) sum_j p_j, both terms >=
/// 0.
void computeRowStats(const float* p, const float* logits, int64_t rows, int64_t n_keys,
                     const RowStatsParams& params, const RowStatsOutput& out);

}  // namespace attnscope
