#pragma once
// The Compare view as one figure to export: a title naming the head and the runs, then the run's map, the
// compare run's map and their difference side by side, each with its own title and colour scale (drawn by the
// heatmaps' own plots, so the figure shows what the panels show).

#include <functional>

#include <QRect>
#include <QString>
#include <QVector>

#include "plotexport.h"

class QCustomPlot;

namespace attnscope::widgets {

class CompareFigure : public Figure {
 public:
  /// plots: the panels, left to right (not owned; they must outlive the figure). exporting(true) runs now and
  /// exporting(false) when the figure is destroyed, so the panels can show what a figure needs and the window
  /// does not (their colour-scale captions).
  CompareFigure(QString title, QVector<QCustomPlot*> plots, std::function<void(bool)> exporting = {});
  ~CompareFigure() override;
  CompareFigure(const CompareFigure&) = delete;
  CompareFigure& operator=(const CompareFigure&) = delete;

  int layout(const QSize& page, bool tall) override;
  QSize pageSize() const override { return m_page; }
  void paintPage(QCPPainter& painter, int i) const override;
  /// Where panel i is drawn on the page (after layout()).
  QRect panelRect(int i) const;

 private:
  QString m_title;
  QVector<QCustomPlot*> m_plots;
  std::function<void(bool)> m_exporting;
  QSize m_page;
  int m_titleHeight = 0;
};

}  // namespace attnscope::widgets
