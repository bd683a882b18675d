#pragma once
// Named observation points inside the forward pass, TransformerLens-style. One registration API: a name
// pattern and a callback, registered for as long as the returned HookHandle lives. Hook names and the tensor
// each receives (B = batch, H = heads, Hkv = kv heads, qb = q1 - q0, kb = k1 - k0):
//
//   blocks.{L}.hook_resid_pre        [B, T, d_model]     residual stream entering block L
//   blocks.{L}.attn.hook_q           [B, H, T, d_head]   queries after RoPE
//   blocks.{L}.attn.hook_k           [B, Hkv, T, d_head] keys after RoPE
//   blocks.{L}.attn.hook_v           [B, Hkv, T, d_head] values
//   blocks.{L}.attn.hook_scores      [B, H, qb, kb]      z = q·k/sqrt(d_head), masked -inf
//   blocks.{L}.attn.hook_multiplier  [H, qb]             the normalizer's logit multiplier m per query
//   blocks.{L}.attn.hook_logits      [B, H, qb, kb]      m·z, the softmax input, masked -inf
//   blocks.{L}.attn.hook_pattern     [B, H, qb, kb]      probabilities softmax(m·z) over the visible keys
//   blocks.{L}.attn.hook_z           [B, H, qb, d_head]  per-head output, before the output projection
//   blocks.{L}.hook_resid_post       [B, T, d_model]     residual stream leaving block L
//   ln_final.hook_normalized         [B, T, d_model]     final norm output, before the unembedding
//   unembed.hook_logits              [B, P, vocab]       next-token logits at the P positions asked for
//                                                        (ForwardOptions::logits); absent for none
//
// Attention hooks are called once per query block [q0, q1) and carry only the key columns [k0, k1) that any
// query of the block can see (causal: k1 = q1; sliding window: k0 > 0), so a consumer never needs the T×T map
// in memory. Every other hook is called once per forward with q0 = k0 = 0 and q1 = k1 = T. A consumer that
// needs several stages of one block observes the layer's attention instead (observeAttention): one event per
// block carries the scores, multiplier, logits and probabilities together.
//
// A callback returns void or a HookResult: HookResult::Stop ends the pass early without an exception
// (ForwardResult::stopped says so), as ggml's evaluation callback returns false.
//
// Scores are z = scale·q·k with scale 1/sqrt(d_head) (Gemma: query_pre_attn_scalar^-1/2). Under soft-capping
// (Gemma 2's attn_logit_softcapping, cap > 0) hook_scores holds the capped scores cap·tanh(z/cap) and
// hook_logits holds m·cap·tanh(z/cap): the normalizer's multiplier scales the capped scores, so tanh never
// clips SSMax's growth with n.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "attnscope/hook_names.h"  // names are formatted and parsed there

namespace attnscope {

/// What a hook asks of the pass it observes.
enum class HookResult { Continue, Stop };

/// What a hook callback receives. The tensor is the model's own: read or copy it, never modify it.
struct HookEvent {
  const std::string& name;
  int64_t layer;   // -1 for hooks outside the blocks
  int64_t q0, q1;  // query rows held by the tensor
  int64_t k0, k1;  // key columns held by the tensor (attention hooks)
  const at::Tensor& tensor;
};

/// Every stage of one query block [q0, q1) of one layer's attention, over keys [k0, k1). The tensors are the
/// model's own: read or copy them, never modify them.
struct AttentionBlock {
  int64_t layer;
  int64_t q0, q1, k0, k1;
  const at::Tensor& scores;      // [B, H, q1-q0, k1-k0] z, masked -inf; undefined unless an observer
                                 // registered with AttentionStages::with_scores
  const at::Tensor& multiplier;  // [H, q1-q0] the normalizer's logit multiplier m (ones for softmax)
  const at::Tensor& logits;      // [B, H, q1-q0, k1-k0] m·z, the softmax input, masked -inf
  const at::Tensor& pattern;     // [B, H, q1-q0, k1-k0] probabilities
};

using HookCallback = std::function<HookResult(const HookEvent&)>;
using AttentionObserver = std::function<HookResult(const AttentionBlock&)>;

/// Which optional stages an attention observer needs (each costs a copy of the block).
struct AttentionStages {
  bool with_scores = false;  // the pre-normalizer scores z (masked)
};

/// Keeps a hook registered and removes it when destroyed or on remove(), like TransformerLens's
/// `with model.hooks()`. Move-only; it may outlive the registry.
class [[nodiscard]] HookHandle {
 public:
  HookHandle() = default;
  ~HookHandle() { remove(); }
  HookHandle(HookHandle&& other) noexcept;
  HookHandle& operator=(HookHandle&& other) noexcept;
  HookHandle(const HookHandle&) = delete;
  HookHandle& operator=(const HookHandle&) = delete;

  /// Unregisters the hook now (no-op when already removed).
  void remove();
  /// Returns whether the hook is still registered.
  bool active() const;

 private:
  friend class HookRegistry;
  struct State;
  HookHandle(std::weak_ptr<State> state, int64_t id) : m_state(std::move(state)), m_id(id) {}
  std::weak_ptr<State> m_state;
  int64_t m_id = 0;
};

/// Registered callbacks, matched by name pattern: an exact name, or a glob where '*' matches any run of
/// characters ("blocks.*.attn.hook_pattern", "blocks.3.*", "*").
class HookRegistry {
 public:
  HookRegistry();
  ~HookRegistry();
  HookRegistry(const HookRegistry&) = delete;
  HookRegistry& operator=(const HookRegistry&) = delete;

  /// Registers a callback for every hook whose name matches the pattern, for as long as the handle lives. The
  /// callback returns void or a HookResult.
  template <class Callback>
  HookHandle add(std::string pattern, Callback&& callback) {
    if constexpr (std::is_same_v<std::invoke_result_t<Callback&, const HookEvent&>, HookResult>) {
      return addCallback(std::move(pattern), HookCallback(std::forward<Callback>(callback)));
    } else {
      return addCallback(std::move(pattern),
                         [f = std::forward<Callback>(callback)](const HookEvent& e) mutable {
                           f(e);
                           return HookResult::Continue;
                         });
    }
  }

  /// Registers an observer of whole attention blocks of the layers whose attention module name
  /// ("blocks.{L}.attn") matches the pattern, for as long as the handle lives. It is called once per query
  /// block, after the block's per-name attention hooks up to hook_pattern.
  HookHandle observeAttention(std::string pattern, AttentionObserver observer, AttentionStages stages = {});

  /// Unregisters everything (handles of removed hooks become inactive).
  void clear();
  bool empty() const;

  /// Returns whether any callback listens to this name (lets the model skip work nobody observes).
  bool listens(const std::string& name) const;
  /// Returns whether any attention observer watches this attention module ("blocks.{L}.attn"), and whether
  /// one of them wants the scores.
  bool observesAttention(const std::string& attn_name, bool* with_scores = nullptr) const;

  /// Calls every matching callback in registration order; stops at the first that returns Stop and returns
  /// Stop. Callbacks may add and remove hooks; those take effect from the next event.
  HookResult fire(const HookEvent& event) const;
  /// Calls the attention observers of a module, like fire().
  HookResult fireAttention(const std::string& attn_name, const AttentionBlock& block) const;

  /// Returns whether a glob pattern matches a name.
  static bool matches(const std::string& pattern, const std::string& name);

 private:
  HookHandle addCallback(std::string pattern, HookCallback callback);
  std::shared_ptr<HookHandle::State> m_state;
};

/// The hook names of one block, built once so the forward pass does no string formatting.
struct BlockHookNames {
  std::string resid_pre, attn, q, k, v, scores, multiplier, logits, pattern, z, resid_post;
  explicit BlockHookNames(int64_t layer);
};

}  // namespace attnscope
