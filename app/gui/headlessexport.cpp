#include "headlessexport.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>

#include <cstdio>
#include <memory>

#include "attnscope/statistics.h"
#include "capturedocument.h"
#include "compareview.h"
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

/// Why the options ask for something the figure cannot draw (one line), or empty. The document holds the
/// capture; the selection is not applied yet.
QString selectionProblem(const HeadlessExportOptions& options, const CaptureDocument& document) {
  const QString& figure = options.figure;
  const QStringList figures{"heatmap", "context-curve", "head-grid", "tokens", "heads", "compare"};
  if (!figures.contains(figure))
    return QStringLiteral("unknown figure %1 (%2)").arg(figure, figures.join(QStringLiteral(", ")));
  if (options.width < 0 || options.width > 20000 || options.height < 0 || options.height > 20000)
    return QStringLiteral("--width and --height must be in 1..20000 (layout pixels)");
  if (!(options.scale > 0 && options.scale <= 16)) return QStringLiteral("--scale must be in (0, 16]");
  const QString runName = options.run.isEmpty() ? document.selection().run : options.run;
  const RunInfo* run = document.runInfo(runName);
  if (!run)
    return QStringLiteral("no run %1 in %2 (runs: %3)")
        .arg(runName, options.capture, document.runNames().join(QStringLiteral(", ")));
  if (!options.compareRun.isEmpty() && !document.runInfo(options.compareRun))
    return QStringLiteral("no compare run %1 in %2 (runs: %3)")
        .arg(options.compareRun, options.capture, document.runNames().join(QStringLiteral(", ")));
  const QString compareName =
      options.compareRun.isEmpty() ? document.selection().compareRun : options.compareRun;
  if (options.layer < 0 || options.layer >= run->n_layer)
    return QStringLiteral("--layer %1 is not in 0..%2 (run %3 has %4 layers)")
        .arg(options.layer)
        .arg(run->n_layer - 1)
        .arg(runName)
        .arg(run->n_layer);
  if (options.head < 0 || options.head >= run->n_head)
    return QStringLiteral("--head %1 is not in 0..%2 (run %3 has %4 heads)")
        .arg(options.head)
        .arg(run->n_head - 1)
        .arg(runName)
        .arg(run->n_head);
  if (options.query < -1 || options.query >= document.nTokens())
    return QStringLiteral("--query %1 is not in 0..%2 (the prompt has %3 tokens)")
        .arg(options.query)
        .arg(document.nTokens() - 1)
        .arg(document.nTokens());
  QStringList stats;
  for (const std::string& name : viewedStatistics()) stats << QString::fromStdString(name);
  if (!stats.contains(options.stat))
    return QStringLiteral("unknown --stat %1 (%2)").arg(options.stat, stats.join(QStringLiteral(", ")));
  const QStringList scopes{"head", "layer", "all"};
  if (!scopes.contains(options.scope))
    return QStringLiteral("unknown --scope %1 (head, layer, all)").arg(options.scope);
  if (options.difference && figure != QLatin1String("head-grid"))
    return QStringLiteral("--difference applies to the head-grid figure only, not %1").arg(figure);
  if (options.logScale && figure != QLatin1String("heatmap") && figure != QLatin1String("heads"))
    return QStringLiteral("--log applies to the heatmap and heads figures only, not %1").arg(figure);
  const bool needsCompare = figure == QLatin1String("compare") || options.difference;
  if (needsCompare && compareName.isEmpty())
    return QStringLiteral("the %1 figure needs a second run: --compare NAME (runs: %2)")
        .arg(options.difference ? QStringLiteral("--difference") : figure,
             document.runNames().join(QStringLiteral(", ")));
  if (needsCompare && compareName == runName)
    return QStringLiteral("--compare %1 is the run itself: choose another run").arg(compareName);
  // The figures of one head's map: the head must have one in every run drawn.
  if (figure == QLatin1String("heatmap") || figure == QLatin1String("tokens") ||
      figure == QLatin1String("compare")) {
    QStringList runs{runName};
    if (figure == QLatin1String("compare")) runs << compareName;
    for (const QString& name : runs)
      if (!document.hasMap(name, options.layer, options.head))
        return QStringLiteral(
                   "run %1 stores no attention map of layer %2 head %3 (capture with --maps %2.%3 "
                   "or --maps all)")
            .arg(name)
            .arg(options.layer)
            .arg(options.head);
  }
  return {};
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
  if (const QString problem = selectionProblem(options, document); !problem.isEmpty()) return fail(problem);
  Selection selection = document.selection();
  if (!options.run.isEmpty()) selection.run = options.run;
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
  } else if (options.figure == QLatin1String("compare")) {
    auto* compare = new CompareView(&document);
    widget.reset(compare), source = compare;
    compare->setStat(options.stat);
    if (options.width <= 0) size.setWidth(1200);  // three panels side by side
    if (options.height <= 0) size.setHeight(480);
    compare->resize(size);
    compare->setAttribute(Qt::WA_DontShowOnScreen);
    compare->show();
    ok = waitForContent(compare, [compare] { return !compare->isLoading(); });
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
