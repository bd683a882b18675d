#include "comparefigure.h"

#include <qcustomplot.h>

namespace attnscope::widgets {
namespace {

constexpr int kMargin = 8, kGap = 6;

QFont titleFont(const QCustomPlot* plot) {
  QFont font = plot ? plot->font() : QFont();
  font.setBold(true);
  font.setPointSizeF(font.pointSizeF() + 2);
  return font;
}

}  // namespace

CompareFigure::CompareFigure(QString title, QVector<QCustomPlot*> plots, std::function<void(bool)> exporting)
    : m_title(std::move(title)), m_plots(std::move(plots)), m_exporting(std::move(exporting)) {
  if (m_exporting) m_exporting(true);
}

CompareFigure::~CompareFigure() {
  if (m_exporting) m_exporting(false);
}

int CompareFigure::layout(const QSize& page, bool) {
  m_page = page;
  const QFontMetrics metrics(titleFont(m_plots.value(0)));
  m_titleHeight =
      metrics.boundingRect(QRect(0, 0, page.width() - 2 * kMargin, 10000), Qt::TextWordWrap, m_title)
          .height() +
      kMargin;
  return 1;
}

QRect CompareFigure::panelRect(int i) const {
  const int n = std::max<int>(1, static_cast<int>(m_plots.size()));
  const int width = (m_page.width() - 2 * kMargin - (n - 1) * kGap) / n;
  const int top = kMargin + m_titleHeight;
  return {kMargin + i * (width + kGap), top, width, m_page.height() - top - kMargin};
}

void CompareFigure::paintPage(QCPPainter& painter, int) const {
  painter.save();
  painter.fillRect(QRect(QPoint(0, 0), m_page), Qt::white);
  painter.setFont(titleFont(m_plots.value(0)));
  painter.setPen(Qt::black);
  painter.drawText(QRect(kMargin, kMargin, m_page.width() - 2 * kMargin, m_titleHeight),
                   Qt::TextWordWrap | Qt::AlignHCenter | Qt::AlignTop, m_title);
  for (int i = 0; i < m_plots.size(); ++i) {
    const QRect rect = panelRect(i);
    if (rect.width() < 10 || rect.height() < 10) continue;
    painter.save();
    painter.translate(rect.topLeft());
    painter.setClipRect(QRect(QPoint(0, 0), rect.size()));
    m_plots[i]->toPainter(&painter, rect.width(), rect.height());
    painter.restore();
  }
  painter.restore();
  // The panels were laid out for the figure: lay them out for the screen again.
  for (QCustomPlot* plot : m_plots) plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace attnscope::widgets
