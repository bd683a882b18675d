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
#include "attnscope/capture_syntax.h"  // parseMapSpec, parseTargetRanges
#include "attnscope/store.h"

namespace attnscope {

class Model;
struct ModelConfig;

// Statistics stored per layer, head and query position (each a dataset [n_layer, n_head, T]): the catalogue
// in attnscope/statistics.h (capturedStatistics).

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
