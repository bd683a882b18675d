#include "colorlegend.h"

namespace attnscope::widgets {

ColorLegend::ColorLegend(QWidget* parent) : QCustomPlot(parent), m_scale(nullptr) {
  plotLayout()->clear();  // no axis rect: the scale is the whole plot
  m_scale = new QCPColorScale(this);
  plotLayout()->addElement(0, 0, m_scale);
  m_scale->setType(QCPAxis::atBottom);
  m_scale->setBarWidth(10);
  m_scale->setRangeDrag(false);
  m_scale->setRangeZoom(false);
  m_scale->axis()->setNumberFormat(QStringLiteral("g"));
  m_scale->axis()->setNumberPrecision(3);
  m_scale->axis()->ticker()->setTickCount(5);
  // The scale's height is the bar, its ticks and one label line; its width gives way to the view's.
  setFixedHeight(fontMetrics().height() * 2 + 34);
  setMinimumWidth(120);
  clearScale();
}

void ColorLegend::setScale(const QCPColorGradient& gradient, double lo, double hi, const QString& label) {
  m_scale->setGradient(gradient);
  m_scale->setDataRange(QCPRange(lo, hi));
  m_scale->axis()->setLabel(label);
  m_scale->setVisible(true);
  replot(rpQueuedReplot);
}

void ColorLegend::clearScale() {
  m_scale->axis()->setLabel(QString());
  m_scale->setVisible(false);
  replot(rpQueuedReplot);
}

QString ColorLegend::label() const {
  return m_scale->axis()->label();
}

}  // namespace attnscope::widgets
