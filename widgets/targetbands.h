#pragma once
// The run's target (--targets, the needle) token ranges marked along a heatmap's axes: a band inside the
// bottom edge under the target keys and one inside the left edge beside the target queries, each at least a
// few pixels long so that a target of one token still shows on a map of thousands, and a small legend
// naming the mark "target". It is an item of the heatmap's QCustomPlot, so exports draw it too.

#include <qcustomplot.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace attnscope::widgets {

/// Token ranges [begin, end) as the capture stores them (RunInfo::targets).
using TokenRanges = std::vector<std::pair<int64_t, int64_t>>;

class TargetBands : public QCPAbstractItem {
 public:
  /// Marks along the key (x) and query (y) axes of plot's main axis rect.
  explicit TargetBands(QCustomPlot* plot);

  void setRanges(TokenRanges ranges);
  /// Draws the marks or not (nothing to mark: no map on screen); the item itself stays visible, so that each
  /// replot renews keyBands() and queryBands().
  void setShown(bool shown) { m_shown = shown; }
  const TokenRanges& ranges() const { return m_ranges; }
  /// Whether a token lies in one of the ranges.
  bool contains(int64_t token) const;
  /// The drawn bands in plot pixels as of the last replot: under the keys (bottom) and beside the queries
  /// (left), one per range on screen.
  const std::vector<QRect>& keyBands() const { return m_keyBands; }
  const std::vector<QRect>& queryBands() const { return m_queryBands; }
  /// The legend's box in plot pixels as of the last replot (empty when there was no room or no target).
  QRect legendBox() const { return m_legendBox; }

  double selectTest(const QPointF&, bool, QVariant* = nullptr) const override { return -1; }

 protected:
  void draw(QCPPainter* painter) override;

 private:
  /// The pixel span [lo, hi] of tokens [begin, end) on axis, clipped to [from, to] and widened to the least
  /// visible length; empty (lo > hi) when the range is off screen.
  static std::pair<int, int> span(const QCPAxis* axis, int64_t begin, int64_t end, int from, int to);
  void drawLegend(QCPPainter* painter, const QRect& area);

  TokenRanges m_ranges;
  std::vector<QRect> m_keyBands, m_queryBands;
  QRect m_legendBox;
  bool m_shown = true;
};

}  // namespace attnscope::widgets
