#pragma once
// Per-row attention statistics of one query block, as the capture stores them and a sweep bins them: the one
// place an AttentionBlock is turned into computeRowStats' input and output (internal to the core; torch).

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "attnscope/config.h"
#include "attnscope/hooks.h"

namespace attnscope {

/// The statistics blockRowStats returns, in its order: max_prob, argmax, entropy, sink_mass, topk_mass,
/// target_mass when there are targets, then the head types prev_token_mass, induction_mass, local_mass and
/// mean_distance (names from attnscope/statistics.h).
std::vector<const char*> blockRowStatNames(bool with_targets);

/// What the row statistics of a block depend on besides the block.
struct BlockStatsOptions {
  int64_t topk = 10;                                                  // k of topk_mass
  const std::vector<std::pair<int64_t, int64_t>>* targets = nullptr;  // key ranges [begin, end), or null
  int64_t local_window = 8;                                           // W of local_mass
  const std::vector<int64_t>* induction_keys = nullptr;  // inductionKeys of the pass's ids; null: NaN
};

/// Returns the row statistics of batch item 0 of a block: [n_stats, H, q1-q0] float32 in blockRowStatNames
/// order (with_targets: options.targets is non-empty).
at::Tensor blockRowStats(const ModelConfig& config, const AttentionBlock& block,
                         const BlockStatsOptions& options);

/// Returns n, the keys each query of the block sees: [q1-q0] float32, position + 1 capped by the layer's
/// sliding window.
at::Tensor blockKeyCounts(const ModelConfig& config, const AttentionBlock& block);

}  // namespace attnscope
