#pragma once
// A sweep's aggregated curves: a per-head statistic against the keys a query sees (head, layer or whole-model
// scope) and, for documents sweeps, next-token loss by position; one colour per normalizer, the mean over
// prompts as a line and its bootstrap confidence interval as a band.

#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

#include "attnscope/sweep_analysis.h"
#include "curveseries.h"
#include "plotexport.h"

class QComboBox;
class QCustomPlot;
class QSpinBox;

namespace attnscope::widgets {

class SweepDocument;
struct SweepData;

enum class SweepCurveKind { Statistic, Loss };

/// The curves of one figure, one per normalizer (empty curves: nothing recorded; message says why).
struct SweepCurveSet {
  SweepCurveKind kind = SweepCurveKind::Statistic;
  QString stat;  // Statistic only
  CurveScope scope = CurveScope::AllLayers;
  int layer = 0, head = 0;
  QStringList normalizers;
  std::vector<std::vector<SweepCurvePoint>> curves;  // [normalizer][bin]
  QString title, xLabel, yLabel;
  QString message;  // why nothing is drawn ("" when something is)
};

/// A statistic against n, per normalizer, for a head, a layer (its heads' mean) or the whole model.
SweepCurveSet sweepStatCurves(const SweepData& data, const QString& stat, CurveScope scope, int layer,
                              int head);
/// Loss by position bucket per normalizer (documents sweeps; a needle sweep gets a message).
SweepCurveSet sweepLossCurves(const SweepData& data);
/// One row per normalizer and bin: normalizer, (stat, layer, head,) x_lo, x_hi, mean, ci_lo, ci_hi, count.
CsvTable sweepCurveTable(const SweepCurveSet& set);

class SweepCurveView : public QWidget, public ExportSource {
  Q_OBJECT
 public:
  SweepCurveView(SweepDocument* document, SweepCurveKind kind, QWidget* parent = nullptr);

  QCustomPlot* plot() const { return m_plot; }
  const SweepCurveSet& curves() const { return m_curves; }
  void setStat(const QString& stat);
  void setScope(CurveScope scope, int layer = 0, int head = 0);

  QString exportName() const override;
  QCustomPlot* exportPlot() const override { return m_plot; }
  QWidget* exportWidget() const override;
  CsvTable exportTable() const override { return sweepCurveTable(m_curves); }

 private:
  void onDocumentChanged();
  void rebuild();
  void draw();

  SweepDocument* m_document;
  SweepCurveKind m_kind;
  QCustomPlot* m_plot;
  QComboBox* m_stat = nullptr;
  QComboBox* m_scope = nullptr;
  QSpinBox* m_layer = nullptr;
  QSpinBox* m_head = nullptr;
  SweepCurveSet m_curves;
};

}  // namespace attnscope::widgets
