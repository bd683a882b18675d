#pragma once
// Decoder-only transformers (GPT-2 and the Llama family) written with explicit attention so every stage can
// be observed through hooks, and trained with autograd. Parameters carry the Hugging Face names, so a
// checkpoint loads by name and a trained model saves in the layout it was loaded from.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "attnscope/config.h"
#include "attnscope/hooks.h"
#include "attnscope/normalizer.h"

namespace torch::nn {
class Module;
}

namespace attnscope {

class Checkpoint;
class TransformerImpl;

/// How attention is executed; none of it changes the results beyond floating-point rounding.
struct AttentionOptions {
  int64_t query_block = 0;              // queries per block; 0 picks it from max_block_bytes
  int64_t max_block_bytes = 16 << 20;   // bound on one block's fp32 [B, H, q, k] scores
};

/// How a new Model's weights start: random (for training) or left for loadWeights() to fill.
enum class WeightInit { Random, Uninitialized };

class Model {
 public:
  /// Builds a model; Random: std 0.02 matrices, zero biases, unit norms, SSMax s = 1/mean ln n, b = 0.
  explicit Model(const ModelConfig& config, WeightInit init = WeightInit::Random);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return m_config; }
  HookRegistry& hooks() { return m_hooks; }
  const HookRegistry& hooks() const { return m_hooks; }
  AttentionOptions& attentionOptions() { return m_attention; }

  /// Chooses the normalizer for the next forward passes; throws std::invalid_argument if it does not fit.
  void setNormalizer(const NormalizerSpec& spec);
  const NormalizerSpec& normalizer() const { return m_normalizer; }

  /// Returns logits [B, T, vocab] (fp32) for token ids [B, T] (int64); fires the registered hooks.
  at::Tensor forward(const at::Tensor& ids);

  /// The module tree; parameter names equal the checkpoint tensor names.
  torch::nn::Module& module();
  int64_t parameterCount() const;
  /// Learned SSMax parameters of a layer, [n_head] each; undefined tensors when the model has none.
  at::Tensor ssmaxS(int64_t layer) const;
  at::Tensor ssmaxB(int64_t layer) const;

  /// Copies the checkpoint's weights in, checking names, shapes and dtypes; throws CheckpointError.
  void loadWeights(const Checkpoint& checkpoint);

 private:
  ModelConfig m_config;
  HookRegistry m_hooks;
  NormalizerSpec m_normalizer;
  AttentionOptions m_attention;
  std::vector<BlockHookNames> m_names;
  std::shared_ptr<TransformerImpl> m_impl;
};

/// Writes config.json (the model's config text) and model.safetensors (F32) into a directory it creates.
void saveModel(Model& model, const std::string& model_dir);

/// Opens a Hugging Face model directory (config.json + safetensors weights); throws ConfigError/CheckpointError.
std::unique_ptr<Model> loadModel(const std::string& model_dir);
/// Opens a model directory's weights under a given config (its own, modified, e.g. by withRopeTheta).
std::unique_ptr<Model> loadModel(const std::string& model_dir, const ModelConfig& config);

}  // namespace attnscope
