#pragma once
// Plot titles and legends that fit the plot's width whenever it is laid out — in a narrow dock on screen and
// at whatever size an export draws it (QCustomPlot lays a plot out again for every
// savePdf/savePng/toPainter).

#include <QStringList>

#include <functional>

#include <qcustomplot.h>

namespace attnscope::widgets {

/// Wraps text at spaces into lines of at most width pixels in font; beyond max_lines the last line ends in
/// "…".
QString wrapText(const QString& text, const QFont& font, int width, int max_lines = 2);

/// A title made of parts: on one line, joined by " · ", when they fit; else as few lines as fit (a part too
/// long for a line of its own wraps at spaces, up to two lines, then ends in "…"). The fitted text is
/// recomputed in every layout pass, for the width of that pass.
class FittedTitle : public QCPTextElement {
  Q_OBJECT
 public:
  FittedTitle(QCustomPlot* plot, const QFont& font);

  /// Sets the parts of the title (the first is the most important).
  void setParts(const QStringList& parts);
  const QStringList& parts() const { return m_parts; }
  /// Called in every layout pass with the plot's size, before anything is measured: for layout that
  /// depends on it (fitLegendColumns, axis labels).
  void setLayoutHook(std::function<void(const QSize& size)> hook) { m_hook = std::move(hook); }

  /// The text of parts as fitted to width pixels in font.
  static QString fitted(const QStringList& parts, const QFont& font, int width);

 protected:
  void update(UpdatePhase phase) override;

 private:
  QStringList m_parts;
  std::function<void(const QSize&)> m_hook;
};

/// Arranges legend's items in as many columns as fit width (at least one) and elides item names that do not
/// fit one column. Each plottable's full name is kept in its "fullName" property.
void fitLegendColumns(QCPLegend* legend, int width);

/// Moves the plot's legend below the axes (inside, it would cover the curves), filled row by row, `columns`
/// wide, without a border.
void placeLegendBelow(QCustomPlot* plot, int columns);

/// Adds the shaded band between lo and hi over x (two graphs kept out of the legend) in color at alpha 50;
/// returns the upper graph, which carries the fill.
QCPGraph* addBand(QCustomPlot* plot, const QVector<double>& x, const QVector<double>& lo,
                  const QVector<double>& hi, const QColor& color);

}  // namespace attnscope::widgets
