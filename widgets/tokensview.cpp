#include "tokensview.h"

#include <QHelpEvent>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>

#include <algorithm>

#include "capturedocument.h"
#include "elidedlabel.h"
#include "tokensfigure.h"

namespace attnscope::widgets {
namespace {

constexpr int kMargin = 6;

}  // namespace

TokensView::TokensView(CaptureDocument* document, QWidget* parent)
    : QAbstractScrollArea(parent), m_document(document), m_caption(new ElidedLabel(this)) {
  m_caption->setTextFormat(Qt::PlainText);
  m_caption->setContentsMargins(kMargin, 2, kMargin, 2);
  setViewportMargins(0, m_caption->sizeHint().height() + 2, 0, 0);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  viewport()->setMouseTracking(true);
  viewport()->setBackgroundRole(QPalette::Base);
  connect(m_document, &CaptureDocument::documentChanged, this, [this] {
    m_rowKey.clear();
    readText();
    relayout();
  });
  connect(m_document, &CaptureDocument::selectionChanged, this, &TokensView::onSelectionChanged);
  readText();  // the document may be open already (headless export)
  relayout();
  onSelectionChanged(m_document->selection());
}

void TokensView::readText() {
  m_text.clear();
  for (int i = 0; i < m_document->nTokens(); ++i) m_text << runningToken(*m_document, i);
}

void TokensView::relayout() {
  const TokenLayout layout = layoutTokens(m_text, m_document->tokens(), QFontMetrics(font()), kMargin,
                                          viewport()->width() - 2 * kMargin);
  m_rects = layout.rects;
  for (QRect& rect : m_rects) rect.translate(0, kMargin);
  m_contentHeight = layout.height + 2 * kMargin;
  verticalScrollBar()->setRange(0, std::max(0, m_contentHeight - viewport()->height()));
  verticalScrollBar()->setPageStep(viewport()->height());
  verticalScrollBar()->setSingleStep(std::max(1, layout.lineHeight));
  refresh();
}

void TokensView::onSelectionChanged(const Selection& selection) {
  const QString key = QStringLiteral("%1/%2/%3/%4")
                          .arg(selection.run)
                          .arg(selection.layer)
                          .arg(selection.head)
                          .arg(selection.query);
  if (key == m_rowKey) return;
  m_rowKey = key;
  reloadWeights();
  ensureVisible(selection.query);
}

void TokensView::reloadWeights() {
  m_jobs.cancel();
  const Selection selection = m_document->selection();
  auto file = m_document->file();
  if (!file || !m_document->hasMap(selection.run, selection.layer, selection.head)) {
    m_weights.clear();
    m_maxWeight = 0;
    m_note = file ? tr("no attention map stored for this head") : QString();
    refresh();
    QMetaObject::invokeMethod(this, &TokensView::contentReady, Qt::QueuedConnection);
    return;
  }
  const std::string run = selection.run.toStdString(), hook = CaptureDocument::patternHook(selection.layer);
  const int64_t head = selection.head, query = selection.query, n = m_document->nTokens();
  m_jobs.startJob(
      [file, run, hook, head, query, n](const CancelCheck&) {
        return file->readMapTile(run, hook, head, 0, query, query + 1, 0,
                                 n);  // one row: no band to stop between
      },
      [this](std::vector<float> row) {
        m_weights = std::move(row);
        m_maxWeight = m_weights.empty() ? 0 : *std::max_element(m_weights.begin(), m_weights.end());
        m_note.clear();
        refresh();
        Q_EMIT contentReady();
      },
      [this](const QString& error) {
        m_weights.clear();
        m_note = error;
        refresh();
        Q_EMIT contentReady();
      });
}

void TokensView::refresh() {
  m_caption->setText(caption());
  viewport()->update();
}

QString TokensView::caption() const {
  if (!m_document->isOpen()) return tr("Open a capture file to read its prompt here.");
  return m_note.isEmpty() ? title() + tr(" · click a token to make it the query") : title();
}

QString TokensView::title() const {
  if (!m_document->isOpen()) return {};
  const Selection& s = m_document->selection();
  QString text = tr("Attention from query %1 «%2» · %3 · layer %4 · head %5")
                     .arg(s.query)
                     .arg(m_document->displayToken(s.query), s.run)
                     .arg(s.layer)
                     .arg(s.head);
  if (!m_note.isEmpty()) return text + QStringLiteral(" — ") + m_note;
  if (m_maxWeight > 0) text += tr(" · darkest = %1").arg(static_cast<double>(m_maxWeight), 0, 'g', 3);
  return text;
}

QRect TokensView::tokenRect(int token) const {
  if (token < 0 || token >= static_cast<int>(m_rects.size())) return {};
  return m_rects[static_cast<std::size_t>(token)].translated(0, -verticalScrollBar()->value());
}

int TokensView::tokenAt(const QPoint& position) const {
  const QPoint p = position + QPoint(0, verticalScrollBar()->value());
  auto it = std::lower_bound(m_rects.begin(), m_rects.end(), p.y(),
                             [](const QRect& r, int y) { return r.bottom() < y; });
  for (; it != m_rects.end() && it->top() <= p.y(); ++it)
    if (it->contains(p)) return static_cast<int>(it - m_rects.begin());
  return -1;
}

void TokensView::paintEvent(QPaintEvent*) {
  QPainter painter(viewport());
  const int scroll = verticalScrollBar()->value(), height = viewport()->height();
  painter.translate(0, -scroll);
  const int query = m_document->selection().query;
  auto it = std::lower_bound(m_rects.begin(), m_rects.end(), scroll,
                             [](const QRect& r, int y) { return r.bottom() < y; });
  for (; it != m_rects.end() && it->top() <= scroll + height; ++it) {
    const int i = static_cast<int>(it - m_rects.begin());
    const bool seen = i <= query;  // causal: later keys are invisible to the query
    const float shade = seen && i < static_cast<int>(m_weights.size()) && m_maxWeight > 0
                            ? m_weights[static_cast<std::size_t>(i)] / m_maxWeight
                            : -1.0f;
    paintToken(painter, *it, m_text.value(i), shade, i == query, seen, palette().color(QPalette::Text),
               palette().color(QPalette::PlaceholderText));
  }
}

void TokensView::resizeEvent(QResizeEvent* event) {
  QAbstractScrollArea::resizeEvent(event);
  const QRect frame = contentsRect();
  m_caption->setGeometry(frame.left(), frame.top(), frame.width(),
                         viewport()->geometry().top() - frame.top());
  relayout();
}

void TokensView::mousePressEvent(QMouseEvent* event) {
  const int token = tokenAt(event->pos());
  if (event->button() == Qt::LeftButton && token >= 0) m_document->setQuery(token);
}

bool TokensView::viewportEvent(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const int token = tokenAt(help->pos());
    if (token < 0) {
      QToolTip::hideText();
    } else {
      QString text = tr("token %1 «%2»").arg(token).arg(m_document->displayToken(token));
      if (token < static_cast<int>(m_weights.size()))
        text += tr("\nattention from query %1: %2")
                    .arg(m_document->selection().query)
                    .arg(static_cast<double>(m_weights[static_cast<std::size_t>(token)]), 0, 'g', 4);
      QToolTip::showText(help->globalPos(), text, viewport());
    }
    return true;
  }
  return QAbstractScrollArea::viewportEvent(event);
}

void TokensView::ensureVisible(int token) {
  const QRect rect = tokenRect(token);
  if (rect.isNull()) return;
  if (rect.top() < 0 || rect.bottom() > viewport()->height())
    verticalScrollBar()->setValue(verticalScrollBar()->value() + rect.center().y() -
                                  viewport()->height() / 2);
}

std::unique_ptr<Figure> TokensView::exportFigure() const {
  TokensFigureContent content;
  content.title = title();
  content.note = m_note;
  content.text = m_text;
  content.raw = m_document->tokens();
  content.weights = m_weights;
  content.query = m_document->selection().query;
  content.font = font();
  return std::make_unique<TokensFigure>(std::move(content));
}

CsvTable TokensView::exportTable() const {
  CsvTable table;
  table.header = QStringList{"key", "token", "attention"};
  for (std::size_t i = 0; i < m_weights.size(); ++i)
    table.rows << QStringList{QString::number(i), m_document->tokens().value(static_cast<int>(i)),
                              QString::number(static_cast<double>(m_weights[i]))};
  return table;
}

}  // namespace attnscope::widgets
