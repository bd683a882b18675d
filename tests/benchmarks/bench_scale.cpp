// Real-size checkpoints: random-weight models with the shapes, tensor names, dtype (bf16) and vocabularies of
// Qwen2.5-0.5B, Llama-3-8B and Qwen3-0.6B (q/k norms; a bf16 forward and capture at T = 2048 only), written
// into a directory, then opened, summarised and captured the way a user
// does. Each measurement runs in a process of its own (this program re-executed with --task), so the peak RSS
// printed beside it is that measurement's alone; rates are compared with this machine's matmul rate in the
// same dtype, measured in the same run. A benchmark, never a test: run it by hand on an idle machine.
//
//   bench_scale [--models qwen2.5-0.5b,llama3-8b] [--dir DIR] [--keep] [--threads N] [--long T]
//   (also qwen3-0.6b, pythia-1.4b and phi3-mini: info and the bf16 forward and capture at T = 2048 only)
//
//   --dir DIR   where the checkpoints go (default: a new temporary directory, removed at the end unless
//   --keep);
//               a checkpoint already there with the same config is reused
//   --long T    tokens of the 0.5B long capture (default 32768); 0 skips it
//   --generate T  prompt tokens of the 0.5B greedy generation, KV cache against re-running (default 1024; 0
//                 skips it); --generate-only: only that, after writing the checkpoint

#include <spawn.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "attnscope/capture.h"
#include "attnscope/generate.h"
#include "attnscope/model.h"
#include "attnscope/runtime.h"
#include "attnscope/safetensors.h"
#include "bench_common.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using attnscope::ComputeDtype;
using bench::Clock;
using bench::seconds;

struct Shape {
  std::string name, model_type;
  int64_t n_layer, n_head, n_kv_head, d_model, d_ff, vocab, max_pos;
  bool tied;
  double rope_theta;
  bool full_suite = true;  // false: info and the bf16 forward and capture at T = 2048 only
  int64_t head_dim = 0;    // 0: d_model / n_head
};

const Shape kShapes[] = {
    {"qwen2.5-0.5b", "qwen2", 24, 14, 2, 896, 4864, 151936, 32768, true, 1e6},
    {"llama3-8b", "llama", 32, 32, 8, 4096, 14336, 128256, 8192, false, 5e5},
    {"qwen3-0.6b", "qwen3", 28, 16, 8, 1024, 3072, 151936, 40960, true, 1e6, false, 128},
    {"pythia-1.4b", "gpt_neox", 24, 16, 16, 2048, 8192, 50304, 2048, false, 1e4, false},
    {"phi3-mini", "phi3", 32, 32, 32, 3072, 8192, 32064, 4096, false, 1e4, false},
};

const char* causalLmClass(const std::string& model_type) {
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  if (model_type == "qwen3") return "Qwen3ForCausalLM";
  return "LlamaForCausalLM";
}

std::string configText(const Shape& s) {
  nlohmann::json j = {{"model_type", s.model_type},
                      {"vocab_size", s.vocab},
                      {"hidden_size", s.d_model},
                      {"intermediate_size", s.d_ff},
                      {"num_hidden_layers", s.n_layer},
                      {"num_attention_heads", s.n_head},
                      {"max_position_embeddings", s.max_pos},
                      {"tie_word_embeddings", s.tied},
                      {"torch_dtype", "bfloat16"}};
  if (s.head_dim > 0) j["head_dim"] = s.head_dim;
  if (s.model_type == "gpt_neox") {  // as EleutherAI/pythia-1.4b's config.json
    j.update(nlohmann::json{{"architectures", {"GPTNeoXForCausalLM"}},
                            {"rotary_pct", 0.25},
                            {"rotary_emb_base", s.rope_theta},
                            {"use_parallel_residual", true},
                            {"hidden_act", "gelu"},
                            {"layer_norm_eps", 1e-5}});
  } else if (s.model_type == "phi3") {  // as microsoft/Phi-3-mini-4k-instruct's config.json
    j.update(nlohmann::json{{"architectures", {"Phi3ForCausalLM"}},
                            {"num_key_value_heads", s.n_kv_head},
                            {"original_max_position_embeddings", s.max_pos},
                            {"rope_theta", s.rope_theta},
                            {"rope_scaling", nullptr},
                            {"sliding_window", 2047},
                            {"rms_norm_eps", 1e-5},
                            {"hidden_act", "silu"}});
  } else {
    j.update(nlohmann::json{{"architectures", {causalLmClass(s.model_type)}},
                            {"num_key_value_heads", s.n_kv_head},
                            {"rope_theta", s.rope_theta},
                            {"rms_norm_eps", 1e-6}});
  }
  return j.dump(2) + "\n";
}

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// bf16 bit patterns of n values uniform in ±0.0346 (std 0.02), from a fast generator: contents do not matter
/// to speed or memory, only that they are finite and varied.
std::vector<uint16_t> randomBf16(std::size_t n, uint64_t seed) {
  std::vector<uint16_t> out(n);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    float f = (static_cast<float>(x >> 40) / static_cast<float>(1 << 24) - 0.5f) * 0.0693f;
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    out[i] = static_cast<uint16_t>(bits >> 16);
  }
  return out;
}

/// Writes config.json and bf16 safetensors shards of at most 5 GB (with an index when there are several),
/// naming and shaping every tensor as the loader expects (taken from a placeholder model, which allocates
/// nothing). Returns the bytes written; reuses a checkpoint already in dir with the same config.
uint64_t writeCheckpoint(const Shape& shape, const fs::path& dir) {
  const std::string config = configText(shape);
  const fs::path marker = dir / ".complete";
  if (fs::exists(marker) && readText(dir / "config.json") == config) return std::stoull(readText(marker));
  fs::remove_all(dir);
  fs::create_directories(dir);
  attnscope::Model model(attnscope::parseConfig(config), attnscope::WeightInit::Uninitialized,
                         ComputeDtype::BFloat16);
  struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    uint64_t nbytes;
  };
  std::vector<std::vector<Entry>> shards(1);
  uint64_t shard_bytes = 0, total = 0, largest = 0;
  for (const auto& item : model.module().named_parameters()) {
    Entry e{item.key(), item.value().sizes().vec(), static_cast<uint64_t>(item.value().numel()) * 2};
    if (shard_bytes + e.nbytes > (5ull << 30) && !shards.back().empty())
      shards.emplace_back(), shard_bytes = 0;
    shard_bytes += e.nbytes, total += e.nbytes, largest = std::max(largest, e.nbytes);
    shards.back().push_back(e);
  }
  // One random buffer serves every matrix from a tensor-dependent offset; norms are ones, as in a fresh
  // model.
  const std::size_t slack = 32 << 20;
  const std::vector<uint16_t> noise = randomBf16(largest / 2 + slack, 1);
  const std::vector<uint16_t> ones(1 << 16, 0x3F80);
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    const std::string file = shards.size() == 1 ? "model.safetensors" : name;
    std::vector<attnscope::TensorToWrite> tensors;
    for (const Entry& e : shards[s]) {
      const bool norm = e.shape.size() == 1 && e.name.find("norm") != std::string::npos;
      const std::size_t offset = (std::hash<std::string>{}(e.name) % slack) & ~std::size_t{31};
      const void* data = norm ? ones.data() : noise.data() + offset;
      tensors.push_back({e.name, attnscope::DType::BF16, e.shape, data, e.nbytes});
      weight_map[e.name] = file;
    }
    attnscope::writeSafetensors((dir / file).string(), tensors, {{"format", "pt"}});
  }
  if (shards.size() > 1) {
    nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);
  }
  std::ofstream(dir / "config.json") << config;
  std::ofstream(marker) << total;
  return total;
}

struct Child {
  double wall = 0;
  double peak_rss_mb = 0;
  int status = 0;
  std::map<std::string, double> values;  // "key value" lines the child printed
};

/// Runs a program, collecting its "key value" output lines, wall time and peak RSS. The peak comes from GNU
/// time
/// (/usr/bin/time, Debian package "time") when it is there: a child's own ru_maxrss starts at this process's
/// RSS, because exec records the RSS of the memory it replaces, which would hide a small child behind a large
/// parent.
Child runChild(std::vector<std::string> args, bool quiet = false) {
  std::string what;
  for (const std::string& a : args) what += (what.empty() ? "" : " ") + a;
  static const bool have_time = ::access("/usr/bin/time", X_OK) == 0;
  if (have_time) args.insert(args.begin(), {"/usr/bin/time", "-f", "maxrss_kb %M", "-o", "/dev/stdout"});
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto start = Clock::now();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;)
    output.append(buf, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  Child child;
  rusage usage{};
  ::wait4(pid, &child.status, 0, &usage);
  child.wall = seconds(start);
  child.peak_rss_mb = static_cast<double>(usage.ru_maxrss) * 1024.0 / 1e6;  // ru_maxrss is in KiB
  std::istringstream lines(output);
  for (std::string key; lines >> key;) {
    double value = 0;
    if (lines >> value)
      child.values[key] = value;
    else
      lines.clear(), lines.ignore(1 << 20, '\n');
  }
  if (child.values.count("maxrss_kb")) child.peak_rss_mb = child.values["maxrss_kb"] * 1024.0 / 1e6;
  if (!quiet && (!WIFEXITED(child.status) || WEXITSTATUS(child.status) != 0))
    std::printf("  (failed with status %d: %s)\n", child.status, what.c_str());
  return child;
}

// ---- the measurements, each run in a child process ----

std::vector<int64_t> randomIds(int64_t n, int64_t vocab) {
  std::mt19937_64 rng(7);
  std::vector<int64_t> ids(n);
  for (auto& id : ids) id = static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab));
  return ids;
}

int runTask(const std::vector<std::string>& a) {
  const std::string& task = a.at(0);
  if (task == "matmul") {  // matmul DTYPE M K N: best of 5 of x[M,K] · W[N,K]ᵀ, as a linear layer runs it
    auto type =
        attnscope::parseComputeDtype(a.at(1)) == ComputeDtype::BFloat16 ? torch::kBFloat16 : torch::kFloat32;
    const int64_t M = std::stoll(a.at(2)), K = std::stoll(a.at(3)), N = std::stoll(a.at(4));
    auto x = torch::randn({M, K}).to(type), w = torch::randn({N, K}).to(type);
    torch::linear(x, w);
    double best = 0;
    for (int r = 0; r < 5; ++r) {
      auto start = Clock::now();
      auto y = torch::linear(x, w);
      best = std::max(best, 2.0 * M * K * N / seconds(start));
    }
    std::printf("gflops %.3f\n", best / 1e9);
    return 0;
  }
  // forward|capture|overhead DIR DTYPE T
  const std::string dir = a.at(1);
  auto start = Clock::now();
  auto model = attnscope::loadModel(dir, attnscope::LoadOptions{attnscope::parseComputeDtype(a.at(2))});
  std::printf("load_s %.3f\n", seconds(start));
  const auto ids = randomIds(std::stoll(a.at(3)), model->config().vocab_size);
  const std::string capture_path =
      (fs::temp_directory_path() / ("attnscope_bench_scale_" + std::to_string(::getpid()) + ".h5")).string();
  if (task == "forward") std::printf("forward_s %.3f\n", bench::forwardSeconds(*model, ids));
  if (task == "capture")
    std::printf("capture_s %.3f\n", bench::captureSeconds(*model, ids, capture_path, dir));
  if (task == "generate") {  // greedy tokens/s after a T-token prompt: KV cache vs re-running everything
    const int64_t n_new = 4;
    attnscope::GenerateOptions options;
    options.max_new_tokens = 1;
    start = Clock::now();
    attnscope::generateGreedy(*model, ids, options);  // the prompt pass alone
    const double prefill = seconds(start);
    options.max_new_tokens = n_new + 1;
    start = Clock::now();
    const auto cached = attnscope::generateGreedy(*model, ids, options).ids;
    const double steps = seconds(start) - prefill;  // n_new single-token passes on the cache
    std::vector<int64_t> seq = ids, uncached;
    start = Clock::now();
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i <= n_new; ++i) {
      auto logits = model->forward(torch::tensor(seq, torch::kInt64).view({1, -1}),
                                   attnscope::LogitPositions::last());  // [1, 1, vocab]
      seq.push_back(logits[0][0].argmax().item<int64_t>());
      uncached.push_back(seq.back());
    }
    const double rerun = seconds(start);
    std::printf("prefill_s %.3f\ncached_tps %.3f\nuncached_tps %.3f\nsame %d\n", prefill, n_new / steps,
                (n_new + 1) / rerun, cached == uncached ? 1 : 0);
  }
  if (task == "overhead") {  // interleaved, best of 2: both see the same machine state
    double forward = 1e30, capture = 1e30;
    for (int r = 0; r < 2; ++r) {
      forward = std::min(forward, bench::forwardSeconds(*model, ids));
      capture = std::min(capture, bench::captureSeconds(*model, ids, capture_path, dir));
    }
    std::printf("forward_s %.3f\ncapture_s %.3f\n", forward, capture);
  }
  return 0;
}

// ---- the report ----

/// FLOPs of a forward pass without the head: the projections and MLP, plus the causal halves of QKᵀ and PV.
double forwardFlops(const Shape& s, int64_t T) {
  const double d = static_cast<double>(s.d_model);
  const double dh = s.head_dim > 0 ? static_cast<double>(s.head_dim) : d / static_cast<double>(s.n_head);
  const double mlp_matrices = s.model_type == "gpt_neox" ? 2.0 : 3.0;  // GELU MLP or gated MLP
  const double linear = d * dh * (2.0 * s.n_head + 2.0 * s.n_kv_head) + mlp_matrices * d * s.d_ff;
  const double attention = 2.0 * 2.0 * s.n_head * dh * (static_cast<double>(T) * (T + 1) / 2);
  return s.n_layer * (2.0 * linear * T + attention);
}

const char* verdict(bool ok) {
  return ok ? "ok" : "MISSED";
}

struct Bench {
  std::string self;
  std::string threads;
  std::vector<std::string> task(std::vector<std::string> args) const {
    args.insert(args.begin(), {self, "--threads", threads, "--task"});
    return args;
  }
};

/// Greedy generation after a prompt of T tokens on the KV cache against re-running the whole sequence per
/// token.
void benchGenerate(const Bench& bench, const fs::path& dir, int64_t T) {
  Child g = runChild(bench.task({"generate", dir.string(), "bfloat16", std::to_string(T)}));
  std::printf(
      "  bf16 greedy after %lld tokens: prompt pass %.2f s, cached %.2f tokens/s, re-running the whole "
      "sequence %.3f tokens/s (%.0fx), same tokens: %s\n",
      (long long)T, g.values["prefill_s"], g.values["cached_tps"], g.values["uncached_tps"],
      g.values["cached_tps"] / g.values["uncached_tps"], g.values["same"] == 1 ? "yes" : "NO");
}

void benchShape(const Bench& bench, const Shape& s, const fs::path& root, int64_t long_tokens,
                int64_t generate_tokens, bool generate_only) {
  const fs::path dir = root / s.name;
  std::printf(
      "\n== %s-shaped: %lld layers, %lld heads (%lld kv), d_model %lld, d_ff %lld, vocab %lld, bf16\n",
      s.name.c_str(), (long long)s.n_layer, (long long)s.n_head, (long long)s.n_kv_head, (long long)s.d_model,
      (long long)s.d_ff, (long long)s.vocab);
  struct statvfs fsinfo {};
  fs::create_directories(root);
  if (::statvfs(root.c_str(), &fsinfo) == 0 && s.name == "llama3-8b" && !fs::exists(dir / ".complete")) {
    const double free_gb = static_cast<double>(fsinfo.f_bavail) * fsinfo.f_frsize / 1e9;
    if (free_gb < 40) {
      std::printf("  skipped: %.0f GB free on %s, 40 GB wanted\n", free_gb, root.c_str());
      return;
    }
  }
  auto start = Clock::now();
  const uint64_t bytes = writeCheckpoint(s, dir);
  std::printf("  checkpoint: %.2f GB in %s (%.0f s to write or reuse)\n", bytes / 1e9, dir.c_str(),
              seconds(start));
  if (generate_only) {
    if (generate_tokens > 0) benchGenerate(bench, dir, generate_tokens);
    return;
  }

  // info: the real CLI, twice (the second run has the headers in the page cache).
  for (int r = 0; r < 2; ++r) {
    Child info = runChild({ATTNSCOPE_CLI_PATH, "info", dir.string()}, true);
    if (r == 1)
      std::printf("  info: %.2f s, peak RSS %.0f MB  [goal < 1 s and < 150 MB: %s]%s\n", info.wall,
                  info.peak_rss_mb, verdict(info.wall < 1 && info.peak_rss_mb < 150),
                  info.status == 0 ? "" : "  (info FAILED)");
  }

  // The machine's matmul rate in each dtype, on this model's MLP shape.
  std::map<std::string, double> rate;
  for (std::string dtype : {"float32", "bfloat16"})
    rate[dtype] =
        runChild(bench.task({"matmul", dtype, "2048", std::to_string(s.d_model), std::to_string(s.d_ff)}))
            .values["gflops"];
  std::printf("  matmul 2048x%lldx%lld: float32 %.1f GFLOP/s, bfloat16 %.1f GFLOP/s (%.2fx)\n",
              (long long)s.d_model, (long long)s.d_ff, rate["float32"], rate["bfloat16"],
              rate["bfloat16"] / rate["float32"]);

  std::printf("  %-9s %-8s %7s %9s %9s %10s %10s %9s\n", "dtype", "task", "T", "load s", "run s", "tokens/s",
              "peak RSS", "of matmul");
  auto row = [&](const std::string& dtype, const std::string& task, int64_t T) {
    Child c = runChild(bench.task({task, dir.string(), dtype, std::to_string(T)}));
    const double run_s = c.values[task + "_s"];
    std::printf("  %-9s %-8s %7lld %9.2f %9.2f %10.1f %8.0f MB %8.1f%%\n", dtype.c_str(), task.c_str(),
                (long long)T, c.values["load_s"], run_s, T / run_s, c.peak_rss_mb,
                100.0 * forwardFlops(s, T) / run_s / (rate[dtype] * 1e9));
    std::fflush(stdout);
    return c;
  };

  if (!s.full_suite) {
    row("bfloat16", "forward", 2048);
    row("bfloat16", "capture", 2048);
    return;
  }
  if (s.name == "llama3-8b") {
    std::printf("  float32: skipped (a float32 copy of the 16 GB of bf16 weights needs 32 GB)\n");
    Child c = row("bfloat16", "capture", 8192);
    std::printf("  8,192-token capture: peak RSS %.1f GB  [goal < 20 GB: %s]\n", c.peak_rss_mb / 1e3,
                verdict(c.peak_rss_mb < 20e3));
    return;
  }
  Child f32 = row("float32", "capture", 2048);
  Child b16 = row("bfloat16", "capture", 2048);
  const double speedup = f32.values["capture_s"] / b16.values["capture_s"];
  std::printf("  bf16 / fp32 throughput at T = 2048: %.2fx  [goal >= 2.5x: %s]\n", speedup,
              verdict(speedup >= 2.5));
  for (std::string dtype : {"bfloat16", "float32"}) {
    Child o = runChild(bench.task({"overhead", dir.string(), dtype, "4096"}));
    const double ratio = o.values["capture_s"] / o.values["forward_s"];
    std::printf(
        "  %s at T = 4096: plain forward %.2f s, statistics capture %.2f s, ratio %.3fx  [goal <= 1.15x: "
        "%s]\n",
        dtype.c_str(), o.values["forward_s"], o.values["capture_s"], ratio, verdict(ratio <= 1.15));
  }
  if (generate_tokens > 0) benchGenerate(bench, dir, generate_tokens);
  if (long_tokens > 0) {
    Child c = row("bfloat16", "capture", long_tokens);
    std::printf("  %lld-token capture: peak RSS %.2f GB  [goal < 3 GB: %s]\n", (long long)long_tokens,
                c.peak_rss_mb / 1e3, verdict(c.peak_rss_mb < 3e3));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string threads = "0", models = "qwen2.5-0.5b,llama3-8b", dir;
  bool keep = false;
  int64_t long_tokens = 32768, generate_tokens = 1024;
  bool generate_only = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--threads" && has_value) {
      threads = args[++i];
    } else if (a == "--task") {
      attnscope::setComputeThreads(std::stoi(threads));
      try {
        return runTask({args.begin() + static_cast<long>(i) + 1, args.end()});
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_scale task: %s\n", e.what());
        return 1;
      }
    } else if (a == "--models" && has_value) {
      models = args[++i];
    } else if (a == "--dir" && has_value) {
      dir = args[++i];
    } else if (a == "--long" && has_value) {
      long_tokens = std::stoll(args[++i]);
    } else if (a == "--generate" && has_value) {
      generate_tokens = std::stoll(args[++i]);
    } else if (a == "--generate-only") {
      generate_only = true;
    } else if (a == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench_scale [--models qwen2.5-0.5b,llama3-8b,qwen3-0.6b] [--dir DIR] [--keep] "
                   "[--threads N] "
                   "[--long T] [--generate T] [--generate-only]\n");
      return 2;
    }
  }
  const bool temporary = dir.empty();
  if (temporary)
    dir = (fs::temp_directory_path() / ("attnscope_bench_scale_" + std::to_string(::getpid()))).string();
  const Bench bench{fs::read_symlink("/proc/self/exe").string(), threads};
  std::printf("bench_scale: %s; checkpoints in %s\n", attnscope::computeDescription().c_str(), dir.c_str());
  for (const Shape& s : kShapes)
    if (("," + models + ",").find("," + s.name + ",") != std::string::npos)
      benchShape(bench, s, dir, long_tokens, generate_tokens, generate_only);
  if (temporary && !keep) fs::remove_all(dir);
  return 0;
}
