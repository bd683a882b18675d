#include "headsfigure.h"

#include <QTimer>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/store.h"
#include "capturedocument.h"
#include "colormaps.h"

namespace attnscope::widgets {
namespace {

constexpr double kLogFloor = 1e-4;  // as in HeatmapWidget: the lowest probability the log scale shows
constexpr int kSpacing = 3;         // pixels between small maps
// Room the labels and the colour scale take, for sizing: row labels left, scale right, title and head labels
// above.
constexpr int kLabelWidth = 70, kScaleWidth = 90, kTitleHeight = 56;
constexpr int kMinHeight = 240;  // room for the colour scale's label

/// A row label: as wide as its text and as tall as its row (a plain text element would cap the row at one
/// line).
class RowLabel : public QCPTextElement {
 public:
  using QCPTextElement::QCPTextElement;

 protected:
  QSize maximumOuterSizeHint() const override { return {minimumOuterSizeHint().width(), QWIDGETSIZE_MAX}; }
};

/// Hides ticks and grid: a small map is a frame around its cells.
void styleFrame(QCPAxisRect* rect, double n_tokens) {
  for (QCPAxis* axis : rect->axes()) {
    axis->setVisible(true);
    axis->setTicks(false);
    axis->setTickLabels(false);
    axis->setBasePen(QPen(QColor(140, 140, 140)));
    axis->grid()->setVisible(false);
    axis->setRange(-0.5, n_tokens - 0.5);
  }
  rect->axis(QCPAxis::atLeft)->setRangeReversed(true);  // query 0 at the top, like the heatmap
  rect->setAutoMargins(QCP::msNone);
  rect->setMargins(QMargins(0, 0, 0, 0));
  rect->setMinimumSize(8, 8);
}

void fillMap(QCPColorMap* map, const MapTile& tile, bool log) {
  const int rows = static_cast<int>(tile.rows()), columns = static_cast<int>(tile.columns());
  const double s = static_cast<double>(tile.request.span()), centre = (s - 1) / 2;
  QCPColorMapData* data = map->data();
  data->setSize(columns, rows);
  data->setRange(QCPRange(tile.request.c0 * s + centre, (tile.request.c1 - 1) * s + centre),
                 QCPRange(tile.request.r0 * s + centre, (tile.request.r1 - 1) * s + centre));
  for (int r = 0; r < rows; ++r) {
    const float* row = tile.values.data() + static_cast<std::size_t>(r) * columns;
    for (int c = 0; c < columns; ++c) {
      const double v = std::isfinite(row[c]) ? row[c] : 0.0;
      data->setCell(c, r, log ? std::max(v, kLogFloor) : v);
    }
  }
}

/// Max-pools a whole-map tile 2 × 2 into the next level, as the store's pyramid would.
MapTile poolTile(const MapTile& tile) {
  MapTile pooled;
  pooled.request = tile.request;
  pooled.request.level = tile.request.level + 1;
  pooled.request.r1 = (tile.request.r1 + 1) / 2;
  pooled.request.c1 = (tile.request.c1 + 1) / 2;
  const int64_t rows = pooled.rows(), columns = pooled.columns();
  pooled.values.assign(static_cast<std::size_t>(rows * columns), -std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < tile.rows(); ++r)
    for (int64_t c = 0; c < tile.columns(); ++c) {
      float& cell = pooled.values[static_cast<std::size_t>(r / 2 * columns + c / 2)];
      cell = std::max(cell, tile.values[static_cast<std::size_t>(r * tile.columns() + c)]);
    }
  return pooled;
}

}  // namespace

int headsFigureCellPixels(const QSize& figure, double scale, int n_layer, int n_head) {
  const int width = (figure.width() - kLabelWidth - kScaleWidth) / std::max(1, n_head) - kSpacing;
  const int height = (figure.height() - kTitleHeight) / std::max(1, n_layer) - kSpacing;
  return std::max(4, static_cast<int>(std::floor(std::min(width, height) * scale)));
}

QSize headsFigureSize(int n_layer, int n_head, int cell) {
  if (n_layer <= 0 || n_head <= 0) return {600, 400};
  return {kLabelWidth + kScaleWidth + n_head * (cell + kSpacing),
          std::max(kMinHeight, kTitleHeight + n_layer * (cell + kSpacing))};
}

std::vector<MapTile> readHeadOverviews(const CaptureFile& file, const std::string& run, int n_layer,
                                       int n_head, const std::vector<bool>& heads, int cell_px,
                                       const std::function<bool()>& cancelled) {
  std::vector<MapTile> tiles(static_cast<std::size_t>(n_layer) * n_head);
  const int64_t n = file.nTokens();
  const TokenWindow whole{0, n, 0, n};
  for (int layer = 0; layer < n_layer; ++layer)
    for (int head = 0; head < n_head; ++head) {
      const std::size_t i = static_cast<std::size_t>(layer) * n_head + head;
      if (i >= heads.size() || !heads[i]) continue;
      const std::string hook = CaptureDocument::patternHook(layer);
      const int levels = static_cast<int>(file.mapLevels(run, hook, head));
      // Stored levels stop at 256 cells a side; smaller maps pool the coarsest one further.
      const int wanted = chooseLevel(whole, cell_px, cell_px, 62);
      TileRequest request = planTile(whole, std::clamp(wanted, 0, std::max(0, levels - 1)), n, 0.0);
      request.run = run;
      request.hook = hook;
      request.head = head;
      MapTile tile = readTile(file, request, cancelled);
      if (cancelled && cancelled()) return {};
      while (tile.request.level < wanted && (tile.rows() > 1 || tile.columns() > 1)) tile = poolTile(tile);
      tiles[i] = std::move(tile);
    }
  return tiles;
}

HeadsFigure::HeadsFigure(CaptureDocument* document, QWidget* parent)
    : QWidget(parent), m_document(document), m_plot(new QCustomPlot(this)), m_reload(new QTimer(this)) {
  m_plot->setMinimumSize(200, 150);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_plot);
  // Deferred, so that settings made right after construction (cell size, log scale) cost one read, not
  // several.
  m_reload->setSingleShot(true);
  m_reload->setInterval(0);
  connect(m_reload, &QTimer::timeout, this, &HeadsFigure::reload);
  connect(m_document, &CaptureDocument::documentChanged, m_reload, qOverload<>(&QTimer::start));
  connect(m_document, &CaptureDocument::selectionChanged, this, &HeadsFigure::onSelectionChanged);
  // The colour map the user chose (Colours, on the heatmap): the tiles are read, only the colours change.
  connect(ColorMapSetting::instance(), &ColorMapSetting::changed, this, [this] {
    if (!m_tiles.empty()) rebuild();
  });
  m_reload->start();
}

void HeadsFigure::setCellPixels(int pixels) {
  if (pixels == m_cellPixels) return;
  m_cellPixels = std::max(1, pixels);
  m_reload->start();
}

void HeadsFigure::setLogScale(bool log) {
  if (log == m_log) return;
  m_log = log;
  if (!isLoading()) rebuild();
}

bool HeadsFigure::isLoading() const {
  return m_jobs.isRunning() || m_reload->isActive();
}

QRect HeadsFigure::cellRect(int layer, int head) const {
  if (layer < 0 || layer >= m_nLayer || head < 0 || head >= m_nHead || m_rects.empty()) return {};
  return m_rects[static_cast<std::size_t>(layer) * m_nHead + head]->rect();
}

const MapTile& HeadsFigure::tile(int layer, int head) const {
  static const MapTile none;
  if (layer < 0 || layer >= m_nLayer || head < 0 || head >= m_nHead || m_tiles.empty()) return none;
  return m_tiles[static_cast<std::size_t>(layer) * m_nHead + head];
}

void HeadsFigure::onSelectionChanged(const Selection& selection) {
  if (selection.run != m_run) m_reload->start();
}

void HeadsFigure::reload() {
  m_jobs.cancel();
  m_tiles.clear();
  auto file = m_document->file();
  const RunInfo* run = m_document->currentRun();
  if (!file || !run) {
    m_run.clear();
    m_nLayer = m_nHead = 0;
    rebuild(tr("Open a capture file"));
    Q_EMIT contentReady();
    return;
  }
  m_run = m_document->selection().run;
  m_nLayer = static_cast<int>(run->n_layer);
  m_nHead = static_cast<int>(run->n_head);
  std::vector<bool> heads(static_cast<std::size_t>(m_nLayer) * m_nHead);
  for (int layer = 0; layer < m_nLayer; ++layer)
    for (int head = 0; head < m_nHead; ++head)
      heads[static_cast<std::size_t>(layer) * m_nHead + head] = m_document->hasMap(m_run, layer, head);
  m_jobs.startJob(
      [file, run = m_run.toStdString(), n_layer = m_nLayer, n_head = m_nHead, heads,
       px = m_cellPixels](const CancelCheck& cancelled) {
        return readHeadOverviews(*file, run, n_layer, n_head, heads, px, cancelled);
      },
      [this](std::vector<MapTile> tiles) {
        m_tiles = std::move(tiles);
        rebuild();
        Q_EMIT contentReady();
      },
      [this](const QString& error) {
        rebuild(error);
        Q_EMIT contentReady();
      });
}

void HeadsFigure::rebuild(const QString& message) {
  m_plot->clearItems();
  m_plot->clearPlottables();
  m_plot->plotLayout()->clear();
  m_rects.clear();
  const QFont base = font();
  QFont small = base;
  small.setPointSizeF(base.pointSizeF() * 0.85);
  const RunInfo* run = m_document->runInfo(m_run);
  const auto maps = std::find_if(m_tiles.begin(), m_tiles.end(), [](const MapTile& t) { return !t.empty(); });
  const QString normalizer = run ? normalizerLabel(run->normalizer) : QString();
  QString title = !run ? QString()
                       : tr("%1 · every head · %2 tokens")
                             .arg(normalizer == m_run ? m_run : tr("%1 [%2]").arg(m_run, normalizer))
                             .arg(m_document->nTokens());
  // The pooling note gets a line of its own: on one line a grid of few heads would cut the title.
  if (maps != m_tiles.end() && maps->request.level > 0)
    title += QLatin1Char('\n') + tr("each cell: largest of %1 × %1 tokens").arg(maps->request.span());
  m_plot->plotLayout()->addElement(
      0, 0, new QCPTextElement(m_plot, title, QFont(base.family(), base.pointSize() + 1, QFont::Bold)));
  // The body sits in one column under the title, so a long title may use the colour scale's width too.
  auto* body = new QCPLayoutGrid;
  body->setAutoMargins(QCP::msNone);
  body->setMargins(QMargins(2, 0, 2, 4));  // frames on the figure's edge would be cut in half
  m_plot->plotLayout()->addElement(1, 0, body);
  if (m_tiles.empty()) {
    body->addElement(0, 0, new QCPTextElement(m_plot, message, base));
    m_plot->replot();
    return;
  }

  auto* scale = new QCPColorScale(m_plot);
  scale->setType(QCPAxis::atRight);
  scale->setBarWidth(12);
  scale->setGradient(sequentialGradient(savedColorMap()));
  scale->setDataScaleType(m_log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  scale->setDataRange(m_log ? QCPRange(kLogFloor, 1) : QCPRange(0, 1));
  scale->axis()->setTicker(m_log ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                 : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  scale->axis()->setNumberFormat(m_log ? QStringLiteral("eb") : QStringLiteral("gb"));
  scale->axis()->setNumberPrecision(m_log ? 0 : 2);
  scale->axis()->setLabel(tr("attention probability"));
  scale->axis()->setLabelFont(small);

  auto* grid = new QCPLayoutGrid;
  body->addElement(0, 0, grid);
  body->addElement(0, 1, scale);
  grid->setRowSpacing(kSpacing);
  grid->setColumnSpacing(kSpacing);
  const bool wordy = m_nHead <= 12;  // "head 7" above each column while it fits, else the number alone
  grid->addElement(0, 0, new QCPTextElement(m_plot, wordy ? QString() : tr("head →"), small));
  for (int head = 0; head < m_nHead; ++head)
    grid->addElement(
        0, head + 1,
        new QCPTextElement(m_plot, wordy ? tr("head %1").arg(head) : QString::number(head), small));
  const double n = std::max(1, m_document->nTokens());
  for (int layer = 0; layer < m_nLayer; ++layer) {
    grid->addElement(layer + 1, 0, new RowLabel(m_plot, tr("layer %1").arg(layer), small));
    for (int head = 0; head < m_nHead; ++head) {
      auto* rect = new QCPAxisRect(m_plot, true);
      styleFrame(rect, n);
      grid->addElement(layer + 1, head + 1, rect);
      m_rects.push_back(rect);
      const MapTile& tile = m_tiles[static_cast<std::size_t>(layer) * m_nHead + head];
      if (tile.empty()) {
        auto* label = new QCPItemText(m_plot);
        label->setClipAxisRect(rect);
        label->position->setType(QCPItemPosition::ptAxisRectRatio);
        label->position->setAxisRect(rect);
        label->position->setCoords(0.5, 0.5);
        label->setFont(small);
        label->setColor(QColor(110, 110, 110));
        label->setText(tr("no map"));
        continue;
      }
      auto* map = new QCPColorMap(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
      map->setInterpolate(false);  // cells stay crisp: the level has no more cells than the map has pixels
      map->setTightBoundary(false);
      map->setColorScale(scale);  // one scale for every map: colours compare across heads
      fillMap(map, tile, m_log);
    }
  }
  m_plot->replot();
}

QWidget* HeadsFigure::exportWidget() const {
  return m_plot;
}

CsvTable HeadsFigure::exportTable() const {
  CsvTable table;
  table.header = QStringList{"run", "layer", "head", "has_map", "level", "cells", "max_probability"};
  for (int layer = 0; layer < m_nLayer && !m_tiles.empty(); ++layer)
    for (int head = 0; head < m_nHead; ++head) {
      const MapTile& t = tile(layer, head);
      const float largest = t.empty() ? 0.0f : *std::max_element(t.values.begin(), t.values.end());
      table.rows << QStringList{m_run,
                                QString::number(layer),
                                QString::number(head),
                                t.empty() ? QStringLiteral("0") : QStringLiteral("1"),
                                t.empty() ? QString() : QString::number(t.request.level),
                                t.empty() ? QString() : QString::number(t.rows()),
                                t.empty() ? QString() : QString::number(static_cast<double>(largest))};
    }
  return table;
}

}  // namespace attnscope::widgets
