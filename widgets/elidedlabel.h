#pragma once
// Widgets that give way, so that a long status, caption or item never sets the window's minimum width: a
// one-line label whose minimum width is a few characters and whose text ends in "…" when it does not fit, and
// combo boxes that shrink below their longest item.

#include <QLabel>

class QComboBox;
class QFontMetrics;

namespace attnscope::widgets {

class ElidedLabel : public QLabel {
  Q_OBJECT
 public:
  explicit ElidedLabel(QWidget* parent = nullptr);
  explicit ElidedLabel(const QString& text, QWidget* parent = nullptr);

  QSize minimumSizeHint() const override;
  /// The text as drawn at the current width.
  QString shownText() const;

 protected:
  void paintEvent(QPaintEvent* event) override;
};

/// Breaks text into lines no wider than width (at spaces; explicit newlines kept), for messages drawn where
/// no layout wraps them (plot items). A word wider than width gets a line of its own.
QString wrapText(const QString& text, const QFontMetrics& metrics, int width);

/// Lets a combo box shrink below its longest item, to about n_chars characters (the style elides the rest).
void letComboBoxGiveWay(QComboBox* box, int n_chars = 12);

}  // namespace attnscope::widgets
