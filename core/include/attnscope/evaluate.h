#pragma once
// Evaluation of byte-level models (those `train` makes) on held-out fortunes text:
//   loss      mean next-byte cross-entropy per position bucket, out to many times the training context;
//   needle    retrieval accuracy against prompt length and needle depth (exact match of the 7 digits);
//   heads     needle score per layer and head: attention mass from the answer position onto the needle
//   sentence
//             (the paper's Figure 7), averaged over the prompts of a length and depth.
// Greedy decoding of the digits is checked with one teacher-forced forward pass: greedy decoding reproduces
// the answer exactly when every digit is the argmax given the correct digits before it, so exact-match
// accuracy equals that of step-by-step greedy decoding. digit_accuracy is the teacher-forced share of digits.
// No torch in this header.

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
  int64_t n_needle_prompts = 8;  // per length and depth, run as one batch
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
  double accuracy = 0;        // share of prompts whose 7 digits greedy decoding reproduces exactly
  double digit_accuracy = 0;  // share of digits that are the argmax given the correct earlier digits
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
  std::vector<LossBucket> loss;
  std::vector<NeedleResult> needle;
  std::vector<NeedleHeadScore> heads;
};

/// Returns the loss bucket edges for sequences of n_tokens: 0, n_ctx/8, n_ctx/4, ..., doubling, n_tokens.
std::vector<int64_t> lossBucketEdges(int64_t n_ctx, int64_t n_tokens);

/// Evaluates a byte-level model directory; throws std::invalid_argument for a model without the byte
/// tokenizer or lengths too short for a needle prompt.
EvalResult evaluateModel(const std::string& model_dir, const EvalParams& params);

/// Writes the result as one tidy CSV: metric,normalizer,rope_theta,length,depth,layer,head,pos_begin,pos_end,
/// value,count (metric: loss, needle_accuracy, needle_digit_accuracy, needle_mass; unused columns empty).
void writeEvalCsv(const EvalResult& result, const std::string& path);

}  // namespace attnscope
