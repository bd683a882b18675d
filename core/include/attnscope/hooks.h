#pragma once
// Named observation points inside the forward pass, TransformerLens-style. One registration API: a name
// pattern and a callback. Hook names and the tensor each receives (B = batch, H = heads, Hkv = kv heads):
//
//   blocks.{L}.hook_resid_pre        [B, T, d_model]      residual stream entering block L
//   blocks.{L}.attn.hook_q           [B, H, T, d_head]    queries after RoPE
//   blocks.{L}.attn.hook_k           [B, Hkv, T, d_head]  keys after RoPE
//   blocks.{L}.attn.hook_v           [B, Hkv, T, d_head]  values
//   blocks.{L}.attn.hook_scores      [B, H, q1-q0, k1-k0] z = q·k/sqrt(d_head) before the normalizer, masked
//   -inf blocks.{L}.attn.hook_multiplier  [H, q1-q0]           logit multiplier m the normalizer applied to
//   each query blocks.{L}.attn.hook_logits      [B, H, q1-q0, k1-k0] m·z, the softmax input, masked -inf
//   blocks.{L}.attn.hook_pattern     [B, H, q1-q0, k1-k0] probabilities softmax(m·z) over the visible keys
//   blocks.{L}.attn.hook_z           [B, H, q1-q0, d_head] attention output per head, before the output
//   projection blocks.{L}.hook_resid_post       [B, T, d_model]      residual stream leaving block L
//   ln_final.hook_normalized         [B, T, d_model]      final norm output, before the unembedding
//   unembed.hook_logits              [B, P, vocab]        next-token logits at the P positions the caller
//   asked
//                                                         for (Model::forward's LogitPositions); absent for
//                                                         none
//
// Attention hooks are called once per query block [q0, q1) and carry only the key columns [k0, k1) that any
// query of the block can see (causal: k1 = q1; sliding window: k0 > 0), so a consumer never needs the T×T map
// in memory. Every other hook is called once per forward with q0 = k0 = 0 and q1 = k1 = T.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "attnscope/hook_names.h"  // names are formatted and parsed there

namespace attnscope {

/// What a hook callback receives. The tensor is the model's own: read or copy it, never modify it.
struct HookEvent {
  const std::string& name;
  int64_t layer;   // -1 for hooks outside the blocks
  int64_t q0, q1;  // query rows held by the tensor
  int64_t k0, k1;  // key columns held by the tensor (attention hooks)
  const at::Tensor& tensor;
};

using HookCallback = std::function<void(const HookEvent&)>;

/// Registered callbacks, matched by name pattern: an exact name, or a glob where '*' matches any run of
/// characters ("blocks.*.attn.hook_pattern", "blocks.3.*", "*").
class HookRegistry {
 public:
  using Id = int64_t;

  /// Registers a callback for every hook whose name matches the pattern; returns an id for remove().
  Id add(std::string pattern, HookCallback callback);
  void remove(Id id);
  void clear();
  bool empty() const { return m_entries.empty(); }

  /// Returns whether any callback listens to this name (lets the model skip work nobody observes).
  bool listens(const std::string& name) const;
  /// Calls every matching callback in registration order.
  void fire(const HookEvent& event) const;

  /// Returns whether a glob pattern matches a name.
  static bool matches(const std::string& pattern, const std::string& name);

 private:
  struct Entry {
    Id id;
    std::string pattern;
    HookCallback callback;
  };
  std::vector<Entry> m_entries;
  Id m_next_id = 1;
};

/// The hook names of one block, built once so the forward pass does no string formatting.
struct BlockHookNames {
  std::string resid_pre, q, k, v, scores, multiplier, logits, pattern, z, resid_post;
  explicit BlockHookNames(int64_t layer);
};

}  // namespace attnscope
