#pragma once
// The tiny trainer that makes the bundled samples: a Llama-architecture model with bytes as tokens, softmax
// or learned SSMax attention, trained with AdamW on fortunes text mixed with the needle-retrieval task.
//
// Determinism: for a seed, the weights after N steps are bit-identical on one machine with one thread count.
// torch's generator is used only for the initial weights (no dropout); the data order comes from our own
// std::mt19937_64, drawn without libstdc++ distributions. Results do depend on the thread count (BLAS splits
// its sums differently), so a resumed run must use the same --threads as the run it continues.
// Only ATen's Tensor type in this header (as model.h), no torch.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "attnscope/normalizer_spec.h"
#include "attnscope/train_data.h"

namespace attnscope {

class Model;

/// Everything a training run depends on; equal params (and thread count) give equal weights.
struct TrainParams {
  // Model: Llama architecture (RoPE, RMSNorm, SwiGLU), vocabulary = 256 bytes.
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t d_model = 128;
  int64_t d_ff = 344;   // ~8/3 · d_model, as Llama sizes SwiGLU
  int64_t n_ctx = 256;  // training context (tokens per sequence)
  double rope_theta = 10000.0;
  std::string normalizer = kNormalizerSoftmax;  // softmax | ssmax (learned s per layer and head)
  bool ssmax_bias = false;                      // ssmax: also learn b in softmax((s·ln n + b)·z)
  std::string init_from;  // model directory whose weights start the run (continued training); empty: random
  // Position layout and attention options, written into config.json so the model loads like any checkpoint.
  int64_t pose_max = 0;              // > 0: PoSE position ids reaching this (--positions pose:MAX); 0: 0..T-1
  std::vector<int64_t> nope_layers;  // layers without RoPE (config no_rope_layers)
  std::vector<int64_t> window_layers;  // layers with a sliding window of `window` keys (config layer_types)
  int64_t window = 0;
  bool qk_norm = false;               // RMSNorm per head on q and k before RoPE (written as a qwen3 config)
  std::vector<int64_t> ssmax_layers;  // normalizer ssmax: the layers that learn s (and b); empty: all
  bool bf16 = false;                  // matrix products in bfloat16 (autocast); weights and AdamW in float32
  // Optimisation: AdamW, linear warm-up to lr, cosine decay to lr · min_lr_ratio at n_steps.
  int64_t n_steps = 3000;
  int64_t batch_size = 16;
  double lr = 2e-3;
  double min_lr_ratio = 0.1;
  int64_t warmup_steps = 100;
  double weight_decay = 0.1;  // on matrices and embeddings only; never on norms or SSMax s, b
  double beta1 = 0.9;
  double beta2 = 0.95;
  double grad_clip = 1.0;  // global gradient-norm bound (0: off)
  uint64_t seed = 1;
  // Data
  CorpusParams corpus;
  double needle_share = 0.4;   // fraction of sequences that carry a needle and its question
  double answer_weight = 1.0;  // loss weight of the 7 answer digits (1: plain language-model loss)
  double distractors = 0;      // other cities' needle sentences per 1,000 tokens of a needle sequence
  // Curriculum: no distractors before step curriculum_start, then their rate ramps linearly to `distractors`
  // at curriculum_end (both 0: the full rate from the first step).
  int64_t curriculum_start = 0;
  int64_t curriculum_end = 0;
  // Resume checkpoints
  int64_t checkpoint_every = 100;  // steps between checkpoints (0: only when stopped early)
};

/// Returns the defaults above (the sample models' settings).
TrainParams defaultTrainParams();

/// Returns the config.json text of the model the params describe (llama, byte tokenizer, SSMax keys).
std::string trainConfigJson(const TrainParams& params);

/// Returns the learning rate of a 0-based step: linear warm-up, then cosine decay.
double learningRate(const TrainParams& params, int64_t step);

/// Returns the distractor rate (per 1,000 tokens) of a 0-based step under the curriculum.
double distractorRate(const TrainParams& params, int64_t step);

/// One step's data.
struct TrainBatch {
  at::Tensor tokens;     // [B, T + 1] int64: inputs and next-token targets
  at::Tensor weights;    // [B, T] float32: loss weight of target tokens[b][i + 1]
  at::Tensor positions;  // [B, T] int64 RoPE positions (PoSE); undefined: 0..T-1
};

/// What the progress callback receives after each step.
struct TrainProgress {
  int64_t step = 0;  // steps done
  int64_t n_steps = 0;
  double loss = 0;  // mean cross-entropy of the step's batch, nats per byte
  double lr = 0;
  double tokens_per_s = 0;  // since this process started training
  double elapsed_s = 0;
  double eta_s = 0;
};

/// A model with its optimizer and data sampler; one step at a time. Trainer(params) seeds torch.
class Trainer {
 public:
  explicit Trainer(const TrainParams& params);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  Model& model();
  const TrainParams& params() const;
  /// Returns the number of optimizer steps taken.
  int64_t step() const;

  /// Draws the next batch from source text (needles, distractors at this step's rate, PoSE positions).
  TrainBatch nextBatch(const std::string& source);
  /// Takes one optimizer step on a batch; returns its mean cross-entropy (unweighted, before the update).
  double trainStep(const TrainBatch& batch);
  /// Takes one optimizer step on tokens [B, T + 1] (inputs and next-token targets) with loss weights [B, T];
  /// returns the batch's mean cross-entropy (unweighted, before the update).
  double trainStep(const at::Tensor& tokens, const at::Tensor& weights);
  /// Takes one step with every loss weight 1.
  double trainStep(const at::Tensor& tokens);
  /// Returns the mean cross-entropy of tokens [B, T + 1] without updating anything.
  double loss(const at::Tensor& tokens);

  /// Writes weights (saveModel layout), optimizer state, step and sampler state into dir, replacing it whole.
  void saveCheckpoint(const std::string& dir);
  /// Restores a checkpoint written by saveCheckpoint; throws std::runtime_error if its params differ.
  void loadCheckpoint(const std::string& dir);

 private:
  struct State;
  std::unique_ptr<State> m_state;
};

/// How a training run ended.
struct TrainResult {
  int64_t steps_done = 0;
  double last_loss = 0;
  bool finished = false;  // false: stopped by the callback, resumable from out_dir/checkpoint
};

using TrainCallback = std::function<bool(const TrainProgress&)>;

/// Trains into out_dir: the final model as config.json + model.safetensors, resume state in
/// out_dir/checkpoint (removed when training finishes). With resume, continues from that checkpoint; without,
/// refuses a directory that holds one. The callback returning false stops the run after a checkpoint.
TrainResult trainModel(const TrainParams& params, const std::string& out_dir, bool resume,
                       const TrainCallback& progress = {});

}  // namespace attnscope
