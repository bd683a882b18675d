#pragma once
// One capture request and its runner: load a model directory, tokenize a prompt, create (or append to) a
// capture file and write one run per normalizer. The CLI's `capture`, the window's capture worker and any
// batch runner fill in a CaptureRequest and call runCapture(); they only translate their inputs and show
// progress. No torch and no Qt in this header.

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnscope/dtype.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/prompt.h"

namespace attnscope {

/// The W of local_mass unless a request says otherwise.
constexpr int64_t kDefaultLocalWindow = 8;

/// What to capture. The record of each run written is the store's RunSpec; this holds only what a user asks.
struct CaptureRequest {
  std::string model_dir;                                        // Hugging Face model directory
  ComputeDtype dtype = ComputeDtype::Auto;                      // precision of the linear layers
  PromptSource prompt;                                          // exactly one of ids, text or a text file
  std::vector<std::string> normalizers = {kNormalizerSoftmax};  // one run each (normalizer spec grammar)
  std::vector<std::string> run_names;          // empty, or one per normalizer (default: runNameFor)
  std::string maps = "none";                   // map spec: "all", "none", "3.5,7.*,scores:0.2"
  std::string targets;                         // token ranges for target_mass: "10:20,40:45"
  int64_t topk = 10;                           // k of topk_mass
  int64_t local_window = kDefaultLocalWindow;  // W of local_mass: the query's last W keys, itself included
  int64_t query_block = 0;                     // queries per block; 0: bounded by memory
  std::string out;                             // capture file to create or append to
  bool other_weights = false;  // append runs of other weights (same tokens) to an existing capture
};

/// The fields of a CaptureRequest, for errors that front ends word in their own terms (a flag, a field
/// label).
enum class CaptureField {
  ModelDir,
  Normalizers,
  RunNames,
  Maps,
  Targets,
  Topk,
  LocalWindow,
  QueryBlock,
  Out
};

/// Returns the field's name in CaptureRequest ("maps", "run_names", ...).
const char* captureFieldName(CaptureField field);

/// A request field that cannot be used; what() is "<field name> <detail>", e.g. "maps '9.0': layer '9' is not
/// in 0..3". Front ends show their own word for field() before detail().
class CaptureRequestError : public std::invalid_argument {
 public:
  CaptureRequestError(CaptureField field, const std::string& detail);
  CaptureField field() const { return m_field; }
  const std::string& detail() const { return m_detail; }

 private:
  CaptureField m_field;
  std::string m_detail;
};

/// Where a capture is: loading (tokenizing, loading the model, creating the file), then layer by layer.
struct CaptureProgress {
  bool loading = true;             // nothing computed yet
  int64_t run = 0, n_run = 0;      // run index (0-based) of n_run
  int64_t layer = 0, n_layer = 0;  // layers finished in run `run`
  std::string normalizer;          // the run's normalizer spec as given
  /// Share of the work done, in [0, 1].
  double fraction() const;
};

/// What a capture did.
struct CaptureResult {
  std::string path;  // the capture file; empty when cancelled before it was created
  int64_t n_completed = 0, n_requested = 0;
  int64_t n_tokens = 0;
  int64_t n_head_maps = 0;  // head maps stored per run
  bool cancelled = false;   // stopped on request; an interrupted run stays in the file marked incomplete
};

/// Called on the capturing thread: once while loading, then after each layer of each run.
using CaptureProgressCallback = std::function<void(const CaptureProgress&)>;
/// Asked between steps and after each layer; returns true to stop.
using CancelPredicate = std::function<bool()>;

/// Runs a capture request: checks every field before the file is created or touched, then captures one run
/// per normalizer (CaptureFile::create appends to an existing capture of the same tokens). Throws
/// CaptureRequestError (a field), std::invalid_argument (normalizer specs, the prompt), ConfigError,
/// CheckpointError, TokenizerError, StoreError and std::runtime_error (one line; LibTorch errors included).
CaptureResult runCapture(const CaptureRequest& request, const CaptureProgressCallback& progress = {},
                         const CancelPredicate& cancel = {});

}  // namespace attnscope
