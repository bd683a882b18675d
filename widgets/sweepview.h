#pragma once
// The sweep page: a one-line summary of the open sweep file and its views in tabs (retrieval grid, needle
// score per head, a statistic against n, loss by position); the tabs a sweep's mode has nothing for are
// disabled.

#include <QList>
#include <QWidget>

#include "plotexport.h"

class QTabWidget;

namespace attnscope::widgets {

class ElidedLabel;
class SweepCurveView;
class SweepDocument;
class SweepGridView;

class SweepView : public QWidget {
  Q_OBJECT
 public:
  explicit SweepView(SweepDocument* document, QWidget* parent = nullptr);

  SweepDocument* document() const { return m_document; }
  SweepGridView* retrieval() const { return m_retrieval; }
  SweepGridView* needleHeads() const { return m_heads; }
  SweepCurveView* statCurve() const { return m_curve; }
  SweepCurveView* lossCurve() const { return m_loss; }
  QTabWidget* tabs() const { return m_tabs; }
  /// Every view that can be exported, in tab order.
  QList<ExportSource*> exportSources() const;
  /// The view of the current tab.
  ExportSource* currentSource() const;

 private:
  void onDocumentChanged();

  SweepDocument* m_document;
  ElidedLabel* m_summary;
  QTabWidget* m_tabs;
  SweepGridView* m_retrieval;
  SweepGridView* m_heads;
  SweepCurveView* m_curve;
  SweepCurveView* m_loss;
};

}  // namespace attnscope::widgets
