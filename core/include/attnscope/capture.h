#pragma once
// Streaming capture: runs a model once per normalizer over the same tokens and writes per-head statistics for
// every query position, and the attention maps asked for, into a capture file — block by block, so memory is
// bounded by the query block, never by T². runCapture (capture_request.h) does the whole job; captureRuns is
// its part that needs a loaded model and an open file.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "attnscope/capture_request.h"
#include "attnscope/store.h"

namespace attnscope {

class Model;
struct ModelConfig;

/// Statistics stored per layer, head and query position (each a dataset [n_layer, n_head, T]).
///   max_prob     largest probability of the row
///   argmax       key position of that probability
///   entropy      -Σ p ln p (nats)
///   sink_mass    probability on the first token (attention sink)
///   topk_mass    summed probability of the k largest keys (k = CaptureRequest::topk)
///   target_mass  probability on the target token ranges (only when targets are given)
///   multiplier   the normalizer's logit multiplier m for the query
///   n_keys       number of keys the query sees (the n of SSMax)
std::vector<std::string> captureStatNames(bool with_targets);

/// Parses a --maps spec for a model: "all", "none", or comma-separated "L.H" items where L or H may be '*'
/// ("3.5,7.*"); a "scores:" prefix on an item stores pre-normalizer scores instead of probabilities.
std::vector<MapRequest> parseMapSpec(const std::string& spec, int64_t n_layer, int64_t n_head);

/// Parses a --targets spec of token ranges "10:20,40:45" (end exclusive) against T tokens.
std::vector<std::pair<int64_t, int64_t>> parseTargetRanges(const std::string& spec, int64_t n_tokens);

/// Describes a loaded model directory for a capture file: its config text, the directory and a hash of its
/// weights.
CaptureModel describeCheckpoint(const Model& model, const std::string& model_dir);

/// Returns a valid run (group) name for a normalizer spec.
std::string runNameFor(const std::string& normalizer);

/// Checks a request's run fields (normalizers, run_names, maps, targets, topk, query_block) against a model
/// and a prompt of n_tokens, before anything is written, and returns the runs as the file will record them
/// (captureRuns adds their compute_dtype and model). Throws CaptureRequestError, std::invalid_argument
/// (normalizer specs).
std::vector<RunSpec> planCaptureRuns(const CaptureRequest& request, const ModelConfig& config,
                                     int64_t n_tokens);

/// Runs a loaded model over ids once per normalizer of the request and appends one complete run each to the
/// file, reading only the request's run fields. weights describes the model's checkpoint: the runs record it
/// when it is not the file's /model. Throws like planCaptureRuns, and StoreError; a cancelled run stays in
/// the file marked incomplete. Returns the number of runs completed.
int64_t captureRuns(Model& model, const std::vector<int64_t>& ids, const CaptureModel& weights,
                    CaptureFile& file, const CaptureRequest& request,
                    const CaptureProgressCallback& progress = {}, const CancelPredicate& cancel = {});

}  // namespace attnscope
