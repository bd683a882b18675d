#pragma once
// Attention normalizers: softmax and the per-query logit multipliers that generalise it (SSMax, logn,
// temperature tuning). Every normalizer here is softmax(m · z) over the visible keys, where z are the scaled
// dot-product logits and m is a multiplier per layer, head and query. No torch in this header.

#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/config.h"

namespace attnscope {

enum class NormalizerKind {
  Softmax,      // m = 1
  Ssmax,        // m = s·ln(n) + b, n = number of keys the query sees (arXiv 2501.19399)
  Logn,         // m = ln(n)/ln(L) for n > L, else 1 (Qwen-1 use_logn_attn)
  Temperature,  // m = log1p(floor((pos + 1) / floor_scale)) · attn_scale + 1 (Llama 4), pos 0-based
};

/// One normalizer and its parameters, as chosen for a run. Parse from text with parseNormalizer().
struct NormalizerSpec {
  NormalizerKind kind = NormalizerKind::Softmax;
  /// SSMax: take s (and b) from the checkpoint's learned tensors instead of s/b below.
  bool use_learned = false;
  /// SSMax s and b: one value for all, n_layer values (per layer) or n_layer·n_head values ([layer][head]).
  std::vector<double> s;
  std::vector<double> b;
  double logn_base = 0.0;     // Logn: L
  double floor_scale = 8192;  // Temperature
  double attn_scale = 0.1;    // Temperature

  /// Returns the canonical text form, parseable by parseNormalizer().
  std::string text() const;
  /// Returns s (or b) for one layer and head; b defaults to 0.
  double sAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const;
  double bAt(int64_t layer, int64_t head, int64_t n_layer, int64_t n_head) const;
};

/// Parses "softmax", "ssmax" (learned), "ssmax:s=0.3,b=0.1", "ssmax:s=0.2/0.3/...", "ssmax:ctx=256"
/// (s = 1/ln 256), "logn:L=1024", "temperature:floor=8192,scale=0.1". Throws std::invalid_argument.
NormalizerSpec parseNormalizer(const std::string& text);

/// Checks a spec against a model: list sizes, learned parameters present. Throws std::invalid_argument.
void validateNormalizer(const NormalizerSpec& spec, const ModelConfig& config);

/// Returns the number of keys the query at 0-based position `pos` sees under a sliding window (0: none).
inline int64_t visibleKeys(int64_t pos, int64_t window) {
  return window > 0 && pos + 1 > window ? window : pos + 1;
}

/// Returns the multiplier m of a query for the position-only normalizers (softmax, logn, temperature).
double positionMultiplier(const NormalizerSpec& spec, int64_t pos, int64_t n_visible);

}  // namespace attnscope
