#pragma once
// The prompt as running text for the tokens view and its export: one layout of tokens (each as wide as its
// text, no gap between tokens, so byte-level tokens read as words) and a figure that paints every token,
// shaded on the chosen colour map by the attention it receives from one query, with a title, a colour legend
// and page numbers, wrapped to the chosen width and paged to the chosen height (or one tall page).

#include <QColor>
#include <QFont>
#include <QRect>
#include <QStringList>

#include <vector>

#include "colormaps.h"
#include "plotexport.h"

class QFontMetrics;
class QPainter;

namespace attnscope::widgets {

class CaptureDocument;

/// The outline of the query token.
inline const QColor kQueryOutline(255, 42, 109);

/// Token i as running text: the drawn token (attnscope::displayToken) with spaces as spaces.
QString runningToken(const CaptureDocument& document, int i);

/// Where each token goes when tokens are laid out as running text.
struct TokenLayout {
  std::vector<QRect> rects;  // per token, sorted by line; lines start at y = 0
  int height = 0;            // of the text
  int lineHeight = 0;        // of a line including the gap to the next
};

/// Lays out text (running tokens) in lines of `width` pixels starting at x = x0: each token as wide as its
/// text (at least a few pixels, so that every token can be seen and clicked), no gap between tokens, a new
/// line after a token that holds a newline (raw: the token's own text) or is drawn ending in "↵".
TokenLayout layoutTokens(const QStringList& text, const QStringList& raw, const QFontMetrics& metrics, int x0,
                         int width);

/// Paints one token in rect: its shade (weight / largest, coloured on the map; < 0: none), the query outline,
/// its text (grey when the query cannot see it; on a shade, black or white, whichever reads).
void paintToken(QPainter& painter, const QRect& rect, const QString& text, float shade, ColorMapName map,
                bool isQuery, bool visible, const QColor& textColor, const QColor& hiddenColor);

/// Underlines a token of the run's target (--targets) ranges, in the view and in the figure alike.
void underlineTarget(QPainter& painter, const QRect& rect);

/// What the tokens figure shows: every token and the selected query's attention to each.
struct TokensFigureContent {
  QString title;               // e.g. "Attention from query 12 «x» · softmax · layer 0 · head 1"
  QString note;                // why there are no weights (empty when there are)
  QStringList text, raw;       // running tokens and their own text, [T]
  std::vector<float> weights;  // [T] attention of the query to each key (key mode: of each query to the key)
  int query = 0;               // the outlined token: the query, or in key mode the key
  bool keyMode = false;  // weights are each query's attention to the key; tokens before it cannot see it
  ColorMapName colorMap = ColorMapName::Viridis;  // the user's choice (savedColorMap) when exported
  std::vector<char> targets;                      // [T] or empty: the token lies in a --targets range
  QFont font;
};

/// The tokens view as a figure to export (see the file comment).
class TokensFigure : public Figure {
 public:
  explicit TokensFigure(TokensFigureContent content);

  int layout(const QSize& page, bool tall) override;
  QSize pageSize() const override { return m_page; }
  void paintPage(QCPPainter& painter, int i) const override;
  /// The first token of each page of the last layout (tests read it: together they cover every token).
  const std::vector<int>& pageStarts() const { return m_pageStarts; }

 private:
  int headerHeight() const;

  TokensFigureContent m_content;
  float m_largest = 0;
  TokenLayout m_tokens;
  QSize m_page;
  std::vector<int> m_pageStarts;  // first token of each page
  std::vector<int> m_pageTops;    // y of each page's first line in the layout
};

}  // namespace attnscope::widgets
