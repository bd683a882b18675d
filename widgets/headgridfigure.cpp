#include "headgridfigure.h"

#include <qcustomplot.h>

#include <cmath>

#include "headgridmodel.h"

namespace attnscope::widgets {
namespace {

constexpr int kMaxTextCells = 24 * 24;  // beyond this, values stay in the colours (and the CSV)

/// Integer ticks labelled by text (heads "0, 1, …" or layers), at most about `most` of them.
QSharedPointer<QCPAxisTickerText> integerTicker(int n, int most) {
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  const int step = std::max(1, (n + most - 1) / most);
  for (int i = 0; i < n; i += step) ticker->addTick(i, QString::number(i));
  return ticker;
}

}  // namespace

void drawHeadGridFigure(QCustomPlot* plot, const HeadGridModel& model) {
  const HeadGridValues& values = model.values();
  plot->clearItems();
  plot->clearPlottables();
  plot->plotLayout()->clear();
  auto* rect = new QCPAxisRect(plot);
  const QFont base = plot->font();
  QString title = headGridTitle(values.request);
  title += values.request.difference
               ? QObject::tr("\nrun %1 − run %2").arg(values.request.run, values.request.compareRun)
               : QObject::tr("\nrun %1").arg(values.request.run);
  plot->plotLayout()->addElement(
      0, 0, new QCPTextElement(plot, title, QFont(base.family(), base.pointSize() + 1, QFont::Bold)));
  plot->plotLayout()->addElement(1, 0, rect);
  if (values.n_layer <= 0 || values.n_head <= 0) {
    rect->axis(QCPAxis::atBottom)->setVisible(false);
    rect->axis(QCPAxis::atLeft)->setVisible(false);
    auto* empty = new QCPItemText(plot);
    empty->setClipToAxisRect(false);
    empty->position->setType(QCPItemPosition::ptAxisRectRatio);
    empty->position->setAxisRect(rect);
    empty->position->setCoords(0.5, 0.5);
    empty->setText(QObject::tr("No values (open a capture)"));
    plot->replot();
    return;
  }
  QCPAxis* x = rect->axis(QCPAxis::atBottom);
  QCPAxis* y = rect->axis(QCPAxis::atLeft);
  x->setLabel(QObject::tr("head"));
  y->setLabel(QObject::tr("layer"));
  x->setRange(-0.5, values.n_head - 0.5);
  y->setRange(-0.5, values.n_layer - 0.5);
  y->setRangeReversed(true);  // layer 0 at the top, as in the view
  x->setTicker(integerTicker(values.n_head, 16));
  y->setTicker(integerTicker(values.n_layer, 24));
  x->grid()->setVisible(false);
  y->grid()->setVisible(false);

  auto* map = new QCPColorMap(x, y);
  map->setInterpolate(false);
  map->setTightBoundary(false);
  map->data()->setSize(values.n_head, values.n_layer);
  map->data()->setRange(QCPRange(0, values.n_head - 1), QCPRange(0, values.n_layer - 1));
  for (int layer = 0; layer < values.n_layer; ++layer)
    for (int head = 0; head < values.n_head; ++head)
      map->data()->setCell(head, layer, model.value(layer, head));
  auto* scale = new QCPColorScale(plot);
  scale->setType(QCPAxis::atRight);
  scale->setBarWidth(14);
  QCPColorGradient gradient = headGridGradient(values);  // the view's colours
  gradient.setNanHandling(QCPColorGradient::nhNanColor);
  gradient.setNanColor(QColor(Qt::lightGray));  // as the view draws a head without the statistic
  scale->setGradient(gradient);
  scale->axis()->setLabel(values.request.difference
                              ? QObject::tr("%1 difference").arg(statisticAxisLabel(values.request.stat))
                              : statisticAxisLabel(values.request.stat));
  map->setColorScale(scale);
  map->setGradient(gradient);
  map->setDataRange(QCPRange(values.lo, values.hi));
  plot->plotLayout()->addElement(1, 1, scale);
  auto* margins = new QCPMarginGroup(plot);
  rect->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
  scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);

  if (values.n_layer * values.n_head <= kMaxTextCells) {
    QFont small = base;
    small.setPointSizeF(base.pointSizeF() * (values.n_head > 12 ? 0.7 : 0.85));
    for (int layer = 0; layer < values.n_layer; ++layer)
      for (int head = 0; head < values.n_head; ++head) {
        const QModelIndex index = model.index(layer, head);
        auto* text = new QCPItemText(plot);
        text->setClipAxisRect(rect);
        text->position->setAxes(x, y);
        text->position->setCoords(head, layer);
        text->setFont(small);
        text->setText(index.data(Qt::DisplayRole).toString());
        text->setColor(index.data(Qt::ForegroundRole).value<QBrush>().color());
      }
  }
  plot->replot();
}

}  // namespace attnscope::widgets
