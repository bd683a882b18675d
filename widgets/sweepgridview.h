#pragma once
// A sweep's grid views: retrieval accuracy over prompt length × needle depth (exact match or digit accuracy),
// and the per-head needle score over layer × head at one length (the SSMax paper's Figure 7); one panel per
// normalizer on a shared colour scale, tooltips with mean, interval and count.

#include <QWidget>

#include "plotexport.h"
#include "sweepgrid.h"

class QComboBox;
class QCustomPlot;

namespace attnscope::widgets {

class SweepDocument;
struct SweepData;

enum class SweepGridKind { Retrieval, NeedleHeads };

/// The retrieval figure of a needle sweep: rows lengths, columns depths; exact: share correct, else mean
/// digit accuracy.
SweepGridFigure retrievalFigure(const SweepData& data, bool exact);
/// The needle scores of every head at one of the grid's lengths: rows layers, columns heads; the colour
/// scale runs from 0 to the largest mean of any panel.
SweepGridFigure needleHeadsFigure(const SweepData& data, int64_t length);

class SweepGridView : public QWidget, public ExportSource {
  Q_OBJECT
 public:
  SweepGridView(SweepDocument* document, SweepGridKind kind, QWidget* parent = nullptr);

  QCustomPlot* plot() const { return m_plot; }
  const SweepGridFigure& figure() const { return m_figure; }
  /// Retrieval: exact match (true) or digit accuracy.
  void setExact(bool exact);
  /// Needle heads: the length shown (one of the grid's; others are ignored).
  void setLength(int64_t length);
  /// The tooltip of the cell under a pixel of the plot ("" outside every cell).
  QString toolTipAt(const QPoint& pos) const;

  QString exportName() const override;
  QCustomPlot* exportPlot() const override { return m_plot; }
  QWidget* exportWidget() const override;
  CsvTable exportTable() const override { return sweepGridTable(m_figure); }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void onDocumentChanged();
  void rebuild();

  SweepDocument* m_document;
  SweepGridKind m_kind;
  QCustomPlot* m_plot;
  QComboBox* m_choice;  // accuracy (retrieval) or length (needle heads)
  SweepGridFigure m_figure;
};

}  // namespace attnscope::widgets
