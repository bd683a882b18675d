// HeatmapWidget's input: the mouse (hover tooltips, a click selects the query and key), the keyboard (Up/Down
// step the query, Left/Right the key, +/− zoom around the selected cell) and the clipboard (Ctrl+C copies the
// selected query's row over the visible keys as TSV).

#include <QApplication>
#include <QClipboard>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QToolTip>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "heatmapwidget.h"
#include "targetbands.h"

namespace attnscope::widgets {

void HeatmapWidget::keyPressEvent(QKeyEvent* event) {
  if (event->matches(QKeySequence::Copy)) {
    QApplication::clipboard()->setText(selectedRowTsv());
    return;
  }
  switch (event->key()) {
    case Qt::Key_Up:
      return moveSelection(-1, 0);
    case Qt::Key_Down:
      return moveSelection(1, 0);
    case Qt::Key_Left:
      return moveSelection(0, -1);
    case Qt::Key_Right:
      return moveSelection(0, 1);
    case Qt::Key_Plus:
    case Qt::Key_Equal:  // + without Shift on most layouts
      return zoomBy(0.5);
    case Qt::Key_Minus:
      return zoomBy(2.0);
    default:
      QWidget::keyPressEvent(event);
  }
}

void HeatmapWidget::moveSelection(int d_query, int d_key) {
  const int n = m_document->nTokens();
  if (n == 0) return;
  const int query = std::clamp(m_document->selection().query + d_query, 0, n - 1);
  if (d_key != 0) m_key = m_key < 0 ? query : std::clamp(m_key + d_key, 0, n - 1);  // first: the diagonal
  // Keep the selected cell on screen: scroll by whole steps, never resize the view.
  const auto follow = [](QCPAxis* axis, double at) {
    const QCPRange range = axis->range();
    if (at - 0.5 < range.lower)
      axis->setRange(at - 0.5, at - 0.5 + range.size());
    else if (at + 0.5 > range.upper)
      axis->setRange(at + 0.5 - range.size(), at + 0.5);
  };
  follow(m_plot->yAxis, query);
  if (m_key >= 0) follow(m_plot->xAxis, m_key);
  m_document->setQuery(query);
  updateMarkers();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
  if (d_key != 0) Q_EMIT keySelected(m_key);
}

void HeatmapWidget::zoomBy(double factor) {
  // Around the selected cell when it is on screen, else around the centre of the view.
  const int q = m_document->selection().query;
  const QCPRange x = m_plot->xAxis->range(), y = m_plot->yAxis->range();
  const bool onScreen = y.contains(q) && m_key >= 0 && x.contains(m_key);
  m_plot->xAxis->scaleRange(factor, onScreen ? m_key : x.center());
  m_plot->yAxis->scaleRange(factor, onScreen ? q : y.center());
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QString HeatmapWidget::selectedRowTsv() const {
  const Selection& selection = m_document->selection();
  auto file = m_document->file();
  const RunInfo* info = m_document->runInfo(shownRun(selection));
  QString why;
  if (!file || !info || !canShow(selection, &why)) return {};
  const TokenWindow visible = visibleWindow();
  const int64_t q = selection.query, n = m_document->nTokens();
  TileRequest request;
  request.run = info->name;
  request.hook = hook();
  request.head = selection.head;
  request.r0 = q, request.r1 = q + 1, request.c0 = visible.k0, request.c1 = std::max(visible.k1, visible.k0);
  // One row of level 0 is small (≤ T values): read on the GUI thread, where the clipboard is.
  MapTile row;
  try {
    row = m_role == HeatmapRole::Difference
              ? readDifferenceTile(*file, request, selection.compareRun.toStdString(), n)
              : readTile(*file, request);
    maskTile(row, readKeyVisibility(*file, *info, selection.layer, selection.head), n);
  } catch (const std::exception&) {
    return {};
  }
  QString text = QStringLiteral("query\tkey\tkey_token\t%1\n").arg(valueName());
  for (int64_t k = request.c0; k < request.c1; ++k) {
    const float value = row.at(q, k);
    text += QStringLiteral("%1\t%2\t%3\t%4\n")
                .arg(q)
                .arg(k)
                .arg(m_document->displayToken(static_cast<int>(k)))
                .arg(std::isnan(value) ? QStringLiteral("masked") : QString::number(double{value}, 'g', 6));
  }
  return text;
}

QString HeatmapWidget::describeCell(int64_t query, int64_t key) const {
  const float value = m_tile.at(query, key);
  QString text = tr("query %1  «%2»\nkey %3  «%4»")
                     .arg(query)
                     .arg(m_document->displayToken(static_cast<int>(query)))
                     .arg(key)
                     .arg(m_document->displayToken(static_cast<int>(key)));
  if (m_targets->contains(query) || m_targets->contains(key))
    text += m_targets->contains(query) && m_targets->contains(key)
                ? tr("\nquery and key in the target (--targets)")
            : m_targets->contains(query) ? tr("\nquery in the target (--targets)")
                                         : tr("\nkey in the target (--targets)");
  if (m_tile.empty()) return text;
  if (query >= m_visibility.computed)
    return text + tr("\nnot computed: the capture was cancelled before this query");
  if (std::isnan(value))
    return text + (m_tile.request.level == 0 ? tr("\nmasked: query %1 cannot see key %2").arg(query).arg(key)
                                             : tr("\nmasked: no query of this block sees its keys"));
  text += QStringLiteral("\n%1 = %2").arg(valueName()).arg(static_cast<double>(value), 0, 'g', 4);
  if (m_tile.request.level > 0) {
    const int64_t s = m_tile.request.span();
    text += (m_role == HeatmapRole::Difference
                 ? tr("  (largest change in queries %1–%2 × keys %3–%4; zoom in for single tokens)")
                 : tr("  (largest in queries %1–%2 × keys %3–%4; zoom in for single tokens)"))
                .arg(query / s * s)
                .arg(query / s * s + s - 1)
                .arg(key / s * s)
                .arg(key / s * s + s - 1);
  }
  return text;
}

void HeatmapWidget::onMouseMove(QMouseEvent* event) {
  const int64_t n = m_document->nTokens();
  const auto key = static_cast<int64_t>(std::lround(m_plot->xAxis->pixelToCoord(event->position().x())));
  const auto query = static_cast<int64_t>(std::lround(m_plot->yAxis->pixelToCoord(event->position().y())));
  const bool inside = m_plot->axisRect()->rect().contains(event->pos());
  if (event->buttons() != Qt::NoButton || m_tile.empty() || !inside || key < 0 || key >= n || query < 0 ||
      query >= n) {
    QToolTip::hideText();
    return;
  }
  QToolTip::showText(event->globalPosition().toPoint(), describeCell(query, key), m_plot);
}

void HeatmapWidget::onMouseRelease(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton || (event->pos() - m_pressPos).manhattanLength() > 3) return;
  if (!m_plot->axisRect()->rect().contains(event->pos()) || m_tile.empty()) return;
  const auto query = static_cast<int>(std::lround(m_plot->yAxis->pixelToCoord(event->position().y())));
  const auto key = static_cast<int>(std::lround(m_plot->xAxis->pixelToCoord(event->position().x())));
  m_key = std::clamp(key, 0, std::max(0, m_document->nTokens() - 1));
  m_document->setQuery(query);  // clicking a row makes that query the one the tokens view shows
  updateMarkers();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
  Q_EMIT keySelected(m_key);  // and that key the one key mode shows
}

void HeatmapWidget::setSelectedKey(int key) {
  m_key = std::clamp(key, 0, std::max(0, m_document->nTokens() - 1));
  updateMarkers();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace attnscope::widgets
