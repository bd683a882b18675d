// Capture files: round trips, the streamed pyramid against a direct max-pool, fill values, locking, foreign
// files, and crash safety (a writer SIGKILLed at varying moments never damages earlier runs).

#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "attnscope/store.h"

// Fault injection: HDF5 reaches the file through pwrite and ftruncate, and these definitions take the place
// of libc's for the whole test binary. They pass every call through, except in a child that set g_die_at:
// that child dies by SIGKILL just before its g_die_at-th call, so the file holds exactly the writes before
// it.
namespace {
std::atomic<long> g_file_calls{0};
long g_die_at = 0;

void crashPoint() {
  if (++g_file_calls == g_die_at) ::raise(SIGKILL);
}
}  // namespace

extern "C" ssize_t pwrite(int fd, const void* buffer, size_t n, off_t offset) {
  crashPoint();
  return ::syscall(SYS_pwrite64, fd, buffer, n, offset);
}

extern "C" int ftruncate(int fd, off_t length) noexcept {
  crashPoint();
  return static_cast<int>(::syscall(SYS_ftruncate, fd, length));
}

namespace attnscope {
namespace {

namespace fs = std::filesystem;
constexpr float kInf = std::numeric_limits<float>::infinity();

/// A unique file name under the temp directory, removed when the test ends.
class TempPath {
 public:
  explicit TempPath(const std::string& stem) {
    static std::atomic<int> counter{0};
    m_path = fs::temp_directory_path() / ("attnscope_test_store_" + std::to_string(::getpid()) + "_" +
                                          std::to_string(counter++) + "_" + stem);
    fs::remove(m_path);
  }
  ~TempPath() {
    std::error_code ignored;
    fs::remove(m_path, ignored);
  }
  std::string str() const { return m_path.string(); }

 private:
  fs::path m_path;
};

/// Reference fp16 rounding, computed differently from the store (scaling plus nearbyint, ties to even).
float roundToHalf(float x) {
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

/// Decodes IEEE half bits the slow, obvious way.
float halfBitsToFloat(uint16_t h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0 ? std::ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(1024 + m, e - 25);
  return static_cast<float>(h & 0x8000 ? -v : v);
}

bool sameFloat(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x == y || (std::isnan(a) && std::isnan(b));
}

/// Counts cells that differ (NaN equals NaN, -0 differs from +0) and reports the first.
::testing::AssertionResult sameFloats(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << " != " << expected.size();
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < actual.size(); ++i)
    if (!sameFloat(actual[i], expected[i]) && bad++ == 0) first = i;
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " cells differ, first at " << first << ": " << actual[first] << " vs " << expected[first];
}

CaptureTokens makeTokens(int64_t n) {
  CaptureTokens tokens;
  const char* words[] = {"▁the", "héllo", "日本", " ", "\n", "<s>", "x"};
  for (int64_t i = 0; i < n; ++i) {
    tokens.ids.push_back((i * 7919 + 13) % 32000);
    tokens.text.push_back(words[i % 7]);
  }
  return tokens;
}

const CaptureModel kModel{R"({"n_layer": 2})", "/models/tiny", "00112233aabbccdd"};
const std::string kPattern0 = "blocks.0.attn.hook_pattern", kScores1 = "blocks.1.attn.hook_scores";

RunSpec makeSpec(const std::string& name, int64_t n_tokens, std::vector<MapRequest> maps = {}) {
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
float statValue(int seed, int s, int64_t layer, int64_t head, int64_t q) {
  return static_cast<float>(std::sin(0.37 * q + 1.3 * head + 2.1 * layer + 0.7 * s + seed) * 0.5 + 0.5);
}

void writeStats(RunWriter& writer, const RunSpec& spec, int seed, int64_t block) {
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

void expectStats(const CaptureFile& file, const RunSpec& spec, int seed) {
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
std::vector<float> causalMap(int64_t n, bool scores, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(scores ? -8.0f : 0.0f, scores ? 8.0f : 1.0f);
  std::vector<float> map(static_cast<size_t>(n * n), scores ? -kInf : 0.0f);
  for (int64_t q = 0; q < n; ++q)
    for (int64_t k = 0; k <= q; ++k) map[static_cast<size_t>(q * n + k)] = uniform(rng);
  return map;
}

/// Streams rows [0, n) of map in blocks of `block` rows, each covering columns [0, q1) the causal way.
void writeCausal(RunWriter& writer, const std::string& hook, int64_t head, const std::vector<float>& map,
                 int64_t n, int64_t block, const std::function<void()>& after_block = {}) {
  for (int64_t q0 = 0; q0 < n; q0 += block) {
    const int64_t q1 = std::min(n, q0 + block);
    std::vector<float> values;
    for (int64_t q = q0; q < q1; ++q) values.insert(values.end(), &map[q * n], &map[q * n + q1]);
    writer.writeMapBlock(hook, head, q0, q1, 0, q1, values.data());
    if (after_block) after_block();
  }
}

/// Level k of the pyramid computed directly: max over each 2^k × 2^k block, then rounded to fp16.
std::vector<float> maxPool(const std::vector<float>& map, int64_t n, int64_t level) {
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

std::vector<float> readLevel(const CaptureFile& file, const std::string& run, const std::string& hook,
                             int64_t head, int64_t level) {
  const int64_t side = (file.run(run).n_tokens + (int64_t{1} << level) - 1) >> level;
  return file.readMapTile(run, hook, head, level, 0, side, 0, side);
}

template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const StoreError& e) {
    return e.what();
  }
  return "(no StoreError)";
}

bool hasH5py() {
  return std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0;
}

std::string runCommand(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return "(popen failed)";
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  *status = ::pclose(pipe);
  return output;
}

// ---------------------------------------------------------------------------------------------------------------

TEST(Store, Fp16IsExactRoundToNearestEven) {
  TempPath path("fp16.h5");
  const int64_t n = 256;  // 65536 cells: every half bit pattern once
  std::vector<float> all(n * n), ties(n * n), above(n * n);
  for (int i = 0; i < 65536; ++i) all[i] = halfBitsToFloat(static_cast<uint16_t>(i));
  // Midpoints between neighbouring halves (ties: must go to the even one) and just above them.
  for (int i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float a = halfBitsToFloat(h),
                b = halfBitsToFloat(static_cast<uint16_t>((h & 0x8000) | ((h & 0x7fff) + 1)));
    const bool finite = (h & 0x7fff) < 0x7bff;
    ties[i] = finite ? static_cast<float>((static_cast<double>(a) + b) / 2) : a;
    above[i] = finite ? std::nextafter(ties[i], std::signbit(a) ? -kInf : kInf) : a;
  }
  ties[0x7bff] = 65520.0f, ties[0xfbff] = -65520.0f;   // the tie above the largest half goes to infinity
  above[0x7bff] = 65519.996f, above[0xfbff] = 1e-30f;  // just below the tie; far below the smallest subnormal
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {0, 1, 2}}}));
    writer.writeMapBlock(kPattern0, 0, 0, n, 0, n, all.data());
    writer.writeMapBlock(kPattern0, 1, 0, n, 0, n, ties.data());
    writer.writeMapBlock(kPattern0, 2, 0, n, 0, n, above.data());
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  ASSERT_EQ(file->mapLevels("r", kPattern0, 0), 1);
  EXPECT_TRUE(sameFloats(readLevel(*file, "r", kPattern0, 0, 0), all));  // includes -0, subnormals, inf, NaN
  for (float& v : ties) v = roundToHalf(v);
  for (float& v : above) v = roundToHalf(v);
  EXPECT_TRUE(sameFloats(readLevel(*file, "r", kPattern0, 1, 0), ties));
  EXPECT_TRUE(sameFloats(readLevel(*file, "r", kPattern0, 2, 0), above));
  EXPECT_EQ(roundToHalf(65520.0f), kInf);
  EXPECT_EQ(roundToHalf(std::ldexp(1.0f, -25)), 0.0f);
}

TEST(Store, RoundTripsTokensModelAndStats) {
  TempPath path("roundtrip.h5");
  const int64_t n = 50;
  CaptureTokens tokens = makeTokens(n);
  tokens.text[4] = std::string("bad\xff utf8\0nul", 13);  // stored sanitized: h5py must be able to decode it
  RunSpec spec = makeSpec("softmax", n, {{kPattern0, 0, {1, 3}}, {kScores1, 1, {0}}});
  {
    auto file = CaptureFile::create(path.str(), kModel, tokens);
    RunWriter writer = file->beginRun(spec);
    writeStats(writer, spec, 0, 16);
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  EXPECT_EQ(file->path(), path.str());
  EXPECT_EQ(file->nTokens(), n);
  CaptureModel model = file->model();
  EXPECT_EQ(model.config_json, kModel.config_json);
  EXPECT_EQ(model.path, kModel.path);
  EXPECT_EQ(model.weights_hash, kModel.weights_hash);
  CaptureTokens read = file->tokens();
  EXPECT_EQ(read.ids, tokens.ids);
  ASSERT_EQ(read.text.size(), tokens.text.size());
  for (int64_t i = 0; i < n; ++i) {
    if (i != 4) {
      EXPECT_EQ(read.text[i], tokens.text[i]);
    }
  }
  EXPECT_EQ(read.text[4], "bad\xef\xbf\xbd utf8\xe2\x90\x80nul");

  RunInfo info = file->run("softmax");
  EXPECT_TRUE(info.complete);
  EXPECT_EQ(info.normalizer, "softmax");
  EXPECT_EQ(info.n_layer, 2);
  EXPECT_EQ(info.n_head, 4);
  EXPECT_EQ(info.n_tokens, n);
  EXPECT_EQ(info.topk, 3);
  EXPECT_EQ(info.targets, spec.targets);
  EXPECT_EQ(info.stats, (std::vector<std::string>{"entropy", "max_prob"}));  // name order
  ASSERT_EQ(info.maps.size(), 2u);
  EXPECT_EQ(info.maps[0].hook, kPattern0);
  EXPECT_EQ(info.maps[0].layer, 0);
  EXPECT_EQ(info.maps[0].heads, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(info.maps[1].hook, kScores1);
  EXPECT_EQ(info.maps[1].layer, 1);
  ASSERT_EQ(info.created.size(), 20u);
  EXPECT_EQ(info.created.back(), 'Z');
  expectStats(*file, spec, 0);
  std::vector<float> head2 = file->readStat("softmax", "entropy", 1, 2);
  ASSERT_EQ(head2.size(), static_cast<size_t>(n));
  EXPECT_EQ(head2[7], statValue(0, 1, 1, 2, 7));
  // Maps never written read as their fill value.
  EXPECT_TRUE(sameFloats(file->readMapTile("softmax", kPattern0, 3, 0, 0, 2, 0, 2), {0, 0, 0, 0}));
  EXPECT_TRUE(sameFloats(file->readMapTile("softmax", kScores1, 0, 0, 0, 1, 0, 2), {-kInf, -kInf}));
}

TEST(Store, UnwrittenStatsReadAsNaN) {
  TempPath path("nan.h5");
  RunSpec spec = makeSpec("r", 10);
  spec.targets.clear();
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(10));
    RunWriter writer = file->beginRun(spec);
    std::vector<float> values(4 * 3, 0.5f);
    writer.writeStat("max_prob", 1, 2, 5, values.data());
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  std::vector<float> row = file->readStat("r", "max_prob", 1, 3);
  for (int64_t q = 0; q < 10; ++q) EXPECT_EQ(std::isnan(row[q]), q < 2 || q >= 5) << q;
  EXPECT_TRUE(file->run("r").targets.empty());
}

TEST(Store, StreamedPyramidEqualsDirectMaxPool) {
  TempPath path("pyramid.h5");
  const int64_t n = 600;
  std::vector<float> pattern = causalMap(n, false, 1), scores = causalMap(n, true, 2);
  // Rows 301..314 of the score map (two 7-row blocks) are never written: they must read as -inf.
  for (int64_t q = 301; q < 315; ++q)
    for (int64_t k = 0; k < n; ++k) scores[q * n + k] = -kInf;
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {2}}, {kScores1, 1, {0}}}));
    writeCausal(writer, kPattern0, 2, pattern, n, 7);
    // The score map arrives in 7-row blocks split into two key ranges, like key-tiled attention.
    for (int64_t q0 = 0; q0 < n; q0 += 7) {
      const int64_t q1 = std::min(n, q0 + 7), split = q1 / 2;
      if (q0 == 301 || q0 == 308) continue;
      for (auto [k0, k1] : {std::pair<int64_t, int64_t>{0, split}, {split, q1}}) {
        std::vector<float> values;
        for (int64_t q = q0; q < q1; ++q)
          values.insert(values.end(), &scores[q * n + k0], &scores[q * n + k1]);
        writer.writeMapBlock(kScores1, 0, q0, q1, k0, k1, values.data());
      }
      if (q0 % 70 == 0) writer.flush();  // partial bands written early must be rewritten correctly later
    }
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  for (auto [hook, head, map] :
       {std::tuple<std::string, int64_t, const std::vector<float>*>{kPattern0, 2, &pattern},
        {kScores1, 0, &scores}}) {
    SCOPED_TRACE(hook);
    ASSERT_EQ(file->mapLevels("r", hook, head), 3);  // sides 600, 300, 150
    std::vector<float> level0 = readLevel(*file, "r", hook, head, 0);
    ASSERT_EQ(level0.size(), static_cast<size_t>(n * n));
    for (size_t i = 0; i < level0.size(); ++i) {  // within fp16 rounding of the input...
      const float x = (*map)[i];
      if (std::isfinite(x)) {
        ASSERT_LE(std::fabs(level0[i] - x), std::ldexp(std::fabs(x), -11) + 3e-8f) << i;
      }
    }
    EXPECT_TRUE(sameFloats(level0, maxPool(*map, n, 0)));  // ...and exactly its round-to-nearest-even
    EXPECT_TRUE(sameFloats(readLevel(*file, "r", hook, head, 1), maxPool(*map, n, 1)));
    EXPECT_TRUE(sameFloats(readLevel(*file, "r", hook, head, 2), maxPool(*map, n, 2)));
    // A tile at odd offsets equals the same cells of the whole level.
    std::vector<float> tile = file->readMapTile("r", hook, head, 1, 33, 77, 250, 300), expected;
    std::vector<float> level1 = readLevel(*file, "r", hook, head, 1);
    for (int64_t r = 33; r < 77; ++r)
      for (int64_t c = 250; c < 300; ++c) expected.push_back(level1[r * 300 + c]);
    EXPECT_TRUE(sameFloats(tile, expected));
  }
  EXPECT_EQ(readLevel(*file, "r", kPattern0, 2, 0)[5 * n + 599], 0.0f);    // above the diagonal: fill 0
  EXPECT_EQ(readLevel(*file, "r", kScores1, 0, 0)[5 * n + 599], -kInf);    // scores fill -inf
  EXPECT_EQ(readLevel(*file, "r", kScores1, 0, 2)[77 * 150 + 10], -kInf);  // rows 308..311: never written
}

TEST(Store, TwoRunsInOneFileAndAppendChecks) {
  TempPath path("tworuns.h5");
  const int64_t n = 300;
  std::vector<float> map_a = causalMap(n, false, 3), map_b = causalMap(n, false, 4);
  RunSpec a = makeSpec("softmax", n, {{kPattern0, 0, {0}}}), b = makeSpec("ssmax", n, {{kPattern0, 0, {0}}});
  b.normalizer = "ssmax:s=0.45";
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(a);
    writeStats(writer, a, 1, 64);
    writeCausal(writer, kPattern0, 0, map_a, n, 64);
    writer.finish();
  }
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));  // existing file: appends
    RunWriter writer = file->beginRun(b);
    writeStats(writer, b, 2, 100);
    writeCausal(writer, kPattern0, 0, map_b, n, 100);
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  std::vector<RunInfo> runs = file->runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].name, "softmax");
  EXPECT_EQ(runs[1].name, "ssmax");
  EXPECT_EQ(runs[1].normalizer, "ssmax:s=0.45");
  EXPECT_TRUE(runs[0].complete && runs[1].complete);
  expectStats(*file, a, 1);
  expectStats(*file, b, 2);
  EXPECT_TRUE(sameFloats(readLevel(*file, "softmax", kPattern0, 0, 1), maxPool(map_a, n, 1)));
  EXPECT_TRUE(sameFloats(readLevel(*file, "ssmax", kPattern0, 0, 1), maxPool(map_b, n, 1)));
  file.reset();

  CaptureTokens other = makeTokens(n);
  other.ids[5] += 1;
  EXPECT_NE(errorOf([&] {
              CaptureFile::create(path.str(), kModel, other);
            }).find("holds a capture of different tokens"),
            std::string::npos);
  CaptureModel retrained = kModel;
  retrained.weights_hash = "ffff";
  EXPECT_NE(errorOf([&] {
              CaptureFile::create(path.str(), retrained, makeTokens(n));
            }).find(path.str() + ": holds a capture of different weights"),
            std::string::npos);

  // With other_weights the file takes a run of the retrained model, which records its own model; the file's
  // /model and the earlier runs stay as they were.
  {
    auto appender = CaptureFile::create(path.str(), retrained, makeTokens(n), /*other_weights=*/true);
    RunSpec c = makeSpec("retrained", n);
    c.model = retrained;
    RunWriter writer = appender->beginRun(c);
    writeStats(writer, c, 3, 64);
    writer.finish();
  }
  file = CaptureFile::open(path.str());
  EXPECT_EQ(file->model().weights_hash, kModel.weights_hash);
  EXPECT_FALSE(file->run("softmax").model.has_value());
  const RunInfo retrained_run = file->run("retrained");
  ASSERT_TRUE(retrained_run.model.has_value());
  EXPECT_EQ(retrained_run.model->weights_hash, "ffff");
  EXPECT_EQ(retrained_run.model->config_json, kModel.config_json);
  EXPECT_EQ(retrained_run.model->path, kModel.path);
  expectStats(*file, makeSpec("retrained", n), 3);
  expectStats(*file, a, 1);
}

TEST(Store, RejectsDuplicateRunAndReadOnlyWrites) {
  TempPath path("duplicate.h5");
  auto file = CaptureFile::create(path.str(), kModel, makeTokens(8));
  file->beginRun(makeSpec("a", 8)).finish();
  std::string error = errorOf([&] { file->beginRun(makeSpec("a", 8)); });
  EXPECT_NE(error.find(path.str() + ": run 'a' already exists"), std::string::npos) << error;
  EXPECT_NE(errorOf([&] { file->beginRun(makeSpec("x/y", 8)); }).find("invalid run name"), std::string::npos);
  file.reset();
  auto reader = CaptureFile::open(path.str());
  EXPECT_NE(errorOf([&] { reader->beginRun(makeSpec("b", 8)); }).find("read-only"), std::string::npos);
}

TEST(Store, AbandonedWriterLeavesIncompleteRunWithItsData) {
  TempPath path("abandoned.h5");
  const int64_t n = 200;
  std::vector<float> map = causalMap(n, false, 5);
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {0}}}));
    writeCausal(writer, kPattern0, 0, map, n, 10);
  }  // destroyed without finish()
  auto file = CaptureFile::open(path.str());
  EXPECT_FALSE(file->run("r").complete);
  std::vector<float> level0 = readLevel(*file, "r", kPattern0, 0, 0);
  EXPECT_EQ(level0[150 * n + 3], roundToHalf(map[150 * n + 3]));
}

TEST(Store, ReadMapTileClipsAndChecksBounds) {
  TempPath path("tile.h5");
  const int64_t n = 300;
  std::vector<float> map = causalMap(n, false, 6);
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    RunWriter writer = file->beginRun(makeSpec("r", n, {{kPattern0, 0, {1}}}));
    writeCausal(writer, kPattern0, 1, map, n, 50);
    writer.finish();
  }
  auto file = CaptureFile::open(path.str());
  ASSERT_EQ(file->mapLevels("r", kPattern0, 1), 2);
  EXPECT_EQ(file->readMapTile("r", kPattern0, 1, 1, 140, 500, -5, 3).size(),
            10u * 3u);  // clipped to 150 × 150
  EXPECT_TRUE(file->readMapTile("r", kPattern0, 1, 0, 300, 400, 0, 10).empty());
  EXPECT_TRUE(file->readMapTile("r", kPattern0, 1, 0, 20, 10, 0, 10).empty());
  EXPECT_EQ(file->readMapTile("r", kPattern0, 1, 0, 299, 300, 0, 1)[0], roundToHalf(map[299 * n]));
  EXPECT_NE(
      errorOf([&] { file->readMapTile("r", kPattern0, 1, 2, 0, 1, 0, 1); }).find("has no level 2 (it has 2)"),
      std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("r", kPattern0, 1, -1, 0, 1, 0, 1); }).find("has no level -1"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("r", kPattern0, 0, 0, 0, 1, 0, 1); }).find("head 0"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("r", kScores1, 1, 0, 0, 1, 0, 1); }).find("has no map of hook"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readMapTile("nope", kPattern0, 1, 0, 0, 1, 0, 1); }).find("no run 'nope'"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readStat("r", "max_prob", 2); }).find("layer 2 out of range"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { file->readStat("r", "nope", 0); }).find("has no stat 'nope'"), std::string::npos);
}

TEST(Store, WriterChecksItsInput) {
  TempPath path("input.h5");
  auto file = CaptureFile::create(path.str(), kModel, makeTokens(200));
  RunWriter writer = file->beginRun(makeSpec("r", 200, {{kPattern0, 0, {0}}}));
  std::vector<float> values(200 * 200, 0.5f);
  writer.writeMapBlock(kPattern0, 0, 130, 140, 0, 140, values.data());
  EXPECT_NE(errorOf([&] {
              writer.writeMapBlock(kPattern0, 0, 0, 10, 0, 10, values.data());
            }).find("increasing order"),
            std::string::npos);
  EXPECT_NE(
      errorOf([&] { writer.writeMapBlock(kPattern0, 0, 190, 201, 0, 10, values.data()); }).find("outside"),
      std::string::npos);
  EXPECT_NE(
      errorOf([&] { writer.writeMapBlock(kPattern0, 1, 190, 200, 0, 10, values.data()); }).find("no map"),
      std::string::npos);
  EXPECT_NE(errorOf([&] { writer.writeStat("max_prob", 2, 0, 1, values.data()); }).find("out of range"),
            std::string::npos);
  writer.finish();
  EXPECT_NE(errorOf([&] { writer.flush(); }).find("already finished"), std::string::npos);
}

TEST(Store, RejectsForeignAndNewerFiles) {
  TempPath text("foreign.txt"), bare("bare.h5"), newer("newer.h5");
  { std::ofstream(text.str()) << "hello, not HDF5\n"; }
  std::string error = errorOf([&] { CaptureFile::open(text.str()); });
  EXPECT_EQ(error, text.str() + ": not an HDF5 file (not an attnscope capture)");
  EXPECT_NE(errorOf([&] { CaptureFile::create(text.str(), kModel, makeTokens(4)); }).find("not an HDF5 file"),
            std::string::npos);
  std::ifstream kept(text.str());
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "hello, not HDF5\n");  // never clobbered
  EXPECT_NE(errorOf([&] { CaptureFile::open(text.str() + ".missing"); }).find("no such file"),
            std::string::npos);

  hid_t file = H5Fcreate(bare.str().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  H5Fclose(file);
  EXPECT_EQ(errorOf([&] { CaptureFile::open(bare.str()); }),
            bare.str() + ": not an attnscope capture (no schema_version attribute)");

  CaptureFile::create(newer.str(), kModel, makeTokens(4)).reset();
  file = H5Fopen(newer.str().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  hid_t attr = H5Aopen(file, "schema_version", H5P_DEFAULT);
  const int64_t version = kCaptureSchemaVersion + 1;
  H5Awrite(attr, H5T_NATIVE_INT64, &version);
  H5Aclose(attr);
  H5Fclose(file);
  error = errorOf([&] { CaptureFile::open(newer.str()); });
  EXPECT_NE(error.find(newer.str() + ": capture schema version 2 is newer"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

// A child process holds the file for appending until the parent releases it through a pipe.
TEST(Store, SecondWriterIsRefused) {
  TempPath path("locked.h5");
  CaptureFile::create(path.str(), kModel, makeTokens(8)).reset();
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 0;
    try {
      auto file = CaptureFile::open(path.str(), CaptureFile::Mode::Append);
      char c = 'r';
      if (::write(ready[1], &c, 1) != 1) code = 2;
      if (::read(release[0], &c, 1) < 0) code = 3;  // returns when the parent writes or closes
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  const std::string expected = path.str() + ": being written by another attnscope process";
  EXPECT_EQ(errorOf([&] { CaptureFile::open(path.str(), CaptureFile::Mode::Append); }), expected);
  EXPECT_EQ(errorOf([&] { CaptureFile::create(path.str(), kModel, makeTokens(8)); }), expected);
  EXPECT_EQ(CaptureFile::open(path.str())->nTokens(), 8);  // readers are not blocked
  EXPECT_EQ(::write(release[1], &c, 1), 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);
  CaptureFile::open(path.str(), CaptureFile::Mode::Append);  // free again once the writer is gone
}

// ---------------------------------------------------------------------------------------------------------------
// Crash safety.

RunSpec crashSpec(const std::string& name, int64_t n) {
  return makeSpec(name, n, {{kPattern0, 0, {0}}});
}

/// File calls a writer made: when beginRun returned, when finish() was called, and in all.
struct CallCounts {
  long begun = 0, finishing = 0, total = 0;
};

/// The writer to kill: appends run b (stats, then the map in blocks of `block` rows with a flush after each)
/// and finishes; reports its CallCounts on fd `report` when that is >= 0.
[[noreturn]] void writeRunB(const std::string& path, const std::vector<float>& map, int64_t n, int64_t block,
                            int report) {
  int code = 0;
  CallCounts counts;
  try {
    auto file = CaptureFile::create(path, kModel, makeTokens(n));
    RunSpec spec = crashSpec("b", n);
    RunWriter writer = file->beginRun(spec);
    counts.begun = g_file_calls;
    writeStats(writer, spec, 7, 256);
    writer.flush();
    writeCausal(writer, kPattern0, 0, map, n, block, [&] { writer.flush(); });
    counts.finishing = g_file_calls;
    writer.finish();
  } catch (...) {
    code = 1;
  }
  counts.total = g_file_calls;
  if (report >= 0 && ::write(report, &counts, sizeof counts) != sizeof counts) code = 2;
  ::_exit(code);
}

/// Every value a run holds: each stat of each layer, then each level of each map.
struct RunData {
  std::vector<std::vector<float>> stats, levels;
};

RunData readRun(const CaptureFile& file, const std::string& run) {
  RunData data;
  RunInfo info = file.run(run);
  for (const std::string& stat : info.stats)
    for (int64_t layer = 0; layer < info.n_layer; ++layer)
      data.stats.push_back(file.readStat(run, stat, layer));
  for (const MapRequest& map : info.maps)
    for (int64_t head : map.heads)
      for (int64_t level = 0; level < file.mapLevels(run, map.hook, head); ++level)
        data.levels.push_back(readLevel(file, run, map.hook, head, level));
  return data;
}

void expectSameRun(const RunData& actual, const RunData& expected) {
  ASSERT_EQ(actual.stats.size(), expected.stats.size());
  ASSERT_EQ(actual.levels.size(), expected.levels.size());
  for (size_t i = 0; i < actual.stats.size(); ++i)
    EXPECT_TRUE(sameFloats(actual.stats[i], expected.stats[i]));
  for (size_t i = 0; i < actual.levels.size(); ++i)
    EXPECT_TRUE(sameFloats(actual.levels[i], expected.levels[i]));
}

/// Writes a file whose only run, a, is complete; returns a as read back.
RunData writeRunA(const std::string& path, int64_t n) {
  {
    auto file = CaptureFile::create(path, kModel, makeTokens(n));
    RunSpec a = crashSpec("a", n);
    RunWriter writer = file->beginRun(a);
    writeStats(writer, a, 1, 512);
    writeCausal(writer, kPattern0, 0, causalMap(n, false, 10), n, 256);
    writer.finish();
  }
  return readRun(*CaptureFile::open(path), "a");
}

/// Runs writeRunB to completion in a child; returns run b as read back and the file calls it made.
std::pair<RunData, CallCounts> completeRunB(const std::string& pristine, int64_t n, int64_t block) {
  TempPath path("complete_b.h5");
  fs::copy_file(pristine, path.str());
  int report[2];
  EXPECT_EQ(::pipe(report), 0);
  pid_t child = ::fork();
  if (child == 0) {
    g_file_calls = 0;
    writeRunB(path.str(), causalMap(n, false, 20), n, block, report[1]);
  }
  CallCounts calls;
  EXPECT_EQ(::read(report[0], &calls, sizeof calls), static_cast<ssize_t>(sizeof calls));
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(report[0]);
  ::close(report[1]);
  return {readRun(*CaptureFile::open(path.str()), "b"), calls};
}

enum class RunState { Absent, Incomplete, Complete };

/// Checks a file whose writer of run b was killed: run a is bit-identical, b is absent or incomplete (or, if
/// the kill came after finish(), whole), and the file takes a new run c without disturbing a.
RunState checkKilledFile(const std::string& path, int64_t n, const RunData& a,
                         const std::function<RunData()>& b, bool recheck_a = true) {
  RunState state = RunState::Absent;
  {
    auto file = CaptureFile::open(path);
    expectSameRun(readRun(*file, "a"), a);
    EXPECT_TRUE(file->run("a").complete);
    std::vector<RunInfo> runs = file->runs();
    const bool has_b = runs.size() == 2 && runs[1].name == "b";
    EXPECT_TRUE(runs.size() == 1 || has_b);
    if (has_b) state = runs[1].complete ? RunState::Complete : RunState::Incomplete;
    if (state == RunState::Complete) expectSameRun(readRun(*file, "b"), b());
  }
  const int64_t n_c = std::min<int64_t>(n, 300);  // a run may cover a prefix of the file's tokens
  const std::vector<float> map_c = causalMap(n_c, false, 30);
  {
    auto file = CaptureFile::create(path, kModel, makeTokens(n));
    if (state != RunState::Absent) {
      EXPECT_NE(errorOf([&] { file->beginRun(crashSpec("b", n)); }).find("run 'b' already exists"),
                std::string::npos);
    }
    RunSpec c = makeSpec("c", n_c, {{kPattern0, 0, {3}}});
    RunWriter writer = file->beginRun(c);
    writeStats(writer, c, 3, 100);
    writeCausal(writer, kPattern0, 3, map_c, n_c, 100);
    writer.finish();
  }
  auto file = CaptureFile::open(path);
  EXPECT_TRUE(file->run("c").complete);
  expectStats(*file, makeSpec("c", n_c), 3);
  EXPECT_TRUE(sameFloats(readLevel(*file, "c", kPattern0, 3, 0), maxPool(map_c, n_c, 0)));
  if (recheck_a) expectSameRun(readRun(*file, "a"), a);
  return state;
}

/// h5py opens every file and reads all of run a's datasets; a run b left by a killed writer must not stop it.
void expectH5pyReadsRunA(const std::vector<std::string>& paths) {
  if (!hasH5py()) {
    std::printf("[          ] skipping the h5py check: /usr/bin/python3 has no h5py\n");
    return;
  }
  std::string command =
      "/usr/bin/python3 -c '\n"
      "import sys, h5py\n"
      "for path in sys.argv[1:]:\n"
      "    with h5py.File(path, \"r\") as f:\n"
      "        a = f[\"runs/a\"]\n"
      "        assert a.attrs[\"complete\"] == 1\n"
      "        for g in (a[\"stats\"], a[\"maps/blocks.0.attn.hook_pattern/head_0\"]):\n"
      "            for d in g.values(): d[()]\n"
      "        assert a[\"maps/blocks.0.attn.hook_pattern/head_0/level_0\"].dtype.str == \"<f2\"\n"
      "        print(\"OK\", sorted(f[\"runs\"].keys()))\n"
      "'";
  for (const std::string& path : paths) command += " " + path;
  int status = 0;
  std::string output = runCommand(command, &status);
  EXPECT_EQ(status, 0) << output;
  size_t oks = 0;
  for (size_t at = output.find("OK ["); at != std::string::npos; at = output.find("OK [", at + 1)) ++oks;
  EXPECT_EQ(oks, paths.size()) << output;
}

/// Kill delays in ms: five by default; ATTNSCOPE_STORE_KILLS=N draws N from 0..1500 ms for a longer soak.
std::vector<int> killDelaysMs() {
  const char* env = std::getenv("ATTNSCOPE_STORE_KILLS");
  if (!env) return {1, 10, 40, 120, 300};
  std::vector<int> delays;
  std::mt19937 rng(1234);
  for (int i = 0, n = std::atoi(env); i < n; ++i) delays.push_back(static_cast<int>(rng() % 1501));
  return delays;
}

// The writer (a 2048-token map in 8-row blocks, a flush after each: over a second) gets SIGKILL after a
// delay.
TEST(Store, KilledWriterLeavesEarlierRunsIntact) {
  const int64_t n = 2048, block = 8;
  TempPath pristine("pristine.h5");
  const RunData a = writeRunA(pristine.str(), n);
  ASSERT_EQ(a.levels.size(), 4u);  // sides 2048, 1024, 512, 256
  const std::vector<float> map_b = causalMap(n, false, 20);
  std::optional<RunData> b;  // needed only if a kill comes after finish()
  auto complete_b = [&] {
    if (!b) b = completeRunB(pristine.str(), n, block).first;
    return *b;
  };
  std::vector<std::unique_ptr<TempPath>> killed;
  int interrupted = 0, counts[3] = {0, 0, 0};
  for (int delay : killDelaysMs()) {
    SCOPED_TRACE("kill after " + std::to_string(delay) + " ms");
    TempPath work("work.h5");
    fs::copy_file(pristine.str(), work.str());
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) writeRunB(work.str(), map_b, n, block, -1);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    interrupted += WIFSIGNALED(status) ? 1 : 0;
    killed.push_back(std::make_unique<TempPath>("killed.h5"));
    fs::copy_file(work.str(), killed.back()->str());
    try {
      // Run a after appending c is checked in every crash state by the next test; here it would only be slow.
      ++counts[static_cast<int>(checkKilledFile(work.str(), n, a, complete_b, false))];
    } catch (const StoreError& e) {
      ADD_FAILURE() << "killed after " << delay << " ms: " << e.what();
    }
  }
  std::printf("[          ] %zu kills, %d while writing: run b absent %d, incomplete %d, complete %d times\n",
              killDelaysMs().size(), interrupted, counts[0], counts[1], counts[2]);
  std::vector<std::string> paths;
  for (const auto& copy : killed) paths.push_back(copy->str());
  expectH5pyReadsRunA(paths);
}

// Every state a kill can leave, at the granularity of file calls: the writer dies just before its k-th pwrite
// or ftruncate. Every k up to the end of beginRun (opening the file, linking the run: the only writes to
// structure that earlier runs share) and from finish() on is tried, and a sample of the flushes between;
// ATTNSCOPE_STORE_EXHAUSTIVE=1 tries every k.
TEST(Store, WriterKilledBeforeEachFileCallLeavesEarlierRunsIntact) {
  const int64_t n = 300, block = 30;
  TempPath pristine("pristine.h5");
  const RunData a = writeRunA(pristine.str(), n);
  // b is captured below through an init-capture: lambdas may capture structured bindings only from C++20.
  const auto [b, calls] = completeRunB(pristine.str(), n, block);
  const std::vector<float> map_b = causalMap(n, false, 20);
  ASSERT_GT(calls.finishing, calls.begun + 10);
  std::vector<long> points;
  const bool all = std::getenv("ATTNSCOPE_STORE_EXHAUSTIVE") != nullptr;
  const long stride = all ? 1 : (calls.finishing - calls.begun) / 6;
  for (long k = 1; k <= calls.total; ++k)
    if (k <= calls.begun + 1 || k > calls.finishing || (k - calls.begun) % stride == 0) points.push_back(k);
  const long n_calls = calls.total;
  std::vector<std::unique_ptr<TempPath>> killed;
  int counts[3] = {0, 0, 0};
  for (long k : points) {
    SCOPED_TRACE("killed before file call " + std::to_string(k) + " of " + std::to_string(n_calls));
    killed.push_back(std::make_unique<TempPath>("killed.h5"));
    const std::string path = killed.back()->str();
    fs::copy_file(pristine.str(), path);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      g_file_calls = 0;
      g_die_at = k;
      writeRunB(path, map_b, n, block, -1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    TempPath work("work.h5");
    fs::copy_file(path, work.str());
    try {
      ++counts[static_cast<int>(checkKilledFile(work.str(), n, a, [&run_b = b] { return run_b; }))];
    } catch (const StoreError& e) {
      ADD_FAILURE() << "killed before file call " << k << " of " << n_calls << ": " << e.what();
    }
  }
  std::printf(
      "[          ] %zu of %ld crash points (beginRun returns after %ld, finish() starts after %ld): "
      "run b absent %d, incomplete %d, complete %d times\n",
      points.size(), n_calls, calls.begun, calls.finishing, counts[0], counts[1], counts[2]);
  EXPECT_GT(counts[1], 0);
  std::vector<std::string> paths;
  for (const auto& copy : killed) paths.push_back(copy->str());
  expectH5pyReadsRunA(paths);
}

// ---------------------------------------------------------------------------------------------------------------

TEST(Store, PythonReferenceReaderReadsCapture) {
  const char* source = std::getenv("ATTNSCOPE_SOURCE_DIR");
  if (!source) GTEST_SKIP() << "ATTNSCOPE_SOURCE_DIR is not set (ctest sets it)";
  if (!hasH5py()) GTEST_SKIP() << "/usr/bin/python3 has no h5py";
  TempPath path("reference.h5");
  const int64_t n = 600;
  {
    auto file = CaptureFile::create(path.str(), kModel, makeTokens(n));
    for (const std::string name : {"softmax", "ssmax"}) {
      RunSpec spec = makeSpec(name, n, {{kPattern0, 0, {0}}});
      RunWriter writer = file->beginRun(spec);
      writeStats(writer, spec, 0, 128);
      writeCausal(writer, kPattern0, 0, causalMap(n, false, 1), n, 128);
      writer.finish();
    }
  }
  int status = 0;
  std::string output = runCommand(
      "/usr/bin/python3 " + std::string(source) + "/tests/reference/read_capture.py " + path.str(), &status);
  EXPECT_EQ(status, 0) << output;
  for (const char* expected :
       {"run softmax:", "run ssmax:", "complete 1", "stat max_prob (2, 4, 600) float32",
        "level_2 (150, 150) float16", "mean max_prob, last layer:"})
    EXPECT_NE(output.find(expected), std::string::npos) << expected << " not in:\n" << output;
}

TEST(Store, HashFilesIsStreamingXxh3OverConcatenatedBytes) {
  TempPath empty("empty.bin"), one("one.bin"), two("two.bin"), both("both.bin");
  { std::ofstream(empty.str()); }
  { std::ofstream(one.str()) << "attention"; }
  { std::ofstream(two.str()) << std::string(3 << 20, 'x'); }  // larger than one read buffer
  { std::ofstream(both.str()) << "attention" << std::string(3 << 20, 'x'); }
  EXPECT_EQ(hashFiles({empty.str()}), "2d06800538d394c2");  // XXH3_64bits of no bytes
  EXPECT_EQ(hashFiles({one.str(), two.str()}), hashFiles({both.str()}));
  EXPECT_NE(hashFiles({one.str()}), hashFiles({two.str()}));
  EXPECT_EQ(hashFiles({one.str()}).size(), 16u);
  EXPECT_NE(errorOf([&] { hashFiles({one.str() + ".missing"}); }).find(one.str() + ".missing: cannot read"),
            std::string::npos);
}

}  // namespace
}  // namespace attnscope
