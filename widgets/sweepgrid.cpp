#include "sweepgrid.h"

#include <algorithm>
#include <cmath>

#include "colormaps.h"

namespace attnscope::widgets {
namespace {

// Cells print their mean while a panel has at most this many (a retrieval grid; a 24 × 14 head grid would be
// unreadable).
constexpr int kMaxPrintedCells = 120;
// Tick labels on an axis with more categories than this show every k-th (heads of large models).
constexpr int kMaxTickLabels = 16;

QSharedPointer<QCPAxisTickerText> categoryTicker(const QStringList& labels) {
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  const int step = std::max<int>(1, static_cast<int>((labels.size() + kMaxTickLabels - 1) / kMaxTickLabels));
  for (int i = 0; i < labels.size(); i += step) ticker->addTick(i, labels[i]);
  return ticker;
}

void styleAxis(QCPAxis* axis, const QStringList& labels, const QString& title, bool showLabels) {
  axis->setTicker(categoryTicker(labels));
  axis->setRange(-0.5, labels.size() - 0.5);
  axis->setTickLabels(showLabels);
  axis->setLabel(showLabels ? title : QString());
  axis->setSubTicks(false);
  axis->setTickLength(0, 3);
  axis->grid()->setVisible(false);
}

QString formatted(double value, int decimals) {
  return std::isnan(value) ? QStringLiteral("–") : QString::number(value, 'f', decimals);
}

/// The data range of n cells centred on 0 .. n-1. One cell: QCPColorMap stretches a single cell over its
/// range, so the range is the cell itself.
QCPRange cellRange(int n) {
  return n == 1 ? QCPRange(-0.5, 0.5) : QCPRange(0, n - 1);
}

}  // namespace

const SweepEstimate* SweepGridFigure::cell(int panel, int row, int col) const {
  if (panel < 0 || panel >= static_cast<int>(cells.size()) || row < 0 || row >= nRows() || col < 0 ||
      col >= nCols())
    return nullptr;
  const std::vector<SweepEstimate>& values = cells[static_cast<std::size_t>(panel)];
  const std::size_t index = static_cast<std::size_t>(row) * nCols() + col;
  return index < values.size() ? &values[index] : nullptr;
}

void drawSweepGrid(QCustomPlot* plot, const SweepGridFigure& figure) {
  plot->clearItems();
  plot->clearPlottables();
  plot->plotLayout()->clear();
  const QFont base = plot->font();
  QFont small = base;
  small.setPointSizeF(base.pointSizeF() * 0.85);
  plot->plotLayout()->addElement(
      0, 0, new QCPTextElement(plot, figure.title, QFont(base.family(), base.pointSize() + 1, QFont::Bold)));
  auto* body = new QCPLayoutGrid;
  plot->plotLayout()->addElement(1, 0, body);
  plot->plotLayout()->setRowStretchFactor(0, 0.001);
  if (figure.panels.isEmpty() || figure.nRows() == 0 || figure.nCols() == 0) {
    body->addElement(0, 0, new QCPTextElement(plot, figure.message, base));
    plot->replot(QCustomPlot::rpQueuedReplot);
    return;
  }

  auto* scale = new QCPColorScale(plot);
  scale->setType(QCPAxis::atRight);
  scale->setBarWidth(12);
  const ColorMapName colors = savedColorMap();  // the user's choice, as every capture view
  QCPColorGradient gradient = sequentialGradient(colors);
  gradient.setNanHandling(QCPColorGradient::nhNanColor);
  gradient.setNanColor(QColor(225, 225, 225));  // cells no record reached: light grey, not a colour
  scale->setGradient(gradient);
  scale->setDataRange(figure.range);
  scale->axis()->setLabel(figure.valueLabel);
  scale->axis()->setLabelFont(small);
  auto* margins = new QCPMarginGroup(plot);
  scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);

  const int n_panels = static_cast<int>(figure.panels.size());
  const int n_cells = figure.nRows() * figure.nCols();
  for (int panel = 0; panel < n_panels; ++panel) {
    body->addElement(
        0, panel,
        new QCPTextElement(plot, figure.panels[panel], QFont(base.family(), base.pointSize(), QFont::Bold)));
    auto* rect = new QCPAxisRect(plot, true);
    rect->setMinimumSize(80, 80);
    rect->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    body->addElement(1, panel, rect);
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    styleAxis(x, figure.colLabels, figure.colAxis, true);
    styleAxis(y, figure.rowLabels, figure.rowAxis, panel == 0);  // rows are shared: labelled once
    y->setRangeReversed(figure.rowsDown);
    auto* map = new QCPColorMap(x, y);
    map->setInterpolate(false);
    map->setTightBoundary(false);
    map->setColorScale(scale);  // one scale for every panel: colours compare across normalizers
    map->setName(figure.panels[panel]);
    QCPColorMapData* data = map->data();
    data->setSize(figure.nCols(), figure.nRows());
    data->setRange(cellRange(figure.nCols()), cellRange(figure.nRows()));
    for (int row = 0; row < figure.nRows(); ++row)
      for (int col = 0; col < figure.nCols(); ++col) {
        const SweepEstimate* estimate = figure.cell(panel, row, col);
        const double mean = estimate ? estimate->mean : std::nan("");
        data->setCell(col, row, mean);
        if (n_cells > kMaxPrintedCells || std::isnan(mean)) continue;
        auto* text = new QCPItemText(plot);
        text->setClipAxisRect(rect);
        text->position->setAxes(x, y);
        text->position->setCoords(col, row);
        text->setFont(small);
        const double t = (mean - figure.range.lower) / std::max(1e-12, figure.range.size());
        text->setColor(textColorOn(sequentialColor(colors, t)));
        text->setText(formatted(mean, figure.valueDecimals));
      }
  }
  body->addElement(1, n_panels, scale);
  body->setRowStretchFactor(0, 0.001);
  plot->replot(QCustomPlot::rpQueuedReplot);
}

SweepGridHit sweepGridHitAt(QCustomPlot* plot, const SweepGridFigure& figure, const QPointF& pos) {
  for (int i = 0; i < plot->plottableCount(); ++i) {
    const auto* map = qobject_cast<const QCPColorMap*>(plot->plottable(i));
    if (!map || !map->keyAxis()->axisRect()->rect().contains(pos.toPoint())) continue;
    double key = 0, value = 0;
    map->pixelsToCoords(pos, key, value);
    const SweepGridHit hit{i, static_cast<int>(std::lround(value)), static_cast<int>(std::lround(key))};
    if (figure.cell(hit.panel, hit.row, hit.col)) return hit;
  }
  return {};
}

QString sweepCellToolTip(const SweepGridFigure& figure, const SweepGridHit& hit) {
  const SweepEstimate* e = figure.cell(hit.panel, hit.row, hit.col);
  if (!e) return {};
  const int d = figure.valueDecimals;
  const QString where = QObject::tr("%1 · %2 %3 · %4 %5")
                            .arg(figure.panels[hit.panel], figure.rowName, figure.rowLabels[hit.row],
                                 figure.colName, figure.colLabels[hit.col]);
  if (e->count == 0) return QObject::tr("%1\nno records").arg(where);
  const double confidence = 100 * SweepAggregateOptions{}.confidence;
  return QObject::tr("%1\nmean %2 (%3% CI %4 – %5)\nover %6 values")
      .arg(where, formatted(e->mean, d))
      .arg(confidence, 0, 'g', 3)
      .arg(formatted(e->lo, d), formatted(e->hi, d))
      .arg(e->count);
}

CsvTable sweepGridTable(const SweepGridFigure& figure) {
  CsvTable table;
  table.header = QStringList{QStringLiteral("normalizer"), figure.rowName,          figure.colName,
                             QStringLiteral("mean"),       QStringLiteral("ci_lo"), QStringLiteral("ci_hi"),
                             QStringLiteral("count")};
  for (int panel = 0; panel < figure.panels.size(); ++panel)
    for (int row = 0; row < figure.nRows(); ++row)
      for (int col = 0; col < figure.nCols(); ++col) {
        const SweepEstimate* e = figure.cell(panel, row, col);
        if (!e) continue;
        table.rows << QStringList{figure.panels[panel],
                                  figure.rowLabels[row],
                                  figure.colLabels[col],
                                  QString::number(e->mean, 'g', 10),
                                  QString::number(e->lo, 'g', 10),
                                  QString::number(e->hi, 'g', 10),
                                  QString::number(e->count)};
      }
  return table;
}

}  // namespace attnscope::widgets
