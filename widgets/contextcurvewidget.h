#pragma once
// The paper's figure: a per-query statistic (max attention by default) against the number of keys n the query
// sees, log n axis, median line and q10–q90 band per run, runs overlaid; the theory curves on demand.

#include <QWidget>

#include "curveseries.h"
#include "jobtracker.h"
#include "plotexport.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPTextElement;

namespace attnscope::widgets {

class CaptureDocument;
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

  CaptureDocument* m_document;
  QCustomPlot* m_plot;
  QCPTextElement* m_title;
  QComboBox* m_stat;
  QComboBox* m_scope;
  QCheckBox* m_theory;
  CurveSet m_curves;
  CurveRequest m_shown;
  JobTracker m_jobs{this};
};

}  // namespace attnscope::widgets
