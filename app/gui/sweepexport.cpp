#include "sweepexport.h"

#include <QStringList>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "headlessexport.h"
#include "sweepcurveview.h"
#include "sweepdocument.h"
#include "sweepgridview.h"

namespace attnscope::gui {

using namespace attnscope::widgets;

namespace {

const QStringList& sweepFigures() {
  static const QStringList figures{QStringLiteral("retrieval"), QStringLiteral("needle-heads"),
                                   QStringLiteral("sweep-curve"), QStringLiteral("sweep-loss")};
  return figures;
}

int fail(const QString& message) {
  std::fprintf(stderr, "attnscope: %s\n", qPrintable(message));
  return 1;
}

/// Why the options cannot draw a figure of data ("" if they can).
QString cannotDraw(const HeadlessExportOptions& options, const SweepData& data) {
  const SweepGrid& grid = data.grid();
  const bool needleFigure =
      options.figure == QLatin1String("retrieval") || options.figure == QLatin1String("needle-heads");
  if (needleFigure && grid.mode != SweepMode::Needle)
    return QStringLiteral("%1 is a documents sweep: %2 needs a --needle sweep")
        .arg(options.capture, options.figure);
  if (options.figure == QLatin1String("sweep-loss") && grid.mode != SweepMode::Documents)
    return QStringLiteral("%1 is a needle sweep: it records no loss by position (sweep with --documents)")
        .arg(options.capture);
  if (options.figure == QLatin1String("needle-heads") && options.length != 0 &&
      std::find(grid.lengths.begin(), grid.lengths.end(), options.length) == grid.lengths.end()) {
    QStringList lengths;
    for (int64_t length : grid.lengths) lengths << QString::number(length);
    return QStringLiteral("--length %1 is not a length of %2 (lengths: %3)")
        .arg(options.length < 0 ? QStringLiteral("(not a number)") : QString::number(options.length))
        .arg(options.capture, lengths.join(QStringLiteral(", ")));
  }
  if (options.figure == QLatin1String("sweep-curve")) {
    if (std::find(grid.stats.begin(), grid.stats.end(), options.stat.toStdString()) == grid.stats.end())
      return QStringLiteral("%1 recorded no statistic %2").arg(options.capture, options.stat);
    if (options.layer < 0 || options.layer >= data.nLayer() || options.head < 0 ||
        options.head >= data.nHead())
      return QStringLiteral("no layer %1, head %2 in %3 (%4 layers × %5 heads)")
          .arg(options.layer)
          .arg(options.head)
          .arg(options.capture)
          .arg(data.nLayer())
          .arg(data.nHead());
  }
  return {};
}

CurveScope parseScope(const QString& scope) {
  if (scope == QLatin1String("head")) return CurveScope::Head;
  if (scope == QLatin1String("layer")) return CurveScope::Layer;
  return CurveScope::AllLayers;  // a sweep's curve is over every head unless one is asked for
}

}  // namespace

bool isSweepFigure(const QString& figure) {
  return sweepFigures().contains(figure);
}

int runSweepExport(const HeadlessExportOptions& options) {
  if (options.out.isEmpty()) return fail(QStringLiteral("--out is required"));
  if (exportFormatForPath(options.out) == ExportFormat::Unknown)
    return fail(QStringLiteral("--out must end in .png, .pdf, .svg or .csv: %1").arg(options.out));
  if (!isSweepFigure(options.figure))
    return fail(QStringLiteral("%1 is a sweep file: figure %2 is not one of its figures (%3)")
                    .arg(options.capture, options.figure, sweepFigures().join(QStringLiteral(", "))));
  std::shared_ptr<const SweepData> data;
  try {
    data = std::make_shared<const SweepData>(readSweepData(options.capture));
  } catch (const std::exception& error) {
    return fail(QString::fromStdString(error.what()));
  }
  if (const QString why = cannotDraw(options, *data); !why.isEmpty()) return fail(why);
  SweepDocument document;
  document.setData(data);

  QSize size(900, 600);
  std::unique_ptr<QWidget> widget;
  ExportSource* source = nullptr;
  if (options.figure == QLatin1String("retrieval") || options.figure == QLatin1String("needle-heads")) {
    const bool retrieval = options.figure == QLatin1String("retrieval");
    auto* grid =
        new SweepGridView(&document, retrieval ? SweepGridKind::Retrieval : SweepGridKind::NeedleHeads);
    widget.reset(grid), source = grid;
    grid->setExact(!options.digits);
    if (options.length > 0) grid->setLength(options.length);
    // Panels side by side: wide enough that each stays about square.
    size = QSize(std::max(700, 330 * data->nNormalizers() + 160), 560);
  } else {
    const bool loss = options.figure == QLatin1String("sweep-loss");
    auto* curve = new SweepCurveView(&document, loss ? SweepCurveKind::Loss : SweepCurveKind::Statistic);
    widget.reset(curve), source = curve;
    curve->setStat(options.stat);
    curve->setScope(parseScope(options.scope), options.layer, options.head);
  }
  size = QSize(options.width > 0 ? options.width : size.width(),
               options.height > 0 ? options.height : size.height());
  widget->resize(size);
  ExportOptions exportOptions;
  exportOptions.width = size.width();
  exportOptions.height = size.height();
  exportOptions.scale = options.scale;
  exportOptions.dpi = options.dpi;
  QString error;
  if (!exportSource(*source, options.out, exportOptions, &error)) return fail(error);
  std::printf("%s\n", qPrintable(options.out));
  return 0;
}

}  // namespace attnscope::gui
