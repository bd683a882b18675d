#include "tokensview.h"

#include <QHelpEvent>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QShortcut>
#include <QToolButton>
#include <QToolTip>

#include <algorithm>

#include "capturedocument.h"
#include "colormaps.h"
#include "elidedlabel.h"
#include "tokensfigure.h"

namespace attnscope::widgets {
namespace {

constexpr int kMargin = 6;
constexpr int kFindWidth = 150;
/// The mark of search matches (the current match also gets an outline).
const QColor kMatch(255, 200, 0);

}  // namespace

TokensView::TokensView(CaptureDocument* document, QWidget* parent)
    : QAbstractScrollArea(parent),
      m_document(document),
      m_caption(new ElidedLabel(this)),
      m_find(new QLineEdit(this)),
      m_keyMode(new QToolButton(this)) {
  m_caption->setTextFormat(Qt::PlainText);
  m_find->setPlaceholderText(tr("Find (Ctrl+F)"));
  m_find->setClearButtonEnabled(true);
  m_find->setToolTip(tr("Find text across token boundaries · Enter: next · Shift+Enter: previous"));
  m_find->installEventFilter(this);
  connect(m_find, &QLineEdit::textChanged, this, &TokensView::find);
  auto* findShortcut =
      new QShortcut(QKeySequence::Find, this, nullptr, nullptr, Qt::WidgetWithChildrenShortcut);
  connect(findShortcut, &QShortcut::activated, this, [this] {
    m_find->setFocus(Qt::ShortcutFocusReason);
    m_find->selectAll();
  });
  m_keyMode->setText(tr("Key mode"));
  m_keyMode->setCheckable(true);
  m_keyMode->setToolTip(
      tr("Off: shade the keys by the attention the query gives them.\n"
         "On: click a key; shade the queries by the attention they give it."));
  connect(m_keyMode, &QToolButton::toggled, this, [this](bool on) { setMode(on ? Mode::Key : Mode::Query); });
  m_caption->setContentsMargins(kMargin, 2, kMargin, 2);
  setViewportMargins(0, std::max(m_caption->sizeHint().height(), m_find->sizeHint().height()) + 2, 0, 0);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  viewport()->setMouseTracking(true);
  viewport()->setBackgroundRole(QPalette::Base);
  connect(m_document, &CaptureDocument::documentChanged, this, [this] {
    m_rowKey.clear();
    m_keyChosen = false;
    readText();
    find(m_find->text());
    relayout();
  });
  connect(m_document, &CaptureDocument::selectionChanged, this, &TokensView::onSelectionChanged);
  connect(ColorMapSetting::instance(), &ColorMapSetting::changed, viewport(), qOverload<>(&QWidget::update));
  readText();  // the document may be open already (headless export)
  relayout();
  onSelectionChanged(m_document->selection());
}

void TokensView::readText() {
  m_text.clear();
  for (int i = 0; i < m_document->nTokens(); ++i) m_text << runningToken(*m_document, i);
  m_key = std::clamp(m_key, 0, std::max(0, m_document->nTokens() - 1));
}

void TokensView::readTargets() {
  m_inTarget.assign(static_cast<std::size_t>(m_document->nTokens()), 0);
  const RunInfo* run = m_document->currentRun();
  if (!run) return;
  for (const auto& [begin, end] : run->targets)
    for (int64_t i = std::max<int64_t>(begin, 0); i < std::min<int64_t>(end, m_document->nTokens()); ++i)
      m_inTarget[static_cast<std::size_t>(i)] = 1;
}

void TokensView::setMode(Mode mode) {
  if (mode == m_mode) return;
  m_mode = mode;
  if (mode == Mode::Key && !m_keyChosen) m_key = m_document->selection().query;
  const QSignalBlocker block(m_keyMode);
  m_keyMode->setChecked(mode == Mode::Key);
  m_rowKey.clear();
  onSelectionChanged(m_document->selection());
  if (mode == Mode::Key) Q_EMIT keyChanged(m_key);
}

void TokensView::setKey(int key) {
  if (key < 0 || key >= m_document->nTokens()) return;
  m_keyChosen = true;
  if (key == m_key) return;
  m_key = key;
  m_rowKey.clear();
  onSelectionChanged(m_document->selection());
  Q_EMIT keyChanged(m_key);
}

void TokensView::find(const QString& needle) {
  // The running text as read (files may store tokens as drawn, ␣ for a space), with the newline and tab
  // marks as the characters they stand for, so "number is:\n" finds what the user sees.
  QStringList decoded = m_text;
  for (QString& token : decoded)
    token.replace(QChar(0x21B5), QLatin1Char('\n')).replace(QChar(0x21E5), QLatin1Char('\t'));
  m_matches = findInTokens(decoded, needle);
  m_inMatch.assign(static_cast<std::size_t>(m_document->nTokens()), 0);
  for (const TokenMatch& match : m_matches)
    for (int i = match.first; i <= match.last; ++i) m_inMatch[static_cast<std::size_t>(i)] = 1;
  m_currentMatch = -1;
  if (!m_matches.empty()) findNext();
  refresh();
}

void TokensView::findNext(bool backwards) {
  if (m_matches.empty()) return;
  const int n = static_cast<int>(m_matches.size());
  m_currentMatch = m_currentMatch < 0 ? 0 : (m_currentMatch + (backwards ? n - 1 : 1)) % n;
  const int token = m_matches[static_cast<std::size_t>(m_currentMatch)].first;
  ensureVisible(token);
  m_document->setQuery(token);
  refresh();
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
  // Key mode shows a column, which the query does not change.
  const QString key =
      QStringLiteral("%1/%2/%3/%4")
          .arg(selection.run)
          .arg(selection.layer)
          .arg(selection.head)
          .arg(m_mode == Mode::Key ? QStringLiteral("key %1").arg(m_key) : QString::number(selection.query));
  if (key == m_rowKey) {
    viewport()->update();  // the query outline moved
    return;
  }
  readTargets();  // the run may have changed
  m_rowKey = key;
  reloadWeights();
  ensureVisible(m_mode == Mode::Key ? m_key : selection.query);
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
  const int64_t head = selection.head, query = selection.query, n = m_document->nTokens(), key = m_key;
  const bool keyMode = m_mode == Mode::Key;
  m_jobs.startJob(
      [file, run, hook, head, query, n, key, keyMode](const CancelCheck&) {
        // One row ([T] keys) or one column ([T] queries) of level 0: no band to stop between.
        return keyMode ? file->readMapTile(run, hook, head, 0, 0, n, key, key + 1)
                       : file->readMapTile(run, hook, head, 0, query, query + 1, 0, n);
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
  if (!m_note.isEmpty()) return title();
  return title() + (m_mode == Mode::Key ? tr(" · click a token to make it the key")
                                        : tr(" · click a token to make it the query"));
}

QString TokensView::title() const {
  if (!m_document->isOpen()) return {};
  const Selection& s = m_document->selection();
  const bool keyMode = m_mode == Mode::Key;
  QString text = (keyMode ? tr("Attention to key %1 «%2» from each query · %3 · layer %4 · head %5")
                          : tr("Attention from query %1 «%2» · %3 · layer %4 · head %5"))
                     .arg(keyMode ? m_key : s.query)
                     .arg(m_document->displayToken(keyMode ? m_key : s.query), s.run)
                     .arg(s.layer)
                     .arg(s.head);
  if (!m_find->text().isEmpty())
    text += m_matches.empty() ? tr(" · no match")
                              : tr(" · match %1 of %2").arg(m_currentMatch + 1).arg(m_matches.size());
  if (std::find(m_inTarget.begin(), m_inTarget.end(), 1) != m_inTarget.end())
    text += tr(" · underlined: target");
  if (!m_note.isEmpty()) return text + QStringLiteral(" — ") + m_note;
  if (m_maxWeight > 0) text += tr(" · colour scale 0 – %1").arg(static_cast<double>(m_maxWeight), 0, 'g', 3);
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
  const bool keyMode = m_mode == Mode::Key;
  const ColorMapName map = savedColorMap();
  const int focus = keyMode ? m_key : m_document->selection().query;  // the outlined token
  const TokenMatch current =
      m_currentMatch >= 0 ? m_matches[static_cast<std::size_t>(m_currentMatch)] : TokenMatch{-1, -2};
  auto it = std::lower_bound(m_rects.begin(), m_rects.end(), scroll,
                             [](const QRect& r, int y) { return r.bottom() < y; });
  for (; it != m_rects.end() && it->top() <= scroll + height; ++it) {
    const int i = static_cast<int>(it - m_rects.begin());
    const auto at = static_cast<std::size_t>(i);
    // Causal: a query sees keys up to itself; in key mode the queries before the key cannot see it.
    const bool seen = keyMode ? i >= focus : i <= focus;
    const float shade = seen && i < static_cast<int>(m_weights.size()) && m_maxWeight > 0
                            ? m_weights[at] / m_maxWeight
                            : -1.0f;
    paintToken(painter, *it, m_text.value(i), shade, map, i == focus, seen, palette().color(QPalette::Text),
               palette().color(QPalette::PlaceholderText));
    // Over the shade, which fills the token: a bar along the top of every match, an outline round the
    // current.
    if (at < m_inMatch.size() && m_inMatch[at])
      painter.fillRect(it->left(), it->top(), it->width(), 3, kMatch);
    if (i >= current.first && i <= current.last) {
      painter.setPen(QPen(kMatch.darker(160), 1));
      painter.drawRect(it->adjusted(0, 0, -1, -1));
    }
    if (at < m_inTarget.size() && m_inTarget[at]) underlineTarget(painter, *it);
  }
}

void TokensView::resizeEvent(QResizeEvent* event) {
  QAbstractScrollArea::resizeEvent(event);
  const QRect frame = contentsRect();
  const int strip = viewport()->geometry().top() - frame.top();
  const int button = m_keyMode->sizeHint().width();
  const int right = viewport()->geometry().right();  // left of the scroll bar, which spans the strip too
  const int find = std::min(kFindWidth, frame.width() / 3);
  m_caption->setGeometry(frame.left(), frame.top(), std::max(0, right - frame.left() - find - button - 4),
                         strip);
  m_find->setGeometry(right - find - button - 2, frame.top(), find, strip);
  m_keyMode->setGeometry(right - button, frame.top(), button, strip);
  relayout();
}

void TokensView::mousePressEvent(QMouseEvent* event) {
  const int token = tokenAt(event->pos());
  if (event->button() != Qt::LeftButton || token < 0) return;
  if (m_mode == Mode::Key)
    setKey(token);
  else
    m_document->setQuery(token);
}

bool TokensView::viewportEvent(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const int token = tokenAt(help->pos());
    if (token < 0) {
      QToolTip::hideText();
    } else {
      QString text = tr("token %1 «%2»").arg(token).arg(m_document->displayToken(token));
      const double weight =
          token < static_cast<int>(m_weights.size()) ? m_weights[static_cast<std::size_t>(token)] : 0.0;
      if (token < static_cast<int>(m_weights.size()))
        text += m_mode == Mode::Key ? tr("\nattention to key %1: %2").arg(m_key).arg(weight, 0, 'g', 4)
                                    : tr("\nattention from query %1: %2")
                                          .arg(m_document->selection().query)
                                          .arg(weight, 0, 'g', 4);
      if (token < static_cast<int>(m_inTarget.size()) && m_inTarget[static_cast<std::size_t>(token)])
        text += tr("\ntarget token (--targets)");
      QToolTip::showText(help->globalPos(), text, viewport());
    }
    return true;
  }
  return QAbstractScrollArea::viewportEvent(event);
}

bool TokensView::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_find && event->type() == QEvent::KeyPress) {
    auto* key = static_cast<QKeyEvent*>(event);
    if (key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter) {
      findNext(key->modifiers() & Qt::ShiftModifier);
      return true;
    }
    if (key->key() == Qt::Key_Escape) {
      viewport()->setFocus();
      return true;
    }
  }
  return QAbstractScrollArea::eventFilter(watched, event);
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
  content.keyMode = m_mode == Mode::Key;
  content.colorMap = savedColorMap();
  content.targets = m_inTarget;
  content.query = content.keyMode ? m_key : m_document->selection().query;
  content.font = font();
  return std::make_unique<TokensFigure>(std::move(content));
}

CsvTable TokensView::exportTable() const {
  CsvTable table;
  // Query mode lists the query's row (one line per key), key mode the key's column (one line per query).
  table.header = m_mode == Mode::Key
                     ? QStringList{"query", "token", QStringLiteral("attention to key %1").arg(m_key)}
                     : QStringList{"key", "token", "attention"};
  for (std::size_t i = 0; i < m_weights.size(); ++i)
    table.rows << QStringList{QString::number(i), m_document->tokens().value(static_cast<int>(i)),
                              QString::number(static_cast<double>(m_weights[i]))};
  return table;
}

}  // namespace attnscope::widgets
