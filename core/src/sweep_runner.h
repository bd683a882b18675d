#pragma once
// The sweep runner's parts that runSweep and eval share (internal to the core; no torch in this header): a
// session holds the model, its tokenizer and the haystack, loaded once, and runs one record per (cell,
// normalizer); runSweepCells walks cells with progress and cancel and hands each record to a sink (the sweep
// file's writer, or eval's tables).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attnscope/dtype.h"
#include "attnscope/sweep_file.h"
#include "attnscope/sweep_request.h"
#include "attnscope/train_data.h"

namespace attnscope {

class Model;
class Tokenizer;

/// What a session opens.
struct SweepSessionOptions {
  std::string model_dir;
  ComputeDtype dtype = ComputeDtype::Auto;
  double rope_theta_scale = 1.0;  // multiplies the config's rope_theta (eval's --rope-theta-scale)
  std::string haystack;           // text file or directory; empty: the held-out text of corpus
  CorpusParams corpus;
  bool binned_stats = true;  // record the per-head statistics binned by n (eval reads none)
};

/// A model, its tokenizer and a haystack, loaded once, that run the records of sweep cells.
class SweepSession {
 public:
  /// Loads the config, tokenizer, haystack and weights; throws like runSweep.
  explicit SweepSession(const SweepSessionOptions& options);
  ~SweepSession();
  SweepSession(const SweepSession&) = delete;
  SweepSession& operator=(const SweepSession&) = delete;

  /// Returns the grid of a request for this model (canonical normalizers, default lengths n_ctx × 1, 2, 4,
  /// haystack hash, statistics, loss edges), every field checked; throws std::invalid_argument naming the
  /// request field.
  SweepGrid makeGrid(const SweepRequest& request) const;
  /// Returns who the records describe.
  SweepModel describe() const;
  /// Runs one cell under normalizer `normalizer` (index into grid.normalizers) and returns its record.
  SweepRecord run(const SweepGrid& grid, const SweepCell& cell, int64_t normalizer);

  Model& model() { return *m_model; }
  const Tokenizer& tokenizer() const { return *m_tokenizer; }

 private:
  struct State;
  std::unique_ptr<State> m_state;
  Model* m_model = nullptr;
  const Tokenizer* m_tokenizer = nullptr;
};

/// Runs the given cells × every normalizer of the grid in order, skipping the records `stored` reports,
/// handing each new record to `sink` as it finishes; asks `cancel` before each prompt.
SweepResult runSweepCells(SweepSession& session, const SweepGrid& grid, const std::vector<int64_t>& cells,
                          const std::function<bool(int64_t cell, int64_t normalizer)>& stored,
                          const std::function<void(const SweepRecord&)>& sink,
                          const SweepProgressCallback& progress, const std::function<bool()>& cancel);

}  // namespace attnscope
