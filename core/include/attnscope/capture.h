#pragma once
// Streaming capture: runs a model once per normalizer over the same tokens and writes per-head statistics for
// every query position, and the attention maps asked for, into a capture file — block by block, so memory is
// bounded by the query block, never by T².

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "attnscope/capture_syntax.h"  // parseMapSpec, parseTargetRanges
#include "attnscope/normalizer_spec.h"
#include "attnscope/store.h"

namespace attnscope {

class Model;

// Statistics stored per layer, head and query position (each a dataset [n_layer, n_head, T]): the catalogue
// in attnscope/statistics.h (capturedStatistics).

struct CaptureParams {
  std::vector<std::string> normalizers = {kNormalizerSoftmax};  // one run each
  std::vector<std::string> run_names;                // optional; default: derived from the normalizer
  std::optional<CaptureModel> run_model;             // set when the weights differ from the file's /model
  std::vector<MapRequest> maps;                      // maps to store (hook, layer, heads)
  std::vector<std::pair<int64_t, int64_t>> targets;  // [begin, end) token ranges for target_mass
  int64_t topk = 10;
  int64_t query_block = 0;  // 0: the model's memory-bounded default
  /// Called after each layer of each run with (run index, layer, n_layer); return false to cancel.
  std::function<bool(int64_t, int64_t, int64_t)> progress;
};

/// Describes a loaded model directory for a capture file: its config text, the directory and a hash of its
/// weights.
CaptureModel describeCheckpoint(const Model& model, const std::string& model_dir);

/// Returns a valid run (group) name for a normalizer spec.
std::string runNameFor(const std::string& normalizer);

/// Runs the model over ids once per normalizer and appends one complete run each to the file. Throws
/// std::invalid_argument, StoreError; a cancelled run stays in the file marked incomplete.
/// Returns the number of runs completed.
int64_t captureRuns(Model& model, const std::vector<int64_t>& ids, CaptureFile& file,
                    const CaptureParams& params);

}  // namespace attnscope
