#include "plotfitting.h"

#include <QFontMetrics>

#include <algorithm>

namespace attnscope::widgets {
namespace {

const QString kSeparator = QStringLiteral(" · ");
const char kFullName[] = "fullName";

}  // namespace

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
      lines << part;
  }
  for (QString& line : lines) line = metrics.elidedText(line, Qt::ElideRight, std::max(width, 1));
  return lines.join(QLatin1Char('\n'));
}

void FittedTitle::update(UpdatePhase phase) {
  if (phase == upPreparation && mParentPlot) {
    const int width = mParentPlot->viewport().width();
    if (m_hook) m_hook(width);
    setText(fitted(m_parts, font(), width - margins().left() - margins().right() - 8));
  }
  QCPTextElement::update(phase);
}

void fitLegendColumns(QCPLegend* legend, int width) {
  const int n = legend->itemCount();
  if (n == 0) return;
  QList<QCPAbstractLegendItem*> items;
  for (int i = 0; i < n; ++i) items << legend->item(i);
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

}  // namespace attnscope::widgets
