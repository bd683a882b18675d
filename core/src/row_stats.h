#pragma once
// Per-row attention statistics for streaming capture, computed in a few cache-resident passes over each row
// instead of one full pass over the block per statistic.

#include <cstdint>
#include <utility>
#include <vector>

namespace attnscope {

/// Where computeRowStats writes; each pointer holds one value per row. target_mass may be null.
struct RowStatsOutput {
  float* max_prob = nullptr;
  float* argmax = nullptr;  // key position (column + k0), as float
  float* entropy = nullptr;
  float* sink_mass = nullptr;
  float* topk_mass = nullptr;
  float* target_mass = nullptr;
};

struct RowStatsParams {
  int64_t k0 = 0;  // key position of column 0
  int64_t topk = 10;
  const std::vector<std::pair<int64_t, int64_t>>* targets = nullptr;  // [begin, end) key positions
};

/// Computes the statistics of rows attention rows. p: probabilities [rows, n_keys]; logits: the softmax input
/// they came from [rows, n_keys] (hidden keys -inf, p = 0 there). Entropy uses ln p_j = y_j - y_max + ln
/// p_max, so it needs no logarithm per key: H = sum_j p_j (y_max - y_j) - ln(p_max) sum_j p_j, both terms >=
/// 0.
void computeRowStats(const float* p, const float* logits, int64_t rows, int64_t n_keys,
                     const RowStatsParams& params, const RowStatsOutput& out);

}  // namespace attnscope
