// GUI responsiveness on long captures, against the goals of issue #6 (a program, not a test):
//   first paint   HeatmapWidget showing a whole 8192 × 8192 map: construct, read the tile, render to a QImage
//                 (goal < 150 ms, median of several widgets)
//   frame         one step of a scripted pan and zoom over that map: deliver finished reads, set the ranges,
//                 replot and repaint (goal < 30 ms, median and 95th percentile of 50 frames paced at 60 Hz)
//   open          CaptureDocument::open of a >= 1 GiB capture, metadata only (goal < 0.5 s, median)
// Usage: bench_gui [DIR]. Writes a capture of >= 1 GiB (random fp16 maps, which deflate cannot shrink much)
// into a temporary directory in DIR (default: the system's temp directory) and removes it at the end. The
// file was just written, so the page cache is warm: the open time excludes cold disk reads. Runs offscreen
// unless QT_QPA_PLATFORM says otherwise.

#include <QApplication>
#include <QDir>
#include <QImage>
#include <QTemporaryDir>
#include <QThread>
#include <QThreadPool>

#include <qcustomplot.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "heatmapwidget.h"

namespace {

using Clock = std::chrono::steady_clock;
using attnscope::widgets::CaptureDocument;
using attnscope::widgets::HeatmapWidget;

constexpr int64_t kTokens = 8192;
constexpr int64_t kBlockRows = 64;  // rows per write: one chunk row of the store
constexpr uint64_t kTargetBytes = uint64_t{1} << 30;

double millis(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(position)),
             hi = static_cast<std::size_t>(std::ceil(position));
  return values[lo] + (values[hi] - values[lo]) * (position - static_cast<double>(lo));
}

void report(const char* what, double measured_ms, double goal_ms, const std::string& detail) {
  std::printf("%-26s %9.1f ms   goal < %6.0f ms   ratio %.2f   %s\n", what, measured_ms, goal_ms,
              measured_ms / goal_ms, detail.c_str());
}

/// A causal attention-like row: a sink on key 0, a band before the diagonal, a faint floor elsewhere.
void structuredRows(int64_t q0, int64_t q1, std::vector<float>* out) {
  out->assign(static_cast<std::size_t>((q1 - q0) * kTokens), 0.0f);
  for (int64_t q = q0; q < q1; ++q) {
    float* row = out->data() + (q - q0) * kTokens;
    for (int64_t k = 0; k <= q; ++k)
      row[k] = 2e-4f * static_cast<float>((k * 7919 + q * 104729) % 17) / 17.0f;
    row[0] = 0.25f;
    for (int64_t k = std::max<int64_t>(0, q - 32); k <= q; ++k) row[k] += 0.6f * std::exp(-0.2f * (q - k));
  }
}

/// Uniform noise in [0, 1): the low fp16 bytes stay incompressible, so the file grows by about 0.8 byte per
/// cell.
void noiseRows(uint64_t* state, std::vector<float>* out) {
  out->resize(static_cast<std::size_t>(kBlockRows * kTokens));
  for (float& v : *out) {
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;  // xorshift64
    v = static_cast<float>(*state >> 40) / static_cast<float>(1 << 24);
  }
}

/// Writes run "structured" (one head, a structured map) and then runs of four noise heads until the file
/// holds kTargetBytes.
void writeCapture(const std::string& path) {
  attnscope::CaptureTokens tokens;
  for (int64_t i = 0; i < kTokens; ++i) {
    tokens.ids.push_back(i % 256);
    tokens.text.push_back(" t" + std::to_string(i));
  }
  auto file = attnscope::CaptureFile::create(path, {"{}", "bench_gui", "0"}, tokens);
  const auto start = Clock::now();
  const auto writeRun = [&](const std::string& name, int64_t n_head, auto rows) {
    attnscope::RunSpec spec;
    spec.name = name;
    spec.normalizer = "softmax";
    spec.n_layer = 1, spec.n_head = n_head, spec.n_tokens = kTokens;
    attnscope::MapRequest map{"blocks.0.attn.hook_pattern", 0, {}};
    for (int64_t h = 0; h < n_head; ++h) map.heads.push_back(h);
    spec.maps = {map};
    attnscope::RunWriter writer = file->beginRun(spec);
    std::vector<float> block;
    for (int64_t h = 0; h < n_head; ++h)
      for (int64_t q = 0; q < kTokens; q += kBlockRows) {
        rows(h, q, &block);
        writer.writeMapBlock(map.hook, h, q, q + kBlockRows, 0, kTokens, block.data());
      }
    writer.finish();
    std::printf("  wrote run %-10s %lld head(s): file %.2f GiB after %.0f s\n", name.c_str(),
                static_cast<long long>(n_head),
                static_cast<double>(std::filesystem::file_size(path)) / (1 << 30), millis(start) / 1000);
    std::fflush(stdout);
  };
  writeRun("structured", 1,
           [](int64_t, int64_t q, std::vector<float>* block) { structuredRows(q, q + kBlockRows, block); });
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int run = 0; std::filesystem::file_size(path) < kTargetBytes; ++run)
    writeRun("noise_" + std::to_string(run), 4,
             [&state](int64_t, int64_t, std::vector<float>* block) { noiseRows(&state, block); });
}

/// Runs the event loop until the heatmap shows a tile and has no read pending.
void waitUntilDrawn(HeatmapWidget& widget) {
  while (widget.tile().empty() || widget.isLoading()) {
    QApplication::processEvents(QEventLoop::AllEvents);
    if (widget.tile().empty() || widget.isLoading()) QThread::usleep(200);
  }
}

int distinctColours(const QImage& image) {
  std::vector<QRgb> colours;
  for (int y = 0; y < image.height(); y += 3)
    for (int x = 0; x < image.width(); x += 3) colours.push_back(image.pixel(x, y));
  std::sort(colours.begin(), colours.end());
  return static_cast<int>(std::unique(colours.begin(), colours.end()) - colours.begin());
}

void benchFirstPaint(const QString& path) {
  std::vector<double> times;
  int level = -1, colours = 0;
  for (int r = 0; r < 7; ++r) {
    CaptureDocument document;  // a fresh file handle each time: no HDF5 chunk cache carried over
    if (!document.open(path)) return;
    const auto start = Clock::now();
    HeatmapWidget widget(&document);
    widget.resize(900, 700);
    widget.show();
    waitUntilDrawn(widget);
    const QImage image = widget.grab().toImage();
    times.push_back(millis(start));
    level = widget.tile().request.level;
    colours = distinctColours(image);
  }
  report("first paint (8192^2 map)", quantile(times, 0.5), 150,
         "median of 7; first " + std::to_string(static_cast<int>(times.front())) + " ms, max " +
             std::to_string(static_cast<int>(*std::max_element(times.begin(), times.end()))) + " ms; level " +
             std::to_string(level) + ", " + std::to_string(colours) + " colours in the image");
}

void benchFrames(const QString& path) {
  CaptureDocument document;
  if (!document.open(path)) return;
  HeatmapWidget widget(&document);
  widget.resize(900, 700);
  widget.show();
  waitUntilDrawn(widget);
  QCustomPlot* plot = widget.plot();
  // 20 frames zooming from the whole map to 256 tokens around (4000, 4000), 20 panning 64 tokens a frame
  // diagonally, 10 zooming back out.
  struct View {
    double centre_q, centre_k, size;
  };
  std::vector<View> script;
  for (int i = 0; i < 20; ++i) {
    const double t = i / 19.0;
    script.push_back(
        {4096 + (4000 - 4096) * t, 4096 + (4000 - 4096) * t, kTokens * std::pow(256.0 / kTokens, t)});
  }
  for (int i = 1; i <= 20; ++i) script.push_back({4000.0 + 64 * i, 4000.0 + 64 * i, 256});
  for (int i = 1; i <= 10; ++i)
    script.push_back({5280 + (4096 - 5280) * i / 10.0, 5280 + (4096 - 5280) * i / 10.0,
                      256 * std::pow(kTokens / 256.0, i / 10.0)});
  std::vector<double> frames;
  std::vector<bool> arrivals;  // whether the frame drew a tile that finished reading since the last one
  int levelsSeen = 0, lastLevel = -1, tilesDrawn = 0;
  QObject::connect(&widget, &HeatmapWidget::contentReady, [&tilesDrawn] { ++tilesDrawn; });
  for (const View& view : script) {
    const auto start = Clock::now();
    const int drawnBefore = tilesDrawn;
    // Reads that finished since the last frame are drawn now, as the event loop would between mouse events.
    QApplication::processEvents(QEventLoop::AllEvents);
    arrivals.push_back(tilesDrawn != drawnBefore);
    plot->xAxis->setRange(view.centre_k - view.size / 2, view.centre_k + view.size / 2);
    plot->yAxis->setRange(view.centre_q - view.size / 2, view.centre_q + view.size / 2);
    plot->replot(QCustomPlot::rpImmediateRefresh);
    frames.push_back(millis(start));
    if (!widget.tile().empty() && widget.tile().request.level != lastLevel)
      ++levelsSeen, lastLevel = widget.tile().request.level;
    const double left = 1000.0 / 60 - millis(start);  // 60 Hz pacing: the worker reads between frames
    if (left > 0) QThread::usleep(static_cast<unsigned long>(left * 1000));
  }
  const auto settle = Clock::now();
  waitUntilDrawn(widget);
  const double settled = millis(settle);
  report("frame, median", quantile(frames, 0.5), 30,
         std::to_string(frames.size()) + " frames of pan and zoom; " + std::to_string(levelsSeen) +
             " tile level changes drawn");
  std::vector<double> withTile, withoutTile;
  for (std::size_t i = 0; i < frames.size(); ++i) (arrivals[i] ? withTile : withoutTile).push_back(frames[i]);
  if (!withTile.empty() && !withoutTile.empty())
    std::printf(
        "  %zu frames drew a newly read tile: median %.1f ms, max %.1f ms; the other %zu: median %.1f ms, "
        "max %.1f ms\n",
        withTile.size(), quantile(withTile, 0.5), quantile(withTile, 1.0), withoutTile.size(),
        quantile(withoutTile, 0.5), quantile(withoutTile, 1.0));
  report("frame, 95th percentile", quantile(frames, 0.95), 30,
         "max " + std::to_string(static_cast<int>(*std::max_element(frames.begin(), frames.end()))) +
             " ms; last view's tile drawn " + std::to_string(static_cast<int>(settled)) +
             " ms after the last frame");
}

void benchOpen(const QString& path) {
  std::vector<double> times;
  for (int r = 0; r < 7; ++r) {
    const auto start = Clock::now();
    CaptureDocument document;
    if (!document.open(path)) return;
    times.push_back(millis(start));
  }
  CaptureDocument document;
  document.open(path);
  report("open (>= 1 GiB capture)", quantile(times, 0.5), 500,
         "median of 7, max " +
             std::to_string(static_cast<int>(*std::max_element(times.begin(), times.end()))) + " ms; " +
             std::to_string(document.runs().size()) + " runs, " + std::to_string(document.nTokens()) +
             " tokens, " +
             QString::number(std::filesystem::file_size(path.toStdString()) / double(1 << 30), 'f', 2)
                 .toStdString() +
             " GiB");
}

}  // namespace

int main(int argc, char** argv) {
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  const QString base = argc > 1 ? QString::fromLocal8Bit(argv[1]) : QDir::tempPath();
  const auto space = std::filesystem::space(base.toStdString());
  if (space.available < kTargetBytes + kTargetBytes / 2) {
    std::fprintf(stderr, "bench_gui: %s has %.1f GiB free; the benchmark capture needs about 1.5 GiB\n",
                 qPrintable(base), static_cast<double>(space.available) / (1 << 30));
    return 1;
  }
  QTemporaryDir dir(base + QStringLiteral("/attnscope_bench_gui-XXXXXX"));  // removed with everything in it
  if (!dir.isValid()) {
    std::fprintf(stderr, "bench_gui: cannot create a directory in %s\n", qPrintable(base));
    return 1;
  }
  const QString path = dir.filePath(QStringLiteral("bench.h5"));
  std::printf("writing %s (%lld tokens; one structured head, then noise heads up to 1 GiB)\n",
              qPrintable(path), static_cast<long long>(kTokens));
  std::fflush(stdout);
  try {
    writeCapture(path.toStdString());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_gui: %s\n", error.what());
    return 1;
  }
  std::printf("platform %s, %d threads in the read pool\n", qPrintable(QApplication::platformName()),
              QThreadPool::globalInstance()->maxThreadCount());
  benchFirstPaint(path);
  benchFrames(path);
  benchOpen(path);
  return 0;
}
