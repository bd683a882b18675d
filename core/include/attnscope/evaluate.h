#pragma once
// Evaluation of a model on held-out fortunes text, a fixed-shape sweep (sweep_request.h) whose records are
// turned into tables instead of a sweep file; it runs on the sweep runner, so both measure the same way:
//   loss      mean next-token cross-entropy per position bucket, out to many times the training context;
//   needle    retrieval accuracy against prompt length and needle depth: exact match of the 7 digits produced
//   by
//             greedy generation, and the share of digits generated in their place;
//   heads     needle score per layer and head: attention mass from the answer position onto the needle
//             sentence (the paper's Figure 7), averaged over the prompts of a length and depth.
// Prompts are in the model's own tokens; for byte-level models (those `train` makes) they are the prompts
// eval has always used. No torch in this header.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attnscope/dtype.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/train_data.h"

namespace attnscope {

struct EvalParams {
  std::string normalizer =
      kNormalizerSoftmax;         // any normalizer spec: softmax, ssmax (learned), ssmax:ctx=256, ...
  double rope_theta_scale = 1.0;  // multiplies config rope_theta (the paper raises it 50x at evaluation)
  ComputeDtype dtype = ComputeDtype::Auto;  // precision of the linear layers
  /// Needle prompt lengths in tokens; the loss is measured out to the largest. Empty: n_ctx × 1, 2, 4, 8, 16.
  std::vector<int64_t> lengths;
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int64_t n_needle_prompts = 8;  // per length and depth
  int64_t n_loss_sequences = 8;  // held-out sequences of the largest length
  uint64_t seed = 1234;          // chooses haystack offsets and needles (the same for every model)
  CorpusParams corpus;
  /// Called with a one-line description after each part (the loss, each needle length).
  std::function<void(const std::string&)> progress;
};

/// Mean loss of the positions [pos_begin, pos_end) (0-based token positions of the predicted byte's context).
struct LossBucket {
  int64_t pos_begin = 0;
  int64_t pos_end = 0;
  double loss = 0;  // nats per byte
  int64_t n_tokens = 0;
};

struct NeedleResult {
  int64_t length = 0;
  double depth = 0;
  int64_t n_prompts = 0;
  double accuracy = 0;        // share of prompts whose greedy continuation starts with the 7 digits
  double digit_accuracy = 0;  // share of the digits generated in their place
};

struct NeedleHeadScore {
  int64_t length = 0;
  double depth = 0;
  int64_t layer = 0;
  int64_t head = 0;
  double needle_mass = 0;  // attention of the last prompt position on the needle sentence, mean over prompts
};

struct EvalResult {
  std::string normalizer;  // canonical text of the spec used
  double rope_theta = 0;   // in force during the evaluation
  int64_t n_ctx = 0;       // the model's training context
  std::string tokenizer;   // Tokenizer::kind(): "bytes" makes the loss nats per byte
  std::vector<LossBucket> loss;
  std::vector<NeedleResult> needle;
  std::vector<NeedleHeadScore> heads;
};

/// Returns the loss bucket edges for sequences of n_tokens: 0, n_ctx/8, n_ctx/4, ..., doubling, n_tokens.
std::vector<int64_t> lossBucketEdges(int64_t n_ctx, int64_t n_tokens);

/// Evaluates a model directory; throws std::invalid_argument for lengths too short for a needle prompt, and
/// what runSweep throws.
EvalResult evaluateModel(const std::string& model_dir, const EvalParams& params);

/// Writes the result as one tidy CSV: metric,normalizer,rope_theta,length,depth,layer,head,pos_begin,pos_end,
/// value,count (metric: loss, needle_accuracy, needle_digit_accuracy, needle_mass; unused columns empty).
void writeEvalCsv(const EvalResult& result, const std::string& path);

}  // namespace attnscope
