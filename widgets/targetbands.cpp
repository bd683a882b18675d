#include "targetbands.h"

#include <algorithm>
#include <cmath>

#include "colormaps.h"

namespace attnscope::widgets {
namespace {

constexpr int kThickness = 6;  // across the axis
constexpr int kMinLength = 4;  // along the axis: one token of a 64k map still shows
const QColor kEdge(20, 20, 20);

}  // namespace

TargetBands::TargetBands(QCustomPlot* plot) : QCPAbstractItem(plot) {
  setAntialiased(false);             // whole pixels: the band's ends are the cells' edges
  setLayer(QStringLiteral("axes"));  // over the ticks that point into the map
}

void TargetBands::setRanges(TokenRanges ranges) {
  m_ranges = std::move(ranges);
}

bool TargetBands::contains(int64_t token) const {
  return std::any_of(m_ranges.begin(), m_ranges.end(),
                     [token](const auto& range) { return token >= range.first && token < range.second; });
}

std::pair<int, int> TargetBands::span(const QCPAxis* axis, int64_t begin, int64_t end, int from, int to) {
  // Token t covers [t − 0.5, t + 0.5) in plot coordinates (the colour map's cells).
  const double a = axis->coordToPixel(static_cast<double>(begin) - 0.5);
  const double b = axis->coordToPixel(static_cast<double>(end) - 0.5);
  int lo = static_cast<int>(std::lround(std::min(a, b)));
  int hi = static_cast<int>(std::lround(std::max(a, b))) - 1;
  if (hi < from || lo > to) return {1, 0};
  if (hi - lo + 1 < kMinLength) {
    const int grow = kMinLength - (hi - lo + 1);
    lo -= grow / 2;
    hi += grow - grow / 2;
  }
  return {std::max(lo, from), std::min(hi, to)};
}

void TargetBands::draw(QCPPainter* painter) {
  m_keyBands.clear();
  m_queryBands.clear();
  m_legendBox = {};
  QCPAxisRect* rect = clipAxisRect();
  if (!rect || !m_shown || m_ranges.empty()) return;
  const QRect area = rect->rect();
  const QCPAxis* keys = rect->axis(QCPAxis::atBottom);
  const QCPAxis* queries = rect->axis(QCPAxis::atLeft);
  for (const auto& [begin, end] : m_ranges) {
    if (end <= begin) continue;
    const auto [x0, x1] = span(keys, begin, end, area.left(), area.right());
    if (x0 <= x1) m_keyBands.emplace_back(x0, area.bottom() - kThickness + 1, x1 - x0 + 1, kThickness);
    const auto [y0, y1] = span(queries, begin, end, area.top(), area.bottom());
    if (y0 <= y1) m_queryBands.emplace_back(area.left(), y0, kThickness, y1 - y0 + 1);
  }
  painter->save();
  painter->setAntialiasing(false);
  // A dark edge towards the map: the band reads on light and dark cells of every colour map.
  for (const QRect& band : m_keyBands) {
    painter->fillRect(band.adjusted(0, -1, 0, 0), kEdge);
    painter->fillRect(band, targetColor());
  }
  for (const QRect& band : m_queryBands) {
    painter->fillRect(band.adjusted(0, 0, 1, 0), kEdge);
    painter->fillRect(band, targetColor());
  }
  drawLegend(painter, area);
  painter->restore();
}

void TargetBands::drawLegend(QCPPainter* painter, const QRect& area) {
  // Top right: the keys a causal map masks, so the legend hides no attention.
  const QString text = QObject::tr("target (--targets)");
  const QFontMetrics metrics(mParentPlot->font());
  const int swatch = 14, pad = 4;
  const QSize size(pad + swatch + pad + metrics.horizontalAdvance(text) + pad, metrics.height() + 2 * pad);
  const QRect box(area.right() - size.width() - 3, area.top() + 3, size.width(), size.height());
  if (box.left() < area.left() + kThickness || box.bottom() > area.bottom() - kThickness) return;
  m_legendBox = box;
  painter->setPen(QPen(QColor(120, 120, 120), 1));
  painter->setBrush(QColor(255, 255, 255, 230));
  painter->drawRect(box);
  const QRect sample(box.left() + pad, box.center().y() - kThickness / 2, swatch, kThickness);
  painter->fillRect(sample.adjusted(0, -1, 0, 0), kEdge);
  painter->fillRect(sample, targetColor());
  painter->setFont(mParentPlot->font());
  painter->setPen(Qt::black);
  painter->drawText(
      QRect(sample.right() + pad + 1, box.top(), box.right() - sample.right() - pad, box.height()),
      Qt::AlignVCenter | Qt::AlignLeft, text);
}

}  // namespace attnscope::widgets
