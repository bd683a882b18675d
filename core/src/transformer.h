#pragma once
// Internal: what every architecture module provides to Model, and the context a forward pass runs in.

#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "attnscope/model.h"
#include "layers.h"

namespace attnscope {

/// The model's hooks as one forward pass sees them. A hook that returns HookResult::Stop stops the pass: from
/// then on nothing listens and nothing fires, and the architectures leave their layer loops at the next check
/// of stopped(), so the pass ends without an exception.
class PassHooks {
 public:
  explicit PassHooks(const HookRegistry& registry) : m_registry(registry) {}
  bool listens(const std::string& name) const { return !m_stopped && m_registry.listens(name); }
  /// Returns whether an attention observer watches this module ("blocks.{L}.attn"), and whether one wants the
  /// scores.
  bool observesAttention(const std::string& attn_name, bool* with_scores) const {
    *with_scores = false;
    return !m_stopped && m_registry.observesAttention(attn_name, with_scores);
  }
  void fire(const HookEvent& event) const {
    if (!m_stopped && m_registry.fire(event) == HookResult::Stop) m_stopped = true;
  }
  void fireAttention(const std::string& attn_name, const AttentionBlock& block) const {
    if (!m_stopped && m_registry.fireAttention(attn_name, block) == HookResult::Stop) m_stopped = true;
  }
  /// Returns whether a hook asked to stop the pass.
  bool stopped() const { return m_stopped; }

 private:
  const HookRegistry& m_registry;
  // Architectures see a pass's hooks as const; a hook's request to stop is the one state they carry.
  mutable bool m_stopped = false;
};

/// Everything a forward pass needs besides the weights; built by Model for each call from its options.
struct ForwardContext {
  const ModelConfig& config;
  const PassHooks& hooks;
  const NormalizerSpec& normalizer;  // this pass's (ForwardOptions::normalizer, else the model's)
  const AttentionOptions& options;   // the model's, with this pass's query block
  const std::vector<BlockHookNames>& names;
  /// dtype of the weight matrices: bfloat16 also runs the attention's probability-weighted sum of values in
  /// bfloat16 (its result only feeds the bfloat16 output projection); scores and probabilities stay float32.
  torch::ScalarType matrix_dtype = torch::kFloat32;
  /// Set: this pass's tokens follow the cache's n_past positions; attention appends to it and reads all.
  KvCache* cache = nullptr;
  int64_t n_past = 0;       // absolute position of this pass's first token (0 without a cache)
  torch::Tensor positions;  // ForwardOptions::positions: RoPE positions [T] or [B, T]; undefined: n_past..
};

class TransformerImpl : public torch::nn::Module {
 public:
  /// The final-norm output [B, T, d_model] (float32) for ids [B, T]; fires every hook up to ln_final.
  virtual torch::Tensor hidden(const torch::Tensor& ids, const ForwardContext& ctx) = 0;
  /// Next-token logits [B, P, vocab] (float32) for final-norm states x [B, P, d_model].
  virtual torch::Tensor unembed(const torch::Tensor& x) = 0;
  /// Learned SSMax s and b of a layer ([n_head]); undefined when absent.
  virtual torch::Tensor ssmaxS(int64_t layer) const = 0;
  virtual torch::Tensor ssmaxB(int64_t layer) const = 0;
  /// Returns whether a checkpoint tensor that is no parameter may be ignored (buffers older exports carry).
  virtual bool ignorable(const std::string& tensor_name) const = 0;
  /// Returns the prefix this checkpoint puts before the parameter names ("" or "transformer.").
  virtual std::string checkpointPrefix(const std::set<std::string>& tensor_names) const { return ""; }
};

std::shared_ptr<TransformerImpl> makeGpt2(const ModelConfig& config, const ParamInit& init);
std::shared_ptr<TransformerImpl> makeLlama(const ModelConfig& config, const ParamInit& init);
std::shared_ptr<TransformerImpl> makeGptNeox(const ModelConfig& config, const ParamInit& init);
std::shared_ptr<TransformerImpl> makePhi3(const ModelConfig& config, const ParamInit& init);

/// Returns the SSMax initial s: 1 / mean(ln n) over n = 1..n_ctx, so s·ln n averages 1 over the context.
double defaultSsmaxS(int64_t n_ctx);

/// Registers the learned SSMax parameters on layer `layer`'s attention module when the config gives that
/// layer any (ModelConfig::hasLearnedSsmax).
void registerSsmax(torch::nn::Module& attn, const ModelConfig& config, int64_t layer, torch::Tensor& s,
                   torch::Tensor& b);

}  // namespace attnscope
