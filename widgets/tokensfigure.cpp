#include "tokensfigure.h"

#include <QFontMetrics>
#include <QLinearGradient>
#include <QPainter>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "capturedocument.h"

namespace attnscope::widgets {
namespace {

constexpr int kPadding = 3;   // above and below a token's text
constexpr int kLineGap = 3;   // between lines
constexpr int kMinWidth = 4;  // of a token whose text is (nearly) empty
constexpr int kMargin = 16;   // around the figure
constexpr int kLegendBar = 160;
const QColor kHiddenText(150, 150, 150);

QFont boldTitle(const QFont& font) {
  QFont title = font;
  title.setBold(true);
  title.setPixelSize(font.pixelSize() + 1);
  return title;
}

/// The font in pixels: a PDF page (72 points per inch) then draws tokens as wide as the layout measured them
/// (a font in points would shrink by 72/96 and open gaps between tokens).
QFont pixelFont(QFont font) {
  if (font.pixelSize() <= 0) font.setPixelSize(qRound(font.pointSizeF() * 96.0 / 72.0));
  return font;
}

}  // namespace

QString runningToken(const CaptureDocument& document, int i) {
  QString text = document.displayToken(i);
  text.replace(QChar(0x2423), QLatin1Char(' '));
  return text;
}

TokenLayout layoutTokens(const QStringList& text, const QStringList& raw, const QFontMetrics& metrics, int x0,
                         int width) {
  TokenLayout layout;
  const int line = metrics.height() + 2 * kPadding;
  layout.lineHeight = line + kLineGap;
  layout.rects.assign(static_cast<std::size_t>(text.size()), QRect());
  const int right = x0 + std::max(width, 1);
  int x = x0, y = 0;
  for (int i = 0; i < text.size(); ++i) {
    const int w = std::max(kMinWidth, metrics.horizontalAdvance(text[i]));
    if (x + w > right && x > x0) x = x0, y += layout.lineHeight;
    layout.rects[static_cast<std::size_t>(i)] = QRect(x, y, w, line);
    x += w;
    // A newline ends the line; captures that store drawn tokens hold it as "↵".
    if (raw.value(i).contains(QLatin1Char('\n')) || text[i].endsWith(QChar(0x21B5)))
      x = x0, y += layout.lineHeight;
  }
  layout.height = text.isEmpty() ? 0 : y + line;
  return layout;
}

void paintToken(QPainter& painter, const QRect& rect, const QString& text, float shade, ColorMapName map,
                bool isQuery, bool visible, const QColor& textColor, const QColor& hiddenColor) {
  QColor ink = visible ? textColor : hiddenColor;
  if (shade >= 0) {
    const QColor fill = sequentialColor(map, shade);
    painter.fillRect(rect, fill);
    ink = textColorOn(fill);
  }
  if (isQuery) {
    painter.setPen(QPen(kQueryOutline, 2));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(QRectF(rect).adjusted(1, 1, -1, -1));
  }
  painter.setPen(ink);
  painter.drawText(rect, Qt::AlignVCenter | Qt::AlignLeft | Qt::TextDontClip, text);
}

void underlineTarget(QPainter& painter, const QRect& rect) {
  painter.setPen(QPen(targetColor(), 2));
  painter.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom());
}

TokensFigure::TokensFigure(TokensFigureContent content) : m_content(std::move(content)) {
  m_content.font = pixelFont(m_content.font);
  for (float w : m_content.weights)
    if (std::isfinite(w)) m_largest = std::max(m_largest, w);
}

int TokensFigure::headerHeight() const {
  const QFontMetrics title(boldTitle(m_content.font)), body(m_content.font);
  const QRect wrapped =
      title.boundingRect(QRect(0, 0, m_page.width() - 2 * kMargin, 10000), Qt::TextWordWrap, m_content.title);
  return kMargin + wrapped.height() + 8 + 2 * (body.height() + 4) + 10;  // title, two legend lines, gap
}

int TokensFigure::layout(const QSize& page, bool tall) {
  m_page = page;
  const QFontMetrics metrics(m_content.font);
  m_tokens = layoutTokens(m_content.text, m_content.raw, metrics, kMargin, page.width() - 2 * kMargin);
  const int header = headerHeight(), footer = metrics.height() + kMargin;
  m_pageStarts.assign(1, 0);
  m_pageTops.assign(1, 0);
  if (tall) {
    m_page.setHeight(std::max(page.height(), header + m_tokens.height + footer));
    return 1;
  }
  // Pages break between lines: a page holds the lines whose bottom fits under its header.
  const int room = std::max(m_tokens.lineHeight, page.height() - header - footer);
  for (std::size_t i = 0; i < m_tokens.rects.size(); ++i) {
    const QRect& r = m_tokens.rects[i];
    if (r.bottom() - m_pageTops.back() >= room && r.top() > m_pageTops.back()) {
      m_pageStarts.push_back(static_cast<int>(i));
      m_pageTops.push_back(r.top());
    }
  }
  return static_cast<int>(m_pageStarts.size());
}

void TokensFigure::paintPage(QCPPainter& painter, int i) const {
  const int n_pages = static_cast<int>(m_pageStarts.size()), n = m_content.text.size();
  if (i < 0 || i >= n_pages) return;
  painter.save();
  painter.fillRect(QRect(QPoint(0, 0), m_page), Qt::white);
  const QFontMetrics metrics(m_content.font);
  const int width = m_page.width() - 2 * kMargin;

  // Title, wrapped.
  painter.setFont(boldTitle(m_content.font));
  painter.setPen(Qt::black);
  const QRect title = painter.boundingRect(QRect(kMargin, kMargin, width, 10000),
                                           Qt::TextWordWrap | Qt::AlignLeft, m_content.title);
  painter.drawText(title, Qt::TextWordWrap | Qt::AlignLeft, m_content.title);

  // Legend: the shade's scale from 0 to the largest weight, the query outline, hidden keys.
  painter.setFont(m_content.font);
  int x = kMargin;
  int y = title.bottom() + 8;
  const int h = metrics.height();
  const auto text = [&](const QString& s, const QColor& color) {
    painter.setPen(color);
    painter.drawText(QRect(x, y, metrics.horizontalAdvance(s) + 2, h), Qt::AlignVCenter, s);
    x += metrics.horizontalAdvance(s) + 8;
  };
  if (m_largest > 0) {
    text(m_content.keyMode ? QObject::tr("attention given to the key: 0")
                           : QObject::tr("attention received: 0"),
         Qt::black);
    QLinearGradient gradient(x, 0, x + kLegendBar, 0);
    for (int stop = 0; stop <= 10; ++stop)
      gradient.setColorAt(stop / 10.0, sequentialColor(m_content.colorMap, stop / 10.0));
    painter.setPen(QPen(QColor(120, 120, 120), 1));
    painter.setBrush(gradient);
    painter.drawRect(QRect(x, y + 2, kLegendBar, h - 4));
    x += kLegendBar + 6;
    text(QString::number(static_cast<double>(m_largest), 'g', 3), Qt::black);
  } else {
    text(m_content.note.isEmpty() ? QObject::tr("no attention weights") : m_content.note, Qt::black);
  }
  const QString focus = m_content.keyMode ? QObject::tr("key") : QObject::tr("query");
  const QRect sample(x, y, metrics.horizontalAdvance(focus) + 6, h + 2);
  paintToken(painter, sample, QStringLiteral(" ") + focus, -1, m_content.colorMap, true, true, Qt::black,
             kHiddenText);
  x = kMargin;  // a line of its own, so that narrow pages keep it
  y += h + 4;
  text(m_content.keyMode ? QObject::tr("grey: before the key, cannot see it")
                         : QObject::tr("grey: after the query, not visible to it"),
       kHiddenText);
  if (std::find(m_content.targets.begin(), m_content.targets.end(), 1) != m_content.targets.end()) {
    const QString target = QObject::tr("target (--targets)");
    underlineTarget(painter, QRect(x, y, metrics.horizontalAdvance(target), h + 2));
    text(target, Qt::black);
  }

  // Tokens of this page.
  const int top = headerHeight(), first = m_pageStarts[static_cast<std::size_t>(i)];
  const int last = i + 1 < n_pages ? m_pageStarts[static_cast<std::size_t>(i) + 1] : n;  // exclusive
  const int shift = top - m_pageTops[static_cast<std::size_t>(i)];
  for (int t = first; t < last; ++t) {
    const QRect rect = m_tokens.rects[static_cast<std::size_t>(t)].translated(0, shift);
    const bool seen = m_content.keyMode ? t >= m_content.query : t <= m_content.query;  // causal
    const float w = t < static_cast<int>(m_content.weights.size()) && seen && m_largest > 0
                        ? m_content.weights[static_cast<std::size_t>(t)] / m_largest
                        : -1.0f;
    paintToken(painter, rect, m_content.text[t], w, m_content.colorMap, t == m_content.query, seen, Qt::black,
               kHiddenText);
    if (t < static_cast<int>(m_content.targets.size()) && m_content.targets[static_cast<std::size_t>(t)])
      underlineTarget(painter, rect);
  }

  // Footer: which tokens this page holds, so a reader knows none is left out.
  const QString footer = n == 0         ? QObject::tr("no tokens")
                         : n_pages == 1 ? QObject::tr("all %1 tokens").arg(n)
                                        : QObject::tr("tokens %1–%2 of %3 · page %4 of %5")
                                              .arg(first)
                                              .arg(last - 1)
                                              .arg(n)
                                              .arg(i + 1)
                                              .arg(n_pages);
  painter.setPen(QColor(90, 90, 90));
  painter.drawText(QRect(kMargin, m_page.height() - kMargin - h + 4, width, h), Qt::AlignRight, footer);
  painter.restore();
}

}  // namespace attnscope::widgets
