// Forward-pass throughput of a GPT-2-small-sized model (random weights) at several context lengths, as a
// fraction of this machine's fp32 matmul rate measured in the same run.
// Usage: bench_forward [--threads N] [T ...]   (default T: 512 2048 4096)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <torch/torch.h>

#include "attnscope/model.h"
#include "attnscope/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

/// Returns the best of several fp32 n×n×n matmuls in FLOP/s: the ceiling a forward pass is compared with.
double matmulRate(int64_t n = 2048, int repeats = 5) {
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::mm(a, b);  // warm-up: thread pool and BLAS buffers
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    auto c = torch::mm(a, b);
    best = std::max(best, 2.0 * n * n * n / seconds(start));
  }
  return best;
}

/// FLOPs of one forward pass: every projection and the head, plus the causal halves of QK^T and PV.
double forwardFlops(const attnscope::ModelConfig& c, int64_t T) {
  double d = static_cast<double>(c.d_model), ff = static_cast<double>(c.d_ff);
  double per_token = c.n_layer * (2 * 4 * d * d + 2 * 2 * d * ff) + 2 * d * c.vocab_size;
  double attention = c.n_layer * 2.0 * 2.0 * d * (static_cast<double>(T) * (T + 1) / 2);
  return per_token * T + attention;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  std::vector<int64_t> lengths;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      lengths.push_back(std::atoll(argv[i]));
    }
  }
  if (lengths.empty()) lengths = {512, 2048, 4096};
  attnscope::setComputeThreads(threads);

  // GPT-2 small (124M parameters) with positions for the longest run.
  int64_t n_ctx = *std::max_element(lengths.begin(), lengths.end());
  std::string config = R"({"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768, "n_layer": 12,
    "n_head": 12, "n_positions": )" +
                       std::to_string(std::max<int64_t>(n_ctx, 1024)) + "}";
  torch::manual_seed(0);
  attnscope::Model model(attnscope::parseConfig(config));
  torch::NoGradGuard no_grad;

  const double peak = matmulRate();
  std::printf("backend: %s\n", attnscope::computeDescription().c_str());
  std::printf("model: GPT-2 small shape, %lld parameters, random weights\n",
              static_cast<long long>(model.parameterCount()));
  std::printf("fp32 matmul 2048^3: %.1f GFLOP/s (baseline)\n\n", peak / 1e9);
  std::printf("%8s %10s %12s %12s %10s\n", "T", "seconds", "tokens/s", "GFLOP/s", "of matmul");
  model.forward(torch::randint(0, 50257, {1, 128}, torch::kInt64),
                attnscope::LogitPositions::all());  // warm-up
  for (int64_t T : lengths) {
    auto ids = torch::randint(0, 50257, {1, T}, torch::kInt64);
    auto start = Clock::now();
    model.forward(ids, attnscope::LogitPositions::all());
    double s = seconds(start);
    double rate = forwardFlops(model.config(), T) / s;
    std::printf("%8lld %10.3f %12.1f %12.1f %9.1f%%\n", static_cast<long long>(T), s, T / s, rate / 1e9,
                100.0 * rate / peak);
  }
  return 0;
}
