#include "plotfitting.h"

#include <QFontMetrics>

#include <algorithm>

namespace attnscope::widgets {
namespace {

const QString kSeparator = QStringLiteral(" · ");
const char kFullName[] = "fullName";

}  // namespace

QString wrapText(const QString& text, const QFont& font, int width, int max_lines) {
  const QFontMetrics metrics(font);
  width = std::max(width, 1);
  QStringList lines;
  for (const QString& word : text.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
    if (!lines.isEmpty() && metrics.horizontalAdvance(lines.back() + QLatin1Char(' ') + word) <= width)
      lines.back() += QLatin1Char(' ') + word;
    else
      lines << word;
  }
  if (lines.size() > max_lines) {
    QStringList rest = lines.mid(max_lines - 1);
    lines = lines.mid(0, max_lines - 1);
    lines << rest.join(QLatin1Char(' '));
  }
  for (QString& line : lines) line = metrics.elidedText(line, Qt::ElideRight, width);
  return lines.join(QLatin1Char('\n'));
}

FittedTitle::FittedTitle(QCustomPlot* plot, const QFont& font) : QCPTextElement(plot, QString(), font) {}

void FittedTitle::setParts(const QStringList& parts) {
  m_parts = parts;
  setText(parts.join(kSeparator));  // what text() reports until the next layout pass fits it
}

QString FittedTitle::fitted(const QStringList& parts, const QFont& font, int width) {
  const QFontMetrics metrics(font);
  const auto fits = [&](const QString& line) { return metrics.horizontalAdvance(line) <= width; };
  QStringList lines;
  for (const QString& part : parts) {
    if (part.isEmpty()) continue;
    if (!lines.isEmpty() && fits(lines.back() + kSeparator + part))
      lines.back() += kSeparator + part;
    else
      lines << wrapText(part, font, width).split(QLatin1Char('\n'));
  }
  for (QString& line : lines) line = metrics.elidedText(line, Qt::ElideRight, std::max(width, 1));
  return lines.join(QLatin1Char('\n'));
}

void FittedTitle::update(UpdatePhase phase) {
  if (phase == upPreparation && mParentPlot) {
    const int width = mParentPlot->viewport().width();
    if (m_hook) m_hook(mParentPlot->viewport().size());
    setText(fitted(m_parts, font(), width - margins().left() - margins().right() - 8));
  }
  QCPTextElement::update(phase);
}

void fitLegendColumns(QCPLegend* legend, int width) {
  // itemCount() counts the grid's cells, empty ones (null items) included.
  QList<QCPAbstractLegendItem*> items;
  for (int i = 0; i < legend->itemCount(); ++i)
    if (QCPAbstractLegendItem* item = legend->item(i)) items << item;
  const int n = static_cast<int>(items.size());
  if (n == 0) return;
  const int chrome = legend->margins().left() + legend->margins().right();
  const int available = std::max(40, width - chrome - 8);
  // Names back in full before measuring: a wider plot than last time may fit them.
  for (QCPAbstractLegendItem* item : items)
    if (auto* plottable = qobject_cast<QCPPlottableLegendItem*>(item))
      if (plottable->plottable()->property(kFullName).isValid())
        plottable->plottable()->setName(plottable->plottable()->property(kFullName).toString());
  QList<int> widths;
  for (QCPAbstractLegendItem* item : items) widths << item->minimumOuterSizeHint().width();
  int columns = 1;
  for (int c = n; c >= 1; --c) {
    int total = legend->columnSpacing() * (c - 1);
    for (int col = 0; col < c; ++col) {  // columns first: item i sits in column i mod c
      int widest = 0;
      for (int i = col; i < n; i += c) widest = std::max(widest, widths[i]);
      total += widest;
    }
    if (total <= available) {
      columns = c;
      break;
    }
  }
  if (columns == 1) {
    for (int i = 0; i < n; ++i) {
      auto* plottable = qobject_cast<QCPPlottableLegendItem*>(items[i]);
      if (!plottable || widths[i] <= available) continue;
      QCPAbstractPlottable* owner = plottable->plottable();
      const QString full = owner->name();
      owner->setProperty(kFullName, full);
      const int text = available - (widths[i] - QFontMetrics(plottable->font()).horizontalAdvance(full));
      owner->setName(QFontMetrics(plottable->font()).elidedText(full, Qt::ElideRight, std::max(text, 20)));
    }
  }
  if (legend->wrap() != columns) {
    legend->setWrap(columns);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
  }
}

void placeLegendBelow(QCustomPlot* plot, int columns) {
  plot->legend->setVisible(true);
  plot->axisRect()->insetLayout()->take(plot->legend);
  plot->plotLayout()->addElement(2, 0, plot->legend);
  plot->plotLayout()->setRowStretchFactor(2, 0.001);
  plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  plot->legend->setWrap(columns);
  plot->legend->setBorderPen(Qt::NoPen);
  plot->legend->setMargins(QMargins(4, 2, 4, 2));
}

QCPGraph* addBand(QCustomPlot* plot, const QVector<double>& x, const QVector<double>& lo,
                  const QVector<double>& hi, const QColor& color) {
  QCPGraph* lower = plot->addGraph();
  QCPGraph* upper = plot->addGraph();
  QColor fill = color;
  fill.setAlpha(50);
  for (QCPGraph* band : {lower, upper}) {
    band->setPen(Qt::NoPen);
    band->removeFromLegend();
  }
  lower->setData(x, lo, true);
  upper->setData(x, hi, true);
  upper->setBrush(fill);
  upper->setChannelFillGraph(lower);  // the band: the interval between lower and upper
  return upper;
}

}  // namespace attnscope::widgets
