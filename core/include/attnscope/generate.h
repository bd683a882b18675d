#pragma once
// Greedy generation with a key/value cache: the prompt runs as one forward pass (every hook fires as in any
// forward, with the prompt's positions), then one token per step whose attention reads the cached keys and
// values instead of recomputing the prompt. Positions, RoPE, sliding windows and the normalizer's n are those
// of the full sequence, so each step's logits equal a full forward's at that position (to rounding).

#include <cstdint>
#include <optional>
#include <vector>

#include "attnscope/normalizer_spec.h"

namespace attnscope {

class Model;

struct GenerateOptions {
  int64_t max_new_tokens = 16;
  std::vector<int64_t> stop_ids;             // generation ends after emitting one of these
  std::optional<NormalizerSpec> normalizer;  // unset: the model's
};

struct Generation {
  std::vector<int64_t> ids;  // the generated tokens (not the prompt)
  bool stopped = false;  // a hook returned HookResult::Stop (in the prompt's pass or a step's): ids so far
};

/// Generates greedily (argmax at each step, ties to the lowest id) after prompt (token ids, batch 1): one
/// pass over the prompt, then one single-token pass per new token on a KvCache; hooks fire in every pass with
/// absolute positions. Throws std::invalid_argument for an empty prompt, bad ids, a negative max_new_tokens
/// or a sequence longer than learned positions allow, and std::runtime_error (one line) for LibTorch errors.
Generation generateGreedy(Model& model, const std::vector<int64_t>& prompt, const GenerateOptions& options);

}  // namespace attnscope
