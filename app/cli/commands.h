#pragma once

#include <csignal>
// The subcommands of attnscope-cli. Each returns the process exit code; errors are thrown as exceptions and
// reported by main as one line.

#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/capture_request.h"
#include "attnscope/evaluate.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/prompt.h"
#include "attnscope/sweep_request.h"
#include "attnscope/train.h"

namespace attnscope::cli {

/// Sets a flag on SIGINT and SIGTERM while it lives, for commands that stop cleanly between steps (train,
/// sweep); the previous handlers come back when it is destroyed.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  /// Returns whether a signal asked to stop.
  bool requested() const;

 private:
  struct sigaction m_old_int = {}, m_old_term = {};
};

/// Returns seconds as H:MM:SS ("-:--:--" for a negative, unknown, time).
std::string formatDuration(double seconds);

/// Token ids (and display strings, when display is given) of a prompt for a model directory.
std::vector<int64_t> promptIds(const PromptSource& prompt, const std::string& model_dir,
                               std::vector<std::string>* display = nullptr);

struct TokenizeOptions {
  std::string model_dir;
  PromptSource prompt;
};

struct InfoOptions {
  std::string model_dir;
};

struct RunOptions {
  std::string model_dir;
  PromptSource prompt;
  std::string dtype = "auto";  // compute dtype (computeDtypeNames())
  std::string normalizer = kNormalizerSoftmax;
  int layer = -1;  // -1: last layer
  int head = 0;
  int top = 5;
};

struct CaptureOptions {
  CaptureRequest request;      // every field but dtype is set from its flag
  std::string dtype = "auto";  // compute dtype (computeDtypeNames())
};

struct StatsOptions {
  std::string file;
  std::string csv;  // write curves here when set
  int bins_per_octave = 2;
  double theory_s = 0;  // > 0: add theory curves for softmax and SSMax with this s to the CSV
  bool heads = false;   // also print the summary of every head, not only each layer's mean
};

struct TrainOptions {
  std::string out_dir;
  TrainParams params = defaultTrainParams();
  bool resume = false;
  int64_t log_every = 10;          // steps between progress lines
  std::string positions = "rope";  // rope | pose:MAX (params.pose_max)
  std::string curriculum;          // START:END (params.curriculum_start/end); empty: none
};

/// Reads `--positions rope|pose:MAX` into a PoSE reach (0 for rope) and `--curriculum START:END` into two
/// steps; throws std::invalid_argument with the expected form (CLI11 puts the option's name before it).
int64_t parsePositionsOption(const std::string& text);
std::pair<int64_t, int64_t> parseCurriculumOption(const std::string& text);

struct EvalOptions {
  std::string model_dir;
  EvalParams params;
  std::string dtype = "auto";  // compute dtype (computeDtypeNames())
  std::string csv;             // write every number here when set
};

struct SweepOptions {
  SweepRequest request;        // every field but dtype, mode and shard is set from its flag
  std::string dtype = "auto";  // compute dtype (computeDtypeNames())
  bool documents = false;      // --documents, else --needle
  std::string shard;           // "K/N"; empty: the whole grid
};

struct NeedleOptions {
  std::string out;
  int64_t length = 2048;  // bytes (= tokens of a byte model)
  double depth = 0.5;
  uint64_t seed = 1;
  std::string text_dir = "/usr/share/games/fortunes";
};

struct MergeOptions {
  std::string out;                  // merged sweep file (created)
  std::vector<std::string> shards;  // shard files of one sweep
};

struct ExportCommandOptions {
  std::vector<std::string> args;  // passed to `attnscope --export` unchanged
};

int runInfo(const InfoOptions& options);
int runTokenize(const TokenizeOptions& options);
int runCapture(const CaptureOptions& options);
int runStats(const StatsOptions& options);
int runForward(const RunOptions& options);
int runTrain(const TrainOptions& options);
int runEval(const EvalOptions& options);
int runNeedle(const NeedleOptions& options);
/// Runs a sweep; returns 130 when SIGINT or SIGTERM cancelled it (finished records kept).
int runSweep(const SweepOptions& options);
int runMerge(const MergeOptions& options);
/// Replaces the process with the attnscope binary beside this one (`attnscope --export ARGS`); returns only
/// on error.
int runExport(const ExportCommandOptions& options);

}  // namespace attnscope::cli
