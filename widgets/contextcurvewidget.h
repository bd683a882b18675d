#pragma once
// The paper's figure: a per-query statistic (max attention by default) against the number of keys n the query
// sees, log n axis, median line and q10–q90 band per run, runs overlaid; the theory curves on demand. Bins of
// fewer queries than a minimum the user sets are drawn dashed with hollow markers (or hidden), and a tooltip
// gives each bin's count. Title and legend fit the plot's width, on screen and in exports.

#include <QWidget>

#include "curveseries.h"
#include "jobtracker.h"
#include "plotexport.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QAction;
class QSpinBox;

namespace attnscope::widgets {

class CaptureDocument;
class FittedTitle;
struct Selection;

class ContextCurveWidget : public QWidget, public ExportSource {
  Q_OBJECT
 public:
  explicit ContextCurveWidget(CaptureDocument* document, QWidget* parent = nullptr);

  QCustomPlot* plot() const { return m_plot; }
  const CurveSet& curves() const { return m_curves; }
  void setStat(const QString& stat);
  void setScope(CurveScope scope);
  void setTheoryVisible(bool visible);
  /// Bins with fewer queries per head than this are sparse.
  void setMinBinQueries(int queries);
  int minBinQueries() const;
  /// Hides sparse bins instead of drawing them dashed and hollow.
  void setSparseHidden(bool hidden);
  /// The tooltip at a pixel of the plot: the nearest bin's run, n range, median, q10–q90 and count, or ""
  /// when no bin is near.
  QString toolTipAt(const QPointF& pixel) const;
  FittedTitle* title() const { return m_title; }

  QString exportName() const override { return QStringLiteral("context-curve"); }
  QCustomPlot* exportPlot() const override { return m_plot; }
  QWidget* exportWidget() const override { return const_cast<ContextCurveWidget*>(this); }
  CsvTable exportTable() const override { return curvesTable(m_curves); }

 Q_SIGNALS:
  /// The plot shows the curves of the latest request (or an error).
  void contentReady();

 private:
  void onSelectionChanged(const Selection& selection);
  void reload();
  void rebuild();
  CurveRequest currentRequest() const;
  void addRunGraphs(const Curve& curve, const QColor& color, const QString& name, bool* anySparse);

  CaptureDocument* m_document;
  QCustomPlot* m_plot;
  FittedTitle* m_title;
  QComboBox* m_stat;
  QComboBox* m_scope;
  QCheckBox* m_theory;
  QSpinBox* m_minQueries;  // in the "Bins" button's menu, with m_hideSparse
  QAction* m_hideSparse;
  CurveSet m_curves;
  CurveRequest m_shown;
  JobTracker m_jobs{this};
};

}  // namespace attnscope::widgets
