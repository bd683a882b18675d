#pragma once
// The subcommands of attnscope-cli. Each returns the process exit code; errors are thrown as exceptions and
// reported by main as one line.

#include <string>
#include <vector>

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

int runInfo(const InfoOptions& options);
int runForward(const RunOptions& options);

}  // namespace attnscope::cli
