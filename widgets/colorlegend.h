#pragma once
// A colour legend: a horizontal colour scale with its value range and a label, for views that colour cells by
// value (the head grid). It is a QCustomPlot holding only a QCPColorScale, so it draws, and exports, like the
// plots do.

#include <QString>

#include <qcustomplot.h>

namespace attnscope::widgets {

class ColorLegend : public QCustomPlot {
  Q_OBJECT
 public:
  explicit ColorLegend(QWidget* parent = nullptr);

  /// Shows gradient over [lo, hi] with label under it.
  void setScale(const QCPColorGradient& gradient, double lo, double hi, const QString& label);
  /// Hides the scale (nothing to colour).
  void clearScale();

  QCPColorScale* colorScale() const { return m_scale; }
  /// The label shown under the scale, in full ("" when cleared).
  QString label() const { return m_label; }

 protected:
  void resizeEvent(QResizeEvent* event) override;
  void paintEvent(QPaintEvent* event) override;

 private:
  void fitLabel();

  QCPColorScale* m_scale;
  QString m_label;
};

}  // namespace attnscope::widgets
