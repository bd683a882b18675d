#pragma once
// The subcommands of attnscope-cli. Each returns the process exit code; errors are thrown as exceptions and
// reported by main as one line.

#include <cstdint>
#include <string>
#include <vector>

namespace c10 {
class Error;
}

namespace attnscope::cli {

struct InfoOptions {
  std::string model_dir;
};

struct RunOptions {
  std::string model_dir;
  std::vector<int64_t> ids;
  std::string normalizer = "softmax";
  int layer = -1;  // -1: last layer
  int head = 0;
  int top = 5;
};

struct CaptureOptions {
  std::string model_dir;
  std::vector<int64_t> ids;
  std::vector<std::string> normalizers;
  std::string out;
  std::string maps = "none";
  std::string targets;
  int64_t topk = 10;
  int64_t query_block = 0;
};

struct StatsOptions {
  std::string file;
  std::string csv;  // write curves here when set
  int bins_per_octave = 2;
};

/// Returns the first line of a LibTorch error, without its backtrace.
std::string oneLine(const c10::Error& e);

int runInfo(const InfoOptions& options);
int runCapture(const CaptureOptions& options);
int runStats(const StatsOptions& options);
int runForward(const RunOptions& options);

}  // namespace attnscope::cli
