#pragma once
// The grid figures of a sweep (retrieval accuracy over length × depth, needle score over layer × head): one
// panel per normalizer side by side, every panel on one colour scale so colours compare across normalizers,
// each cell's mean, interval and count in its tooltip and in the CSV.

#include <QString>
#include <QStringList>

#include <vector>

#include <qcustomplot.h>

#include "attnscope/sweep_analysis.h"
#include "plotexport.h"

namespace attnscope::widgets {

/// What a grid figure shows: cells[panel][row · n_cols + col], drawn row 0 at the bottom unless rowsDown.
struct SweepGridFigure {
  QString title;
  QString message;                   // shown instead of panels when there are none ("open a sweep …")
  QStringList panels;                // one per normalizer (its spec)
  QStringList rowLabels, colLabels;  // tick labels: lengths or layers; depths or heads
  QString rowName, colName;          // short names, for tooltips and the CSV's columns ("length", "depth")
  QString rowAxis, colAxis;          // axis titles ("prompt length (tokens)")
  QString valueLabel;                // the colour scale's title
  std::vector<std::vector<SweepEstimate>> cells;
  QCPRange range{0, 1};   // of the shared colour scale
  bool rowsDown = false;  // row 0 at the top (layers), else at the bottom (lengths grow upward)
  int valueDecimals = 2;  // of the means printed in cells and tooltips

  int nRows() const { return static_cast<int>(rowLabels.size()); }
  int nCols() const { return static_cast<int>(colLabels.size()); }
  /// The estimate of a cell, or nullptr outside the grid.
  const SweepEstimate* cell(int panel, int row, int col) const;
};

/// A cell of a drawn figure under the mouse (panel -1: none).
struct SweepGridHit {
  int panel = -1, row = -1, col = -1;
  bool valid() const { return panel >= 0; }
};

/// Clears plot and draws figure: title, panels side by side with their axes labelled, one colour scale.
void drawSweepGrid(QCustomPlot* plot, const SweepGridFigure& figure);
/// The cell at a pixel position of a plot drawn by drawSweepGrid.
SweepGridHit sweepGridHitAt(QCustomPlot* plot, const SweepGridFigure& figure, const QPointF& pos);
/// "ssmax · length 1024 · depth 0.5", the mean, its interval and its count.
QString sweepCellToolTip(const SweepGridFigure& figure, const SweepGridHit& hit);
/// One row per panel and cell: normalizer, row, column, mean, ci_lo, ci_hi, count.
CsvTable sweepGridTable(const SweepGridFigure& figure);

}  // namespace attnscope::widgets
