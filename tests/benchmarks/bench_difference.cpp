// The Compare view's difference overview, before and after the difference pyramid (a program, not a test):
//   before   one overview redraw pooled from both runs' level 0 (poolDifferenceTile: reads T × T per run)
//   build    the pyramid's one streaming pass, paid the first time a (run pair, head) is shown
//   after    one overview redraw cut from the pyramid (DifferencePyramids::read once built), at the level a
//            600 × 600-px panel draws the whole map, and at the pyramid's finest level
// Prints the times and the ratios before / after and build / before, and checks that both ways give the same
// cells. Usage: bench_difference [TOKENS] [DIR] [keep]. Writes a capture of two runs of one head with TOKENS
// × TOKENS maps (default 16384) into a temporary directory in DIR (default: the system's temp directory) and
// removes it at the end, unless "keep" (to open it in the window). The file was just written, so the page
// cache is warm for both ways alike.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "attnscope/store.h"
#include "differencepyramid.h"
#include "maptiles.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace attnscope;
using namespace attnscope::widgets;

constexpr int64_t kBlockRows = 64;  // rows per write: one chunk row of the store
constexpr const char* kHook = "blocks.0.attn.hook_pattern";

double millis(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

/// A causal attention-like row whose peak moves with the run: a sink on key 0, a peak a few keys back
/// (run 1 one key further), a faint floor.
void rows(int run, int64_t n, int64_t q0, int64_t q1, std::vector<float>* out) {
  out->assign(static_cast<std::size_t>((q1 - q0) * n), 0.0f);
  for (int64_t q = q0; q < q1; ++q) {
    float* row = out->data() + (q - q0) * n;
    for (int64_t k = 0; k <= q; ++k) row[k] = 1e-4f * static_cast<float>((k * 7919 + q * 104729) % 13);
    row[0] = 0.2f;
    row[std::max<int64_t>(0, q - 3 - run)] += 0.7f;
  }
}

void writeCapture(const std::string& path, int64_t n) {
  CaptureTokens tokens;
  for (int64_t i = 0; i < n; ++i) {
    tokens.ids.push_back(i % 256);
    tokens.text.push_back(" t" + std::to_string(i));
  }
  auto file = CaptureFile::create(path, {"{}", "bench_difference", "0"}, tokens);
  for (int run = 0; run < 2; ++run) {
    const auto start = Clock::now();
    RunSpec spec;
    spec.name = run == 0 ? "softmax" : "ssmax";
    spec.normalizer = run == 0 ? "softmax" : "ssmax:s=0.5";
    spec.n_layer = 1, spec.n_head = 1, spec.n_tokens = n;
    spec.maps = {MapRequest{kHook, 0, {0}}};
    RunWriter writer = file->beginRun(spec);
    std::vector<float> block;
    for (int64_t q = 0; q < n; q += kBlockRows) {
      const int64_t q1 = std::min(n, q + kBlockRows);
      rows(run, n, q, q1, &block);
      writer.writeMapBlock(kHook, 0, q, q1, 0, n, block.data());
    }
    writer.finish();
    std::printf("  wrote run %-8s %.1f s, file %.2f GiB\n", spec.name.c_str(), millis(start) / 1000,
                static_cast<double>(std::filesystem::file_size(path)) / (1 << 30));
    std::fflush(stdout);
  }
}

TileRequest wholeMap(int64_t n, int level) {
  TileRequest request = planTile({0, n, 0, n}, level, n, 0.0);
  request.run = "softmax";
  request.hook = kHook;
  return request;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::stoll(argv[1]) : 16384;
  const std::filesystem::path root =
      argc > 2 ? std::filesystem::path(argv[2]) : std::filesystem::temp_directory_path();
  const std::filesystem::path dir = root / ("bench_difference_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "difference.h5").string();
  std::printf("difference overview of %lld tokens (one head, two runs)\n", static_cast<long long>(n));
  writeCapture(path, n);
  const auto file = CaptureFile::open(path);
  const int levels = static_cast<int>(file->mapLevels("softmax", kHook, 0));
  const int overview = chooseLevel({0, n, 0, n}, 600, 600, levels);
  const int finest = firstDifferenceLevel(n);
  const TileRequest request = wholeMap(n, overview);

  std::vector<double> before;
  MapTile pooled;
  for (int r = 0; r < 2; ++r) {
    const auto start = Clock::now();
    pooled = poolDifferenceTile(*file, request, "ssmax", n);
    before.push_back(millis(start));
  }
  DifferencePyramids pyramids;
  auto start = Clock::now();
  const MapTile first = pyramids.read(*file, request, "ssmax", n);
  const double build = millis(start);
  std::vector<double> after, afterFinest;
  MapTile cut;
  for (int r = 0; r < 50; ++r) {
    start = Clock::now();
    cut = pyramids.read(*file, request, "ssmax", n);
    after.push_back(millis(start));
    start = Clock::now();
    pyramids.read(*file, wholeMap(n, finest), "ssmax", n);
    afterFinest.push_back(millis(start));
  }
  // The two ways must give the same cells where the view draws them (maskTile: cells above the diagonal
  // are masked; the pyramid never reads them).
  KeyVisibility causal;
  causal.computed = n;
  maskTile(pooled, causal, n);
  maskTile(cut, causal, n);
  double largest = 0;
  for (std::size_t i = 0; i < pooled.values.size(); ++i) {
    const float a = pooled.values[i], b = cut.values[i];
    if (std::isnan(a) != std::isnan(b)) largest = INFINITY;
    if (!std::isnan(a)) largest = std::max(largest, double{std::abs(a - b)});
  }
  const double b = median(before), a = median(after);
  std::printf("overview level %d (%lld x %lld cells), pyramid levels %d..; bound %zu MiB, held %.1f MiB\n",
              overview, static_cast<long long>(request.r1), static_cast<long long>(request.c1), finest,
              pyramids.maxBytes() >> 20, static_cast<double>(pyramids.bytes()) / (1 << 20));
  std::printf("before  redraw from level 0     %10.1f ms (median of %zu)\n", b, before.size());
  std::printf("build   pyramid, once per head  %10.1f ms   build / before  %.2f\n", build, build / b);
  std::printf("after   redraw from pyramid     %10.3f ms (median of %zu)   before / after  %.0f\n", a,
              after.size(), b / a);
  std::printf("after   finest level %d (%lld²)  %10.3f ms   before / after  %.0f\n", finest,
              static_cast<long long>(wholeMap(n, finest).r1), median(afterFinest), b / median(afterFinest));
  std::printf("largest |pooled - pyramid| over the overview: %g (%s)\n", largest,
              largest == 0 ? "identical" : "DIFFERENT");
  if (argc > 3 && std::string(argv[3]) == "keep")
    std::printf("kept %s\n", path.c_str());
  else
    std::filesystem::remove_all(dir);
  return largest == 0 && !first.empty() ? 0 : 1;
}
