#pragma once
// Internal: what every architecture module provides to Model, and the context a forward pass runs in.

#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "attnscope/model.h"
#include "layers.h"

namespace attnscope {

/// Everything a forward pass needs besides the weights; built by Model for each call.
struct ForwardContext {
  const ModelConfig& config;
  const HookRegistry& hooks;
  const NormalizerSpec& normalizer;
  const AttentionOptions& options;
  const std::vector<BlockHookNames>& names;
  /// dtype of the weight matrices: bfloat16 also runs the attention's probability-weighted sum of values in
  /// bfloat16 (its result only feeds the bfloat16 output projection); scores and probabilities stay float32.
  torch::ScalarType matrix_dtype = torch::kFloat32;
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

/// Registers the learned SSMax parameters on an attention module when the config asks for them.
void registerSsmax(torch::nn::Module& attn, const ModelConfig& config, torch::Tensor& s, torch::Tensor& b);

}  // namespace attnscope
