#pragma once
// Decoder-only transformers (GPT-2 and the Llama family) written with explicit attention so every stage can
// be observed through hooks, and trained with autograd. Parameters carry the Hugging Face names, so a
// checkpoint loads by name and a trained model saves in the layout it was loaded from.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "attnscope/config.h"
#include "attnscope/dtype.h"
#include "attnscope/hooks.h"
#include "attnscope/normalizer.h"
#include "attnscope/safetensors.h"

namespace torch::nn {
class Module;
}

namespace attnscope {

class PassHooks;
class TransformerImpl;

/// How a forward pass is cut into blocks so that memory stays O(T · d_model); none of it changes the results
/// beyond floating-point rounding.
struct AttentionOptions {
  int64_t query_block = 0;             // queries per block; 0 picks it from max_block_bytes
  int64_t max_block_bytes = 16 << 20;  // bound on one block's fp32 [B, H, q, k] scores
  int64_t max_mlp_bytes = 64 << 20;    // bound on one fp32 [B, positions, d_ff] MLP intermediate
  int64_t max_logit_bytes = 64 << 20;  // bound on one fp32 [B, positions, vocab] chunk of tokenLosses
};

/// How a new Model's weights start: random (for training) or left for loadWeights() to fill.
enum class WeightInit { Random, Uninitialized };

/// The positions whose next-token logits a forward pass computes. The head is a model's widest matrix: at
/// every position of a long prompt its output would be the largest tensor of the pass ([T, vocab]: 40 GB for
/// 65,536 tokens of a 151,936-token vocabulary), so callers ask only for the positions they read.
struct LogitPositions {
  bool every = false;              // all T positions (training, loss by position)
  std::vector<int64_t> positions;  // else these, in order; negative counts from the end (-1: last)

  static LogitPositions none() { return {}; }
  static LogitPositions all() { return {true, {}}; }
  static LogitPositions last() { return {false, {-1}}; }
  static LogitPositions at(std::vector<int64_t> positions) { return {false, std::move(positions)}; }
};

class Model;

/// The keys and values of the positions a model has already run, per layer, so that a later forward pass runs
/// only its new tokens (ForwardOptions::cache). Keys are stored after RoPE and k-norm, as attention reads
/// them; memory is K and V only: per layer [B, Hkv, positions, d_head], keys float32, values in the matrix
/// dtype. A cache belongs to one model, batch size and normalizer (later layers' keys depend on the
/// normalizer).
class KvCache {
 public:
  /// The positions cached: the next pass's first token is at this absolute position.
  int64_t length() const { return m_length; }
  /// Allocates room for n positions at the next growth, so appending up to n never copies (a hint).
  void reserve(int64_t n_positions) { m_reserve = n_positions; }
  /// Forgets every position (and the model, batch and normalizer it was tied to).
  void clear();

  /// Internal (architectures): appends one layer's new keys and values k, v [B, Hkv, T, d_head] at positions
  /// length()..length()+T-1; returns every cached key and value [B, Hkv, length() + T, d_head].
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k, const at::Tensor& v);

 private:
  friend class Model;
  struct Layer {
    at::Tensor k, v;     // [B, Hkv, capacity, d_head]; positions [0, length) hold data
    int64_t length = 0;  // ahead of KvCache::m_length while a pass runs
  };
  std::vector<Layer> m_layers;
  int64_t m_length = 0, m_reserve = 0, m_batch = 0;
  const Model* m_owner = nullptr;
  std::string m_normalizer;  // text() of the normalizer the cached keys were computed under
};

/// What one forward pass does beyond the model's defaults; nothing here outlives the call.
struct ForwardOptions {
  LogitPositions logits;                     // positions whose next-token logits to compute
  std::optional<NormalizerSpec> normalizer;  // this pass's normalizer; unset: the model's (setNormalizer)
  int64_t query_block = 0;                   // queries per attention block; 0: attentionOptions()'s
  /// Set: the ids are the tokens at positions cache->length().. after the cached ones; attention also reads
  /// the cached keys, and the pass appends its own (no gradients flow through a cached pass). Logit positions
  /// count within the new tokens.
  KvCache* cache = nullptr;
  /// Set: the RoPE position of each token, int64 [T] (every sequence alike) or [B, T], instead of 0..T-1 (as
  /// Hugging Face's position_ids; e.g. training with skipped positions). Only RoPE reads them: causal masks,
  /// sliding windows and each normalizer's n still count tokens. Llama family only; not with a cache.
  at::Tensor positions;
};

/// What one forward pass returned.
struct ForwardResult {
  at::Tensor logits;     // [B, P, vocab] float32 at the positions asked for; undefined for none, or stopped
  bool stopped = false;  // a hook returned HookResult::Stop and the pass ended early
};

/// How loadModel() opens a model directory.
struct LoadOptions {
  ComputeDtype dtype = ComputeDtype::Auto;
};

class Model {
 public:
  /// Builds a model; Random: float32, std 0.02 matrices, zero biases, unit norms, SSMax s = 1/mean ln n, b =
  /// 0. Uninitialized: placeholders that own no memory, in `dtype` (Auto counts as Float32), for
  /// loadWeights().
  explicit Model(const ModelConfig& config, WeightInit init = WeightInit::Random,
                 ComputeDtype dtype = ComputeDtype::Float32);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return m_config; }
  HookRegistry& hooks() { return m_hooks; }
  const HookRegistry& hooks() const { return m_hooks; }
  AttentionOptions& attentionOptions() { return m_attention; }
  /// The dtype the linear layers compute in (Float32 or BFloat16).
  ComputeDtype computeDtype() const { return m_dtype; }

  /// Chooses the default normalizer of forward passes; throws std::invalid_argument if it does not fit.
  void setNormalizer(const NormalizerSpec& spec);
  const NormalizerSpec& normalizer() const { return m_normalizer; }

  /// Runs token ids [B, T] (int64) with this pass's options, firing the registered hooks until one asks to
  /// stop. Throws std::invalid_argument for bad ids, logit positions or a normalizer that does not fit.
  ForwardResult forward(const at::Tensor& ids, const ForwardOptions& options);
  /// Runs token ids [B, T] with the model's normalizer and attention options; returns the float32 next-token
  /// logits [B, P, vocab] at the P positions asked for, or an undefined tensor for LogitPositions::none() (or
  /// when a hook stopped the pass).
  at::Tensor forward(const at::Tensor& ids, const LogitPositions& logits);
  /// Next-token cross-entropy [B, T-1] (float32) of ids [B, T], T >= 2: entry p is -log P(ids[p+1] |
  /// ids[..p]). One pass through the layers, then the head in chunks of positions
  /// (AttentionOptions::max_logit_bytes), so memory never holds [T, vocab]. options.logits is not read.
  /// Undefined when a hook stopped the pass.
  at::Tensor tokenLosses(const at::Tensor& ids, const ForwardOptions& options = {});

  /// The module tree; parameter names equal the checkpoint tensor names.
  torch::nn::Module& module();
  int64_t parameterCount() const;
  /// Learned SSMax parameters of a layer, [n_head] each; undefined tensors when the model has none.
  at::Tensor ssmaxS(int64_t layer) const;
  at::Tensor ssmaxB(int64_t layer) const;

  /// Checks that the checkpoint holds exactly this model's tensors (names, shapes, dtypes) without reading
  /// any weight; throws CheckpointError.
  void checkWeights(const Checkpoint& checkpoint) const;
  /// Takes the checkpoint's weights after checkWeights(). Placeholders (WeightInit::Uninitialized) point into
  /// the memory-mapped files where dtype and alignment allow, else hold one copy in their dtype; allocated
  /// parameters (WeightInit::Random, e.g. continued training) receive a copy. The model keeps the files
  /// mapped.
  void loadWeights(const Checkpoint& checkpoint);

 private:
  /// Checks ids and options and runs the layers with a cache's bookkeeping; returns the final-norm states
  /// [B, T, d_model], or an undefined tensor when a hook stopped the pass.
  at::Tensor runLayers(const at::Tensor& ids, const ForwardOptions& options, const PassHooks& hooks);

  ModelConfig m_config;
  HookRegistry m_hooks;
  NormalizerSpec m_normalizer;
  AttentionOptions m_attention;
  ComputeDtype m_dtype = ComputeDtype::Float32;
  std::vector<BlockHookNames> m_names;
  std::shared_ptr<TransformerImpl> m_impl;
  std::optional<Checkpoint> m_weights;  // keeps the mapped files alive while parameters point into them
};

/// Returns the dtype a model computes in for a requested one: Auto follows the dtype of the checkpoint's
/// weight matrices (F32: Float32; BF16 and F16: BFloat16).
ComputeDtype resolveComputeDtype(ComputeDtype requested, const Checkpoint& checkpoint);

/// Writes config.json (the model's config text) and model.safetensors (F32) into a directory it creates.
void saveModel(Model& model, const std::string& model_dir);

/// Opens a Hugging Face model directory (config.json + safetensors weights); throws
/// ConfigError/CheckpointError.
std::unique_ptr<Model> loadModel(const std::string& model_dir, const LoadOptions& options = {});
/// Opens a model directory's weights under a given config (its own, modified, e.g. by withRopeTheta).
std::unique_ptr<Model> loadModel(const std::string& model_dir, const ModelConfig& config,
                                 const LoadOptions& options = {});

}  // namespace attnscope
