#include "elidedlabel.h"

#include <QComboBox>
#include <QPainter>
#include <QStyle>
#include <QStyleOptionComboBox>

#include <algorithm>

namespace attnscope::widgets {

ElidedLabel::ElidedLabel(QWidget* parent) : QLabel(parent) {}

ElidedLabel::ElidedLabel(const QString& text, QWidget* parent) : QLabel(text, parent) {}

QSize ElidedLabel::minimumSizeHint() const {
  const QSize full = QLabel::minimumSizeHint();
  const QMargins margins = contentsMargins();
  const int few = fontMetrics().horizontalAdvance(QStringLiteral("Mmmm…")) + margins.left() + margins.right();
  return {std::min(full.width(), few), full.height()};
}

QString ElidedLabel::shownText() const {
  return fontMetrics().elidedText(text(), Qt::ElideRight, contentsRect().width());
}

void ElidedLabel::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  style()->drawItemText(&painter, contentsRect(), static_cast<int>(alignment()), palette(), isEnabled(),
                        shownText(), foregroundRole());
}

void letComboBoxGiveWay(QComboBox* box, int n_chars) {
  // An explicit minimum width overrides the combo box's minimum size hint, its longest item.
  QStyleOptionComboBox option;
  option.initFrom(box);
  const QSize text(box->fontMetrics().averageCharWidth() * n_chars, box->fontMetrics().height());
  box->setMinimumWidth(box->style()->sizeFromContents(QStyle::CT_ComboBox, &option, text, box).width());
}

}  // namespace attnscope::widgets

namespace attnscope::widgets {

QString wrapText(const QString& text, const QFontMetrics& metrics, int width) {
  QStringList lines;
  for (const QString& paragraph : text.split(QLatin1Char('\n'))) {
    QString line;
    for (const QString& word : paragraph.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
      const QString longer = line.isEmpty() ? word : line + QLatin1Char(' ') + word;
      if (!line.isEmpty() && metrics.horizontalAdvance(longer) > width) {
        lines << line;
        line = word;
      } else {
        line = longer;
      }
    }
    lines << line;
  }
  return lines.join(QLatin1Char('\n'));
}

}  // namespace attnscope::widgets
