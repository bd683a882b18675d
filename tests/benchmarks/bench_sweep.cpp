// Needle sweep throughput on the Qwen2.5-0.5B-shaped random-weight bf16 checkpoint (bench_checkpoint.h):
// prompts per second at 1k and 8k tokens through runSweep (prompt building, prefill with the statistics
// observer, greedy generation of the answer on the KV cache, one flushed record per prompt), against a plain
// forward pass of the same length measured in the same run. A benchmark, never a test: run it by hand.
//
//   bench_sweep [--dir DIR] [--tokenizer DIR] [--lengths 1024,8192] [--prompts N] [--threads N]
//
//   --dir DIR        where the checkpoint goes (default: a temporary directory, removed at the end); a
//                    checkpoint already there with the same config is reused
//   --tokenizer DIR  a directory holding the Qwen tokenizer.json (default: the one tests/tokenizer/setup.sh
//                    installs into the build tree, models/qwen3: Qwen2.5 and Qwen3 share the vocabulary)

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/runtime.h"
#include "attnscope/sweep_request.h"
#include "attnscope/text_input.h"
#include "bench_checkpoint.h"
#include "bench_common.h"

namespace {

namespace fs = std::filesystem;

struct Timing {
  double prompts_per_second = 0;
  double seconds_per_prompt = 0;
};

/// Times runSweep over n_prompts needle prompts of one length (prompt time only: the progress clock starts at
/// the first prompt, after the model is loaded).
Timing sweepTiming(const std::string& model_dir, int64_t length, int64_t n_prompts, const fs::path& out) {
  attnscope::SweepRequest request;
  request.model_dir = model_dir;
  request.mode = attnscope::SweepMode::Needle;
  request.normalizers = {"softmax"};
  request.lengths = {length};
  request.depths = {0.5};
  request.prompts_per_cell = n_prompts;
  request.out = out.string();
  fs::remove(out);
  double seconds = 0;
  int64_t done = 0;
  attnscope::runSweep(request, [&](const attnscope::SweepProgress& p) {
    seconds = p.seconds;
    done = p.done;
    std::fprintf(stderr, "  %s\n", p.last.c_str());
  });
  fs::remove(out);
  return {static_cast<double>(done) / seconds, seconds / static_cast<double>(done)};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string dir, tokenizer = std::string(ATTNSCOPE_TOKENIZER_DATA) + "/models/qwen3";
  std::vector<int64_t> lengths = {1024, 8192};
  int64_t n_prompts = 3;
  int threads = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--dir" && has_value) {
      dir = args[++i];
    } else if (args[i] == "--tokenizer" && has_value) {
      tokenizer = args[++i];
    } else if (args[i] == "--prompts" && has_value) {
      n_prompts = std::stoll(args[++i]);
    } else if (args[i] == "--threads" && has_value) {
      threads = std::stoi(args[++i]);
    } else if (args[i] == "--lengths" && has_value) {
      lengths.clear();
      for (const std::string& t : attnscope::splitList(args[++i])) lengths.push_back(std::stoll(t));
    } else {
      std::fprintf(stderr,
                   "usage: bench_sweep [--dir DIR] [--tokenizer DIR] [--lengths 1024,8192] [--prompts N] "
                   "[--threads N]\n");
      return 2;
    }
  }
  attnscope::setComputeThreads(threads);
  const bool temporary = dir.empty();
  if (temporary)
    dir = (fs::temp_directory_path() / ("attnscope_bench_sweep_" + std::to_string(::getpid()))).string();
  const bench::Shape& shape = bench::kShapes[0];  // qwen2.5-0.5b
  const fs::path model_dir = fs::path(dir) / shape.name;
  try {
    bench::writeCheckpoint(shape, model_dir);
    if (!fs::exists(fs::path(tokenizer) / "tokenizer.json")) {
      std::fprintf(stderr,
                   "bench_sweep: no tokenizer.json in %s (run tests/tokenizer/setup.sh or --tokenizer)\n",
                   tokenizer.c_str());
      return 1;
    }
    for (const char* file : {"tokenizer.json", "tokenizer_config.json"})
      if (fs::exists(fs::path(tokenizer) / file))
        fs::copy_file(fs::path(tokenizer) / file, model_dir / file, fs::copy_options::overwrite_existing);
    std::printf("bench_sweep: %s; %s bf16 checkpoint in %s, %lld prompt(s) per length\n",
                attnscope::computeDescription().c_str(), shape.name.c_str(), model_dir.c_str(),
                static_cast<long long>(n_prompts));
    std::printf("  %-8s %12s %12s %14s %10s\n", "tokens", "prompts/s", "s/prompt", "forward s", "ratio");
    for (int64_t length : lengths) {
      double forward = 0;
      {
        auto model = attnscope::loadModel(model_dir.string());
        std::vector<int64_t> ids(static_cast<std::size_t>(length));
        for (int64_t i = 0; i < length; ++i) ids[i] = (i * 7919) % 150000;
        forward = bench::forwardSeconds(*model, ids);
      }
      const Timing t = sweepTiming(model_dir.string(), length, n_prompts, fs::path(dir) / "bench_sweep.h5");
      // ratio: one sweep prompt (prefill with statistics, 7 generated tokens, a record) per plain forward
      // pass.
      std::printf("  %-8lld %12.4f %12.2f %14.2f %9.2fx\n", static_cast<long long>(length),
                  t.prompts_per_second, t.seconds_per_prompt, forward, t.seconds_per_prompt / forward);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_sweep: %s\n", e.what());
    return 1;
  }
  if (temporary) fs::remove_all(dir);
  return 0;
}
