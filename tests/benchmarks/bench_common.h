#pragma once
// What the capture benchmarks share: a clock, and one plain forward pass and one statistics capture of the
// same model and tokens, timed the same way.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "attnscope/capture.h"
#include "attnscope/model.h"

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

/// Seconds of one forward pass without hooks or logits (the baseline a capture is compared with).
inline double forwardSeconds(attnscope::Model& model, const std::vector<int64_t>& ids) {
  torch::NoGradGuard no_grad;
  auto input = torch::tensor(ids, torch::kInt64).view({1, static_cast<int64_t>(ids.size())});
  auto start = Clock::now();
  model.forward(input, attnscope::LogitPositions::none());
  return seconds(start);
}

/// Seconds of a softmax capture with every statistic and no maps into a fresh file at path (removed
/// afterwards unless keep_file).
inline double captureSeconds(attnscope::Model& model, const std::vector<int64_t>& ids,
                             const std::string& path, const std::string& model_dir = "bench",
                             bool keep_file = false) {
  std::filesystem::remove(path);
  double s = 0;
  {
    const attnscope::CaptureModel weights{model.config().json, model_dir, "0"};
    auto file = attnscope::CaptureFile::create(path, weights, {ids, {}});
    attnscope::CaptureRequest request;
    request.normalizers = {"softmax"};
    auto start = Clock::now();
    attnscope::captureRuns(model, ids, weights, *file, request);
    s = seconds(start);
  }
  if (!keep_file) std::filesystem::remove(path);
  return s;
}

}  // namespace bench
