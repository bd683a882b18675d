#pragma once
// Real-size random-weight checkpoints for the benchmarks: the shapes, tensor names, dtype (bf16) and
// vocabulary sizes of real models, written as a model directory the loader opens like any other.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attnscope/config.h"
#include "attnscope/model.h"
#include "attnscope/safetensors.h"

namespace bench {

namespace fs = std::filesystem;
using attnscope::ComputeDtype;

struct Shape {
  std::string name, model_type;
  int64_t n_layer, n_head, n_kv_head, d_model, d_ff, vocab, max_pos;
  bool tied;
  double rope_theta;
  bool full_suite = true;  // false: info and the bf16 forward and capture at T = 2048 only
  int64_t head_dim = 0;    // 0: d_model / n_head
};

inline const Shape kShapes[] = {
    {"qwen2.5-0.5b", "qwen2", 24, 14, 2, 896, 4864, 151936, 32768, true, 1e6},
    {"llama3-8b", "llama", 32, 32, 8, 4096, 14336, 128256, 8192, false, 5e5},
    {"qwen3-0.6b", "qwen3", 28, 16, 8, 1024, 3072, 151936, 40960, true, 1e6, false, 128},
    {"pythia-1.4b", "gpt_neox", 24, 16, 16, 2048, 8192, 50304, 2048, false, 1e4, false},
    {"phi3-mini", "phi3", 32, 32, 32, 3072, 8192, 32064, 4096, false, 1e4, false},
};

inline const char* causalLmClass(const std::string& model_type) {
  if (model_type == "qwen2") return "Qwen2ForCausalLM";
  if (model_type == "qwen3") return "Qwen3ForCausalLM";
  return "LlamaForCausalLM";
}

inline std::string configText(const Shape& s) {
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

inline std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// bf16 bit patterns of n values uniform in ±0.0346 (std 0.02), from a fast generator: contents do not matter
/// to speed or memory, only that they are finite and varied.
inline std::vector<uint16_t> randomBf16(std::size_t n, uint64_t seed) {
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
inline uint64_t writeCheckpoint(const Shape& shape, const fs::path& dir) {
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

}  // namespace bench
