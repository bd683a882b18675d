#include "headlessexport.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>

#include <cstdio>
#include <memory>

#include "capturedocument.h"
#include "contextcurvewidget.h"
#include "headgridview.h"
#include "headsfigure.h"
#include "heatmapwidget.h"
#include "sweepdocument.h"
#include "sweepexport.h"
#include "tokensview.h"

namespace attnscope::gui {

using namespace attnscope::widgets;

namespace {

constexpr int kTimeoutMs = 120000;

int fail(const QString& message) {
  std::fprintf(stderr, "attnscope: %s\n", qPrintable(message));
  return 1;
}

/// Runs the event loop until widget emitted contentReady and idle() holds, or the timeout passes.
template <typename Widget, typename Idle>
bool waitForContent(Widget* widget, Idle idle) {
  bool ready = false;
  QObject::connect(widget, &Widget::contentReady, widget, [&ready] { ready = true; });
  QElapsedTimer clock;
  clock.start();
  while (clock.elapsed() < kTimeoutMs) {
    QEventLoop loop;
    QTimer::singleShot(20, &loop, &QEventLoop::quit);
    loop.exec();
    if (ready && idle()) return true;
  }
  return false;
}

}  // namespace

int runHeadlessExport(const HeadlessExportOptions& options) {
  if (isSweepFigure(options.figure) || SweepDocument::isSweep(options.capture))
    return runSweepExport(options);
  if (options.out.isEmpty()) return fail(QStringLiteral("--out is required"));
  if (exportFormatForPath(options.out) == ExportFormat::Unknown)
    return fail(QStringLiteral("--out must end in .png, .pdf, .svg or .csv: %1").arg(options.out));
  CaptureDocument document;
  QString error;
  QObject::connect(&document, &CaptureDocument::errorOccurred,
                   [&error](const QString& message) { error = message; });
  if (!document.open(options.capture)) return fail(error);
  Selection selection = document.selection();
  if (!options.run.isEmpty()) {
    if (!document.runInfo(options.run))
      return fail(QStringLiteral("no run %1 in %2 (runs: %3)")
                      .arg(options.run, options.capture, document.runNames().join(QStringLiteral(", "))));
    selection.run = options.run;
  }
  if (!options.compareRun.isEmpty()) selection.compareRun = options.compareRun;
  selection.layer = options.layer;
  selection.head = options.head;
  if (options.query >= 0) selection.query = options.query;
  document.setSelection(selection);
  const bool oneLayer =
      options.figure == QLatin1String("heatmap") ||
      (options.figure == QLatin1String("context-curve") && options.scope != QLatin1String("all"));
  if (const QString reason = document.notComputedReason(document.selection().run, document.selection().layer);
      oneLayer && !reason.isEmpty())
    return fail(reason);

  QSize size(options.width > 0 ? options.width : 900, options.height > 0 ? options.height : 600);
  std::unique_ptr<QWidget> widget;
  ExportSource* source = nullptr;
  bool ok = false;
  if (options.figure == QLatin1String("heatmap")) {
    auto* heatmap = new HeatmapWidget(&document);
    widget.reset(heatmap), source = heatmap;
    heatmap->setLogScale(options.logScale);
    heatmap->resize(size);
    heatmap->setAttribute(Qt::WA_DontShowOnScreen);
    heatmap->show();
    ok = waitForContent(heatmap, [heatmap] { return !heatmap->isLoading(); });
  } else if (options.figure == QLatin1String("context-curve")) {
    auto* curve = new ContextCurveWidget(&document);
    widget.reset(curve), source = curve;
    curve->setStat(options.stat);
    curve->setScope(options.scope == QLatin1String("all")     ? CurveScope::AllLayers
                    : options.scope == QLatin1String("layer") ? CurveScope::Layer
                                                              : CurveScope::Head);
    curve->resize(size);
    ok = waitForContent(curve, [] { return true; });
  } else if (options.figure == QLatin1String("head-grid")) {
    auto* grid = new HeadGridView(&document);
    widget.reset(grid), source = grid;
    grid->setStat(options.stat);
    grid->setDifference(options.difference);
    grid->resize(size);
    grid->setAttribute(Qt::WA_DontShowOnScreen);
    grid->show();
    ok = waitForContent(grid, [] { return true; });
  } else if (options.figure == QLatin1String("tokens")) {
    auto* tokens = new TokensView(&document);
    widget.reset(tokens), source = tokens;
    tokens->resize(size);
    tokens->setAttribute(Qt::WA_DontShowOnScreen);
    tokens->show();
    ok = waitForContent(tokens, [] { return true; });
  } else if (options.figure == QLatin1String("heads")) {
    auto* heads = new HeadsFigure(&document);
    widget.reset(heads), source = heads;
    const RunInfo* run = document.currentRun();
    const int n_layer = static_cast<int>(run->n_layer), n_head = static_cast<int>(run->n_head);
    const QSize fitted = headsFigureSize(n_layer, n_head);
    size = QSize(options.width > 0 ? options.width : fitted.width(),
                 options.height > 0 ? options.height : fitted.height());
    heads->resize(size);
    heads->setLogScale(options.logScale);
    // PDF and SVG embed each map as an image that viewers scale: give them the detail of a 4x PNG.
    const double pixels = exportFormatForPath(options.out) == ExportFormat::Png ? options.scale : 4.0;
    heads->setCellPixels(headsFigureCellPixels(size, pixels, n_layer, n_head));
    ok = waitForContent(heads, [heads] { return !heads->isLoading(); });
  } else {
    return fail(QStringLiteral("unknown figure %1 (heatmap, context-curve, head-grid, tokens, heads)")
                    .arg(options.figure));
  }
  if (!ok) return fail(QStringLiteral("timed out reading %1").arg(options.capture));
  ExportOptions exportOptions;
  exportOptions.width = size.width();
  exportOptions.height = size.height();
  exportOptions.scale = options.scale;
  exportOptions.dpi = options.dpi;
  if (!exportSource(*source, options.out, exportOptions, &error)) return fail(error);
  std::printf("%s\n", qPrintable(options.out));
  return 0;
}

}  // namespace attnscope::gui
