#pragma once
// Helpers shared by the capture store's tests (test_store, test_store_safety, test_store_malformed):
// temporary paths, deterministic tokens, stats and causal maps written through RunWriter, the pyramid
// computed directly, exact float comparison, and the one-line StoreError of a call.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attnscope/store.h"

namespace attnscope::test {

inline constexpr float kInf = std::numeric_limits<float>::infinity();

/// A unique file name under the temp directory, removed when the test ends.
class TempPath {
 public:
  explicit TempPath(const std::string& stem) {
    static std::atomic<int> counter{0};
    m_path = std::filesystem::temp_directory_path() / ("attnscope_test_store_" + std::to_string(::getpid()) +
                                                       "_" + std::to_string(counter++) + "_" + stem);
    m_string = m_path.string();
    std::filesystem::remove(m_path);
  }
  ~TempPath() {
    std::error_code ignored;
    std::filesystem::remove(m_path, ignored);
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::string& str() const { return m_string; }

 private:
  std::filesystem::path m_path;
  std::string m_string;
};

/// Reference fp16 rounding, computed differently from the store (scaling plus nearbyint, ties to even).
inline float roundToHalf(float x) {
  if (std::isnan(x)) return x;
  const double a = std::fabs(static_cast<double>(x));
  double q;
  if (a >= 65520.0) {
    q = std::numeric_limits<double>::infinity();
  } else if (a < std::ldexp(1.0, -14)) {
    q = std::nearbyint(a * std::ldexp(1.0, 24)) * std::ldexp(1.0, -24);
  } else {
    int e;
    std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
    const double ulp = std::ldexp(1.0, e - 11);
    q = std::nearbyint(a / ulp) * ulp;
  }
  return static_cast<float>(std::signbit(x) ? -q : q);
}

inline bool sameFloat(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x == y || (std::isnan(a) && std::isnan(b));
}

/// Counts cells that differ (NaN equals NaN, -0 differs from +0) and reports the first.
inline ::testing::AssertionResult sameFloats(const std::vector<float>& actual,
                                             const std::vector<float>& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << " != " << expected.size();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < actual.size(); ++i)
    if (!sameFloat(actual[i], expected[i]) && bad++ == 0) first = i;
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " cells differ, first at " << first << ": " << actual[first] << " vs " << expected[first];
}

inline CaptureTokens makeTokens(int64_t n) {
  CaptureTokens tokens;
  const char* words[] = {"▁the", "héllo", "日本", " ", "\n", "<s>", "x"};
  for (int64_t i = 0; i < n; ++i) {
    tokens.ids.push_back((i * 7919 + 13) % 32000);
    tokens.text.push_back(words[i % 7]);
  }
  return tokens;
}

inline const CaptureModel kModel{R"({"n_layer": 2})", "/models/tiny", "00112233aabbccdd"};
inline const std::string kPattern0 = "blocks.0.attn.hook_pattern", kScores1 = "blocks.1.attn.hook_scores";

inline RunSpec makeSpec(const std::string& name, int64_t n_tokens, std::vector<MapRequest> maps = {}) {
  RunSpec spec;
  spec.name = name;
  spec.normalizer = "softmax";
  spec.n_layer = 2;
  spec.n_head = 4;
  spec.n_tokens = n_tokens;
  spec.stats = {"max_prob", "entropy"};
  spec.maps = std::move(maps);
  spec.topk = 3;
  spec.targets = {{1, 3}, {n_tokens - 2, n_tokens}};
  return spec;
}

/// A deterministic stat value for (stat, layer, head, query) and run seed.
inline float statValue(int seed, int s, int64_t layer, int64_t head, int64_t q) {
  return static_cast<float>(std::sin(0.37 * q + 1.3 * head + 2.1 * layer + 0.7 * s + seed) * 0.5 + 0.5);
}

inline void writeStats(RunWriter& writer, const RunSpec& spec, int seed, int64_t block) {
  for (size_t s = 0; s < spec.stats.size(); ++s)
    for (int64_t layer = 0; layer < spec.n_layer; ++layer)
      for (int64_t q0 = 0; q0 < spec.n_tokens; q0 += block) {
        const int64_t q1 = std::min(spec.n_tokens, q0 + block);
        std::vector<float> values;
        for (int64_t h = 0; h < spec.n_head; ++h)
          for (int64_t q = q0; q < q1; ++q)
            values.push_back(statValue(seed, static_cast<int>(s), layer, h, q));
        writer.writeStat(spec.stats[s], layer, q0, q1, values.data());
      }
}

inline void expectStats(const CaptureFile& file, const RunSpec& spec, int seed) {
  for (size_t s = 0; s < spec.stats.size(); ++s)
    for (int64_t layer = 0; layer < spec.n_layer; ++layer) {
      std::vector<float> expected;
      for (int64_t h = 0; h < spec.n_head; ++h)
        for (int64_t q = 0; q < spec.n_tokens; ++q)
          expected.push_back(statValue(seed, static_cast<int>(s), layer, h, q));
      EXPECT_TRUE(sameFloats(file.readStat(spec.name, spec.stats[s], layer), expected)) << spec.stats[s];
    }
}

/// A causal map [n, n] with fill above the diagonal: pattern-like values in [0, 1), or scores in [-8, 8).
inline std::vector<float> causalMap(int64_t n, bool scores, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(scores ? -8.0f : 0.0f, scores ? 8.0f : 1.0f);
  std::vector<float> map(static_cast<size_t>(n * n), scores ? -kInf : 0.0f);
  for (int64_t q = 0; q < n; ++q)
    for (int64_t k = 0; k <= q; ++k) map[static_cast<size_t>(q * n + k)] = uniform(rng);
  return map;
}

/// Streams rows [0, n) of map in blocks of `block` rows, each covering columns [0, q1) the causal way.
inline void writeCausal(RunWriter& writer, const std::string& hook, int64_t head,
                        const std::vector<float>& map, int64_t n, int64_t block,
                        const std::function<void()>& after_block = {}) {
  for (int64_t q0 = 0; q0 < n; q0 += block) {
    const int64_t q1 = std::min(n, q0 + block);
    std::vector<float> values;
    for (int64_t q = q0; q < q1; ++q) values.insert(values.end(), &map[q * n], &map[q * n + q1]);
    writer.writeMapBlock(hook, head, q0, q1, 0, q1, values.data());
    if (after_block) after_block();
  }
}

/// Level k of the pyramid computed directly: max over each 2^k × 2^k block, then rounded to fp16.
inline std::vector<float> maxPool(const std::vector<float>& map, int64_t n, int64_t level) {
  const int64_t f = int64_t{1} << level, side = (n + f - 1) / f;
  std::vector<float> out(static_cast<size_t>(side * side));
  for (int64_t i = 0; i < side; ++i)
    for (int64_t j = 0; j < side; ++j) {
      float m = -kInf;
      for (int64_t q = i * f; q < std::min(n, (i + 1) * f); ++q)
        for (int64_t k = j * f; k < std::min(n, (j + 1) * f); ++k) m = std::max(m, map[q * n + k]);
      out[i * side + j] = roundToHalf(m);
    }
  return out;
}

inline std::vector<float> readLevel(const CaptureFile& file, const std::string& run, const std::string& hook,
                                    int64_t head, int64_t level) {
  const int64_t side = (file.run(run).n_tokens + (int64_t{1} << level) - 1) >> level;
  return file.readMapTile(run, hook, head, level, 0, side, 0, side);
}

template <typename F>
inline std::string errorOf(F&& f) {
  try {
    f();
  } catch (const StoreError& e) {
    return e.what();
  }
  return "(no StoreError)";
}

inline bool hasH5py() {
  return std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
}

inline std::string runCommand(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return "(popen failed)";
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  *status = ::pclose(pipe);
  return output;
}
}  // namespace attnscope::test
