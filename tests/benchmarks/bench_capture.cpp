// Capture cost, measured against baselines in the same process:
// - bench_capture overhead [T]: statistics capture vs a plain forward pass of the same model (goal <= 1.15x).
// - bench_capture rss T: peak resident memory of a statistics capture at T tokens (one process per T).
// - bench_capture save DIR: writes the benchmark model as an HF checkpoint (for the Python baseline).
// - bench_capture rowstats [n]: the row statistics of 4 heads x 512 queries x n keys with and without the
// head
//   types (prev-token, induction, local mass, mean distance): their cost.
// - bench_capture cancel [T]: how long a cancel asked in the middle of layer 1 takes to stop the capture,
//   against the time of one layer (the runner asks after every query block, so the ratio is well under 1).
// The model: Llama architecture, 4 layers, 4 heads, d_model 256, RoPE, random weights.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "attnscope/capture.h"
#include "attnscope/model.h"
#include "attnscope/runtime.h"
#include "bench_common.h"
#include "row_stats.h"

namespace {

using bench::captureSeconds;
using bench::forwardSeconds;

std::string benchConfig() {
  return R"({"model_type": "llama", "vocab_size": 256, "hidden_size": 256, "intermediate_size": 688,
    "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4,
    "max_position_embeddings": 256, "rope_theta": 10000.0, "tie_word_embeddings": false})";
}

std::vector<int64_t> promptIds(int64_t T) {
  std::vector<int64_t> ids(T);
  for (int64_t i = 0; i < T; ++i) ids[i] = (i * 131 + 7) % 256;
  return ids;
}

double peakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "overhead";
  attnscope::setComputeThreads(0);
  torch::manual_seed(0);
  attnscope::Model model(attnscope::parseConfig(benchConfig()));
  const std::string path = (std::filesystem::temp_directory_path() / "attnscope_bench_capture.h5").string();

  if (mode == "save" && argc > 2) {
    attnscope::saveModel(model, argv[2]);
    std::printf("saved the benchmark model to %s\n", argv[2]);
    return 0;
  }
  if (mode == "rss" && argc > 2) {
    const int64_t T = std::atoll(argv[2]);
    double before = peakRssMiB();
    double s = captureSeconds(model, promptIds(T), path, "bench", /*keep_file=*/true);
    std::printf(
        "T %lld: statistics capture %.1f s, peak RSS %.0f MiB (%.0f MiB before the capture), file %.1f MiB\n",
        static_cast<long long>(T), s, peakRssMiB(), before,
        static_cast<double>(std::filesystem::file_size(path)) / (1 << 20));
    std::filesystem::remove(path);
    return 0;
  }
  if (mode == "overhead") {
    const int64_t T = argc > 2 ? std::atoll(argv[2]) : 4096;
    auto ids = promptIds(T);
    forwardSeconds(model, promptIds(256));  // warm-up
    double best_forward = 1e30, best_capture = 1e30;
    for (int r = 0; r < 3; ++r) {  // interleaved, best of 3: both see the same machine state
      best_forward = std::min(best_forward, forwardSeconds(model, ids));
      best_capture = std::min(best_capture, captureSeconds(model, ids, path));
    }
    std::printf("backend: %s\n", attnscope::computeDescription().c_str());
    std::printf("T %lld: plain forward %.3f s, capture with all statistics %.3f s, ratio %.3fx\n",
                static_cast<long long>(T), best_forward, best_capture, best_capture / best_forward);
    std::filesystem::remove(path);
    return 0;
  }
  if (mode == "rowstats") {
    // The statistics of one query block at the end of an n-token prompt: rows [4 heads, 512 queries], causal.
    const int64_t n = argc > 2 ? std::atoll(argv[2]) : 16384, nq = 512, rows = 4 * nq, q0 = n - nq;
    auto y = torch::randn({rows, n}) * 3;
    auto col = torch::arange(n).view({1, n});
    auto query = (q0 + torch::arange(rows) % nq).view({rows, 1});
    y.masked_fill_(col > query, -std::numeric_limits<float>::infinity());
    auto p = torch::softmax(y, -1).contiguous();
    std::vector<int64_t> ids = promptIds(n);
    const std::vector<int64_t> keys = attnscope::inductionKeys(ids);
    std::vector<std::pair<int64_t, int64_t>> targets = {{n / 3, n / 3 + 40}};
    auto stats = torch::empty({10, rows});
    float* s = stats.data_ptr<float>();
    attnscope::RowStatsParams params;
    params.targets = &targets;
    params.q0 = q0;
    params.n_queries = nq;
    params.local_window = 8;
    params.induction_keys = &keys;
    const auto time = [&](bool head_types) {
      attnscope::RowStatsOutput out{s, s + rows, s + 2 * rows, s + 3 * rows, s + 4 * rows, s + 5 * rows};
      if (head_types) {
        out.prev_token_mass = s + 6 * rows, out.induction_mass = s + 7 * rows;
        out.local_mass = s + 8 * rows, out.mean_distance = s + 9 * rows;
      }
      const auto start = std::chrono::steady_clock::now();
      attnscope::computeRowStats(p.data_ptr<float>(), y.data_ptr<float>(), rows, n, params, out);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    double best_without = 1e30, best_with = 1e30;
    for (int r = 0; r < 7; ++r) {  // interleaved, best of 7
      best_without = std::min(best_without, time(false));
      best_with = std::min(best_with, time(true));
    }
    std::printf("rows %lld x %lld keys: row statistics %.4f s, with head types %.4f s, ratio %.3fx\n",
                static_cast<long long>(rows), static_cast<long long>(n), best_without, best_with,
                best_with / best_without);
    return 0;
  }
  if (mode == "cancel") {
    const int64_t T = argc > 2 ? std::atoll(argv[2]) : 8192;
    auto ids = promptIds(T);
    const attnscope::CaptureModel weights{model.config().json, "bench", "0"};
    attnscope::CaptureRequest request;
    request.normalizers = {"softmax"};
    std::vector<double> layer_done;  // seconds since the start at the end of each layer
    bench::Clock::time_point start;
    const auto capture = [&](const attnscope::CancelPredicate& cancel) {
      std::filesystem::remove(path);
      auto file = attnscope::CaptureFile::create(path, weights, {ids, {}});
      start = bench::Clock::now();
      attnscope::captureRuns(
          model, ids, weights, *file, request,
          [&](const attnscope::CaptureProgress& p) {
            if (!p.loading) layer_done.push_back(bench::seconds(start));
          },
          cancel);
      file.reset();  // closing the file is part of stopping
      return bench::seconds(start);
    };
    capture({});
    const double layer = layer_done.size() > 1 ? layer_done[1] - layer_done[0] : layer_done.at(0);
    const double asked = layer_done.at(0) + layer / 2;  // the user clicks Cancel in the middle of layer 1
    layer_done.clear();
    const double stopped = capture([&] { return bench::seconds(start) >= asked; });
    std::printf(
        "T %lld: one layer %.3f s; cancel in the middle of layer 1 stopped the capture %.3f s later "
        "(%.2f of a layer; %zu layer(s) finished)\n",
        static_cast<long long>(T), layer, stopped - asked, (stopped - asked) / layer, layer_done.size());
    std::filesystem::remove(path);
    return 0;
  }
  std::fprintf(stderr, "usage: bench_capture overhead [T] | rss T | save DIR | rowstats [n] | cancel [T]\n");
  return 2;
}
