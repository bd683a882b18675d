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

/// The statistics blockRowStats returns, in its order: max_prob, argmax, entropy, sink_mass, topk_mass, and
/// target_mass when there are targets (names from attnscope/statistics.h).
std::vector<const char*> blockRowStatNames(bool with_targets);

/// Returns the row statistics of batch item 0 of a block: [n_stats, H, q1-q0] float32 in blockRowStatNames
/// order. targets: key ranges [begin, end) for target_mass, or null.
at::Tensor blockRowStats(const AttentionBlock& block, int64_t topk,
                         const std::vector<std::pair<int64_t, int64_t>>* targets);

/// Returns n, the keys each query of the block sees: [q1-q0] float32, position + 1 capped by the layer's
/// sliding window.
at::Tensor blockKeyCounts(const ModelConfig& config, const AttentionBlock& block);

}  // namespace attnscope
