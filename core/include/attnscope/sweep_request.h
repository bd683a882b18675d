#pragma once
// One sweep request and its runner, as capture_request.h is for one prompt: the CLI's `sweep` and `eval`, the
// window and a Slurm array task fill in a SweepRequest and call runSweep(). No torch and no Qt in this
// header.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attnscope/dtype.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/sweep.h"

namespace attnscope {

struct SweepRequest {
  std::string model_dir;  // Hugging Face model directory (or a cached model id, resolved by the front end)
  ComputeDtype dtype = ComputeDtype::Auto;
  double rope_theta_scale = 1.0;  // multiplies config rope_theta (the paper raises it 50x at evaluation)
  SweepMode mode = SweepMode::Needle;
  std::vector<std::string> normalizers = {kNormalizerSoftmax};  // normalizer specs, one record per cell each
  std::vector<int64_t> lengths;                              // tokens; empty: the model's context × 1, 2, 4
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};  // needle mode
  int64_t prompts_per_cell = 8;
  uint64_t seed = 1234;
  double distractors = 0;  // other cities' needles per 1,000 tokens
  std::string haystack;    // text file or directory; empty: the corpus the setup script installs
  std::string out;         // sweep file
  SweepShard shard;        // the part of the grid to run
  bool resume = false;     // continue an existing file of the same sweep, skipping stored records
};

/// Where a sweep is.
struct SweepProgress {
  int64_t done = 0, total = 0;  // prompts (cells × normalizers) of this shard finished, and to do
  int64_t skipped = 0;          // of done, records found already stored (--resume)
  double seconds = 0;           // since the first prompt started
  double eta_seconds = -1;      // estimate for the rest; -1 until one prompt has run
  std::string last;             // one line about the last record ("length 1024 depth 0.5 #3 softmax: ok")
};

struct SweepResult {
  std::string path;
  int64_t n_written = 0, n_skipped = 0, n_total = 0;
  bool cancelled = false;  // stopped on request; every finished record is in the file
};

using SweepProgressCallback = std::function<void(const SweepProgress&)>;

/// Runs (or resumes) a sweep: checks the request and opens the model, then writes one record per (cell of
/// the shard, normalizer), each flushed as it finishes. Throws std::invalid_argument (request), ConfigError,
/// CheckpointError, TokenizerError, StoreError, std::runtime_error (one line).
SweepResult runSweep(const SweepRequest& request, const SweepProgressCallback& progress = {},
                     const std::function<bool()>& cancel = {});

}  // namespace attnscope
