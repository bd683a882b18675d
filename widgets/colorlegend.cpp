#include "colorlegend.h"

#include "plotfitting.h"

#include <cmath>

namespace attnscope::widgets {

ColorLegend::ColorLegend(QWidget* parent) : QCustomPlot(parent), m_scale(nullptr) {
  plotLayout()->clear();  // no axis rect: the scale is the whole plot
  m_scale = new QCPColorScale(this);
  plotLayout()->addElement(0, 0, m_scale);
  m_scale->setType(QCPAxis::atBottom);
  m_scale->setBarWidth(10);
  // Room at both ends for the labels of the range's ends; tick labels and the label set the height.
  m_scale->setAutoMargins(QCP::msTop | QCP::msBottom);
  m_scale->setMargins(
      QMargins(fontMetrics().averageCharWidth() * 3, 0, fontMetrics().averageCharWidth() * 3, 0));
  m_scale->setRangeDrag(false);
  m_scale->setRangeZoom(false);
  // Ticks at both ends and three between: the range reads off the scale itself.
  m_scale->axis()->setTicker(QSharedPointer<QCPAxisTickerText>::create());
  // The scale's height is the bar, its ticks and one label line; its width gives way to the view's.
  setFixedHeight(fontMetrics().height() * 3 + 30);  // tick labels and two lines of label
  setMinimumWidth(120);
  clearScale();
}

void ColorLegend::setScale(const QCPColorGradient& gradient, double lo, double hi, const QString& label) {
  m_scale->setGradient(gradient);
  m_scale->setDataRange(QCPRange(lo, hi));
  auto ticker = qSharedPointerCast<QCPAxisTickerText>(m_scale->axis()->ticker());
  ticker->clear();
  for (int i = 0; i <= 4; ++i) {
    const double value = lo + (hi - lo) * i / 4;
    ticker->addTick(value, QString::number(std::abs(value) < 1e-12 * (hi - lo) ? 0.0 : value, 'g', 3));
  }
  m_label = label;
  fitLabel();
  m_scale->setVisible(true);
  replot(rpQueuedReplot);
}

void ColorLegend::clearScale() {
  m_label.clear();
  m_scale->axis()->setLabel(QString());
  m_scale->setVisible(false);
  replot(rpQueuedReplot);
}

void ColorLegend::resizeEvent(QResizeEvent* event) {
  fitLabel();
  QCustomPlot::resizeEvent(event);
}

void ColorLegend::paintEvent(QPaintEvent*) {
  // Drawn from the layout, not from QCustomPlot's pixel buffers, which refresh only in a later event: a grab
  // or an export made right after setScale (the headless export) shows the current scale, and PDF and SVG
  // exports get vectors.
  QCPPainter painter(this);
  painter.fillRect(rect(), Qt::white);
  toPainter(&painter, width(), height());
}

void ColorLegend::fitLabel() {
  m_scale->axis()->setLabel(wrapText(m_label, m_scale->axis()->labelFont(), width() - 8));
}

}  // namespace attnscope::widgets
