#pragma once
// Attention normalizers: softmax and the per-query logit multipliers that generalise it (SSMax, logn,
// temperature tuning). Every normalizer here is softmax(m · z) over the visible keys, where z are the scaled
// dot-product logits and m is a multiplier per layer, head and query. The spec grammar (parse and print) is
// torch-free in attnscope/normalizer_spec.h; this is the model side. No torch in this header.

#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/config.h"
#include "attnscope/normalizer_spec.h"

namespace attnscope {

/// Checks a spec against a model: list sizes, learned parameters present. Throws std::invalid_argument.
void validateNormalizer(const NormalizerSpec& spec, const ModelConfig& config);

/// Returns the number of keys the query at 0-based position `pos` sees under a sliding window (0: none).
inline int64_t visibleKeys(int64_t pos, int64_t window) {
  return window > 0 && pos + 1 > window ? window : pos + 1;
}

/// Returns the multiplier m of a query for the position-only normalizers (softmax, logn, temperature).
double positionMultiplier(const NormalizerSpec& spec, int64_t pos, int64_t n_visible);

}  // namespace attnscope
