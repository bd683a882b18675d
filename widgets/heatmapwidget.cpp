#include "heatmapwidget.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QPushButton>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <cmath>

#include "capturedocument.h"
#include "colormaps.h"
#include "elidedlabel.h"

namespace attnscope::widgets {
namespace {

constexpr double kLogFloor = 1e-4;  // lowest probability the log scale shows; smaller values clamp to it

QString shortToken(const QString& text) {
  return text.size() > 12 ? text.left(11) + QChar(0x2026) : text;
}

}  // namespace

HeatmapWidget::HeatmapWidget(CaptureDocument* document, QWidget* parent, HeatmapRole role)
    : QWidget(parent),
      m_document(document),
      m_role(role),
      m_plot(new QCustomPlot(this)),
      m_log(new QCheckBox(tr("Log colour scale"), this)),
      m_reload(new QTimer(this)) {
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  m_plot->setMinimumSize(180, 200);  // three side by side in Compare still fit a 1280-px window
  m_plot->xAxis->setLabel(tr("key position"));
  m_plot->yAxis->setLabel(tr("query position"));
  m_plot->yAxis->setRangeReversed(true);  // query 0 at the top, like a matrix

  m_title =
      new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
  m_plot->plotLayout()->insertRow(0);
  m_plot->plotLayout()->addElement(0, 0, m_title);

  m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
  m_map->setInterpolate(false);  // one token per cell, never blurred
  m_map->setTightBoundary(false);
  m_map->setGradient(viridisGradient());
  m_scale = new QCPColorScale(m_plot);
  m_scale->setType(QCPAxis::atRight);
  m_scale->setBarWidth(14);
  m_scale->axis()->setLabel(role == HeatmapRole::Difference ? tr("probability difference")
                                                            : tr("attention probability"));
  m_plot->plotLayout()->addElement(1, 1, m_scale);
  m_map->setColorScale(m_scale);
  // A linked colour scale's gradient overrides the map's.
  m_scale->setGradient(role == HeatmapRole::Difference ? divergingGradient() : viridisGradient());
  m_log->setVisible(role != HeatmapRole::Difference);  // signed values have no log scale
  auto* margins = new QCPMarginGroup(m_plot);
  m_plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
  m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);

  m_message = new QCPItemText(m_plot);
  m_message->position->setType(QCPItemPosition::ptViewportRatio);  // the whole plot's width: narrow panels
  m_message->position->setCoords(0.5, 0.5);
  m_message->setClipToAxisRect(false);
  m_message->setVisible(false);
  m_queryMarker = new QCPItemRect(m_plot);
  m_queryMarker->setPen(QPen(QColor(255, 42, 109), 1.5));
  m_queryMarker->setVisible(false);

  auto* fit = new QPushButton(tr("Fit"), this);
  fit->setToolTip(tr("Show the whole map"));
  auto* controls = new QHBoxLayout;
  controls->addWidget(m_log);
  controls->addStretch(1);
  controls->addWidget(fit);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addLayout(controls);
  layout->addWidget(m_plot, 1);

  m_reload->setSingleShot(true);
  m_reload->setInterval(0);
  connect(m_reload, &QTimer::timeout, this, &HeatmapWidget::loadVisibleTile);
  connect(fit, &QPushButton::clicked, this, &HeatmapWidget::resetView);
  connect(m_log, &QCheckBox::toggled, this, &HeatmapWidget::applyScale);
  for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis})
    connect(axis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
      clampRanges();
      updateTickers();
      m_reload->start();
    });
  connect(m_plot, &QCustomPlot::afterLayout, this, [this] {
    // A new plot size may need another pyramid level and a different choice of token labels.
    const QSize size = m_plot->axisRect()->rect().size();
    m_message->setText(wrapText(m_message->property("message").toString(), QFontMetrics(m_message->font()),
                                m_plot->width() - 16));
    if (size == m_axisSize) return;
    m_axisSize = size;
    updateTickers();
    m_reload->start();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
  });
  connect(m_plot, &QCustomPlot::mouseMove, this, &HeatmapWidget::onMouseMove);
  connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) { m_pressPos = event->pos(); });
  connect(m_plot, &QCustomPlot::mouseRelease, this, &HeatmapWidget::onMouseRelease);
  connect(m_document, &CaptureDocument::documentChanged, this, &HeatmapWidget::onDocumentChanged);
  connect(m_document, &CaptureDocument::selectionChanged, this, &HeatmapWidget::onSelectionChanged);
  applyScale();
  onDocumentChanged();
  onSelectionChanged(m_document->selection());
}

void HeatmapWidget::setCompactTitle(bool compact) {
  m_compactTitle = compact;
  m_headKey.clear();  // rebuild the title
  onSelectionChanged(m_document->selection());
}

bool HeatmapWidget::logScale() const {
  return m_log->isChecked();
}

void HeatmapWidget::setLogScale(bool log) {
  m_log->setChecked(log);
}

bool HeatmapWidget::isLoading() const {
  return m_jobs.isRunning() || m_reload->isActive();
}

void HeatmapWidget::resetView() {
  const double n = std::max(1, m_document->nTokens());
  m_plot->xAxis->setRange(-0.5, n - 0.5);
  m_plot->yAxis->setRange(-0.5, n - 0.5);
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapWidget::onDocumentChanged() {
  m_headKey.clear();
  m_tile = {};
  m_map->data()->clear();
  resetView();
}

void HeatmapWidget::onSelectionChanged(const Selection& selection) {
  const QString key = QStringLiteral("%1/%2/%3/%4")
                          .arg(selection.run, m_role == HeatmapRole::Run ? QString() : selection.compareRun)
                          .arg(selection.layer)
                          .arg(selection.head);
  if (key != m_headKey) {
    m_headKey = key;
    m_jobs.cancel();  // a read for the previous head is stale
    m_tile = {};
    m_map->data()->clear();
    const QString runs = m_role == HeatmapRole::Difference
                             ? tr("%1 − %2").arg(selection.run, selection.compareRun)
                             : shownRun(selection);
    m_title->setText(!m_document->isOpen() || runs.isEmpty() ? QString()
                     : m_compactTitle
                         ? runs
                         : tr("%1 · layer %2 · head %3").arg(runs).arg(selection.layer).arg(selection.head));
    QString why;
    if (!canShow(selection, &why)) {
      showMessage(why);
    } else {
      showMessage({});
      m_reload->start();
    }
    if (m_message->visible()) QTimer::singleShot(0, this, &HeatmapWidget::contentReady);
  }
  updateQueryMarker();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QString HeatmapWidget::shownRun(const Selection& selection) const {
  return m_role == HeatmapRole::CompareRun ? selection.compareRun : selection.run;
}

bool HeatmapWidget::canShow(const Selection& selection, QString* why) const {
  if (!m_document->isOpen()) {
    *why = tr("Open a capture file (File → Open, or drop it here)");
    return false;
  }
  if (m_role != HeatmapRole::Run && selection.compareRun.isEmpty()) {
    *why = tr("Choose a run to compare with (toolbar: Compare with)");
    return false;
  }
  QStringList runs{shownRun(selection)};
  if (m_role == HeatmapRole::Difference) runs << selection.compareRun;
  for (const QString& run : runs)
    if (!m_document->hasMap(run, selection.layer, selection.head)) {
      *why = tr("No attention map stored for this head in %1.\nCapture with --maps all (or --maps %2.%3).")
                 .arg(run)
                 .arg(selection.layer)
                 .arg(selection.head);
      return false;
    }
  return true;
}

void HeatmapWidget::clampRanges() {
  const double n = std::max(1, m_document->nTokens());
  for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis}) {
    QCPRange range = axis->range();
    const double size = std::clamp(range.size(), std::min(4.0, n), n);
    if (range.lower < -0.5) range.lower = -0.5;
    if (range.lower + size > n - 0.5) range.lower = n - 0.5 - size;
    range.upper = range.lower + size;
    if (std::abs(range.lower - axis->range().lower) > 1e-9 ||
        std::abs(range.upper - axis->range().upper) > 1e-9)
      axis->setRange(range);  // re-enters through rangeChanged, then is a no-op
  }
}

TokenWindow HeatmapWidget::visibleWindow() const {
  const int64_t n = m_document->nTokens();
  const auto lo = [n](double x) {
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor(x + 0.5)), 0, n);
  };
  const auto hi = [n](double x) {
    return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(x + 0.5)), 0, n);
  };
  const QCPRange x = m_plot->xAxis->range(), y = m_plot->yAxis->range();
  return {lo(y.lower), hi(y.upper), lo(x.lower), hi(x.upper)};
}

void HeatmapWidget::loadVisibleTile() {
  const Selection& selection = m_document->selection();
  auto file = m_document->file();
  QString why;
  if (!file || !canShow(selection, &why)) return;
  const std::string run = shownRun(selection).toStdString(),
                    hook = CaptureDocument::patternHook(selection.layer);
  const std::string other =
      m_role == HeatmapRole::Difference ? selection.compareRun.toStdString() : std::string();
  const TokenWindow visible = visibleWindow();
  const int64_t n = m_document->nTokens();
  int levels = 0;
  try {
    levels = static_cast<int>(file->mapLevels(run, hook, selection.head));  // metadata only
  } catch (const std::exception& error) {
    showMessage(QString::fromStdString(error.what()));
    return;
  }
  const QRect rect = m_plot->axisRect()->rect();
  const int level = chooseLevel(visible, rect.width(), rect.height(), levels);
  if (tileCovers(m_tile, visible, level, n)) return;
  if (m_jobs.isRunning() && m_pending.level == level) {
    MapTile pending;
    pending.request = m_pending;
    pending.values.resize(1);  // only the request matters for coverage
    if (tileCovers(pending, visible, level, n)) return;
  }
  TileRequest request = planTile(visible, level, n);
  request.run = run;
  request.hook = hook;
  request.head = selection.head;
  m_pending = request;
  m_jobs.startJob(
      [file, request, other](const CancelCheck& cancelled) {
        MapTile tile = readTile(*file, request, cancelled);
        if (other.empty() || tile.empty()) return tile;
        TileRequest base = request;
        base.run = other;
        const MapTile subtrahend = readTile(*file, base, cancelled);
        if (subtrahend.empty()) return subtrahend;  // cancelled
        for (std::size_t i = 0; i < tile.values.size(); ++i) tile.values[i] -= subtrahend.values[i];
        return tile;
      },
      [this](MapTile tile) {
        m_tile = std::move(tile);
        applyScale();
        Q_EMIT contentReady();
        m_reload->start();  // the view may have moved on while reading
      },
      [this](const QString& error) {
        showMessage(error);
        Q_EMIT contentReady();
      });
}

void HeatmapWidget::applyScale() {
  const bool difference = m_role == HeatmapRole::Difference;
  const bool log = m_log->isChecked() && !difference;
  double largest = 1e-6;  // of |difference| in the tile: the diverging scale is symmetric around 0
  m_map->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  m_scale->axis()->setTicker(log ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                 : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  m_scale->axis()->setNumberFormat(log ? QStringLiteral("eb") : QStringLiteral("gb"));
  m_scale->axis()->setNumberPrecision(log ? 0 : 2);  // "10⁻⁴", not "1.000000·10⁻⁴"
  QCPColorMapData* data = m_map->data();
  if (!m_tile.empty()) {
    const int rows = static_cast<int>(m_tile.rows()), columns = static_cast<int>(m_tile.columns());
    const double s = static_cast<double>(m_tile.request.span()), centre = (s - 1) / 2;
    data->setSize(columns, rows);
    data->setRange(QCPRange(m_tile.request.c0 * s + centre, (m_tile.request.c1 - 1) * s + centre),
                   QCPRange(m_tile.request.r0 * s + centre, (m_tile.request.r1 - 1) * s + centre));
    for (int r = 0; r < rows; ++r) {
      const float* row = m_tile.values.data() + static_cast<std::size_t>(r) * columns;
      for (int c = 0; c < columns; ++c) {
        double v = std::isfinite(row[c]) ? row[c] : 0.0;
        largest = std::max(largest, std::abs(v));
        data->setCell(c, r, log ? std::max(v, kLogFloor) : v);
      }
    }
  }
  m_map->setDataRange(difference ? QCPRange(-largest, largest)
                      : log      ? QCPRange(kLogFloor, 1)
                                 : QCPRange(0, 1));
  m_map->setVisible(!m_tile.empty());
  updateQueryMarker();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapWidget::updateTickers() {
  const TokenWindow visible = visibleWindow();
  const QRect rect = m_plot->axisRect()->rect();
  const auto setTicker = [this](QCPAxis* axis, int64_t t0, int64_t t1, bool tokens) {
    if (!tokens) {
      if (axis->ticker().dynamicCast<QCPAxisTickerText>())
        axis->setTicker(QSharedPointer<QCPAxisTicker>::create());
      // About one number per 90 px, so narrow maps (Compare view) keep their labels apart.
      const int length = axis == m_plot->xAxis ? m_plot->axisRect()->width() : m_plot->axisRect()->height();
      axis->ticker()->setTickCount(std::clamp(length / 90, 2, 6));
      axis->setTickLabelRotation(0);
      return;
    }
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (int64_t i = t0; i < t1; ++i)
      ticker->addTick(static_cast<double>(i), shortToken(m_document->displayToken(i)));
    axis->setTicker(ticker);
    axis->setTickLabelRotation(axis == m_plot->xAxis ? -60 : 0);
  };
  setTicker(m_plot->xAxis, visible.k0, visible.k1, visible.k1 - visible.k0 <= rect.width() / 16);
  setTicker(m_plot->yAxis, visible.q0, visible.q1, visible.q1 - visible.q0 <= rect.height() / 15);
}

void HeatmapWidget::updateQueryMarker() {
  const int n = m_document->nTokens(), q = m_document->selection().query;
  m_queryMarker->topLeft->setCoords(-0.5, q - 0.5);
  m_queryMarker->bottomRight->setCoords(n - 0.5, q + 0.5);
  m_queryMarker->setVisible(!m_tile.empty());
}

void HeatmapWidget::showMessage(const QString& text) {
  m_message->setProperty("message", text);  // rewrapped to the plot's width on each layout (elidedlabel.h)
  m_message->setText(wrapText(text, QFontMetrics(m_message->font()), m_plot->width() - 16));
  m_message->setVisible(!text.isEmpty());
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QString HeatmapWidget::describeCell(int64_t query, int64_t key) const {
  const float value = m_tile.at(query, key);
  QString text = tr("query %1  «%2»\nkey %3  «%4»")
                     .arg(query)
                     .arg(m_document->displayToken(static_cast<int>(query)))
                     .arg(key)
                     .arg(m_document->displayToken(static_cast<int>(key)));
  if (std::isnan(value)) return text;
  text += (m_role == HeatmapRole::Difference ? tr("\nΔp = %1") : tr("\np = %1"))
              .arg(static_cast<double>(value), 0, 'g', 4);
  if (m_tile.request.level > 0) {
    const int64_t s = m_tile.request.span();
    text += tr("  (largest in queries %1–%2 × keys %3–%4; zoom in for single tokens)")
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
  m_document->setQuery(query);  // clicking a row makes that query the one the tokens view shows
}

QWidget* HeatmapWidget::exportWidget() const {
  return m_plot;
}

CsvTable HeatmapWidget::exportTable() const {
  CsvTable table;
  table.header = QStringList{"query_begin", "query_end", "key_begin", "key_end", "probability"};
  if (m_tile.empty()) return table;
  const TokenWindow visible = visibleWindow();
  const int64_t s = m_tile.request.span(), n = m_document->nTokens();
  for (int64_t r = m_tile.request.r0; r < m_tile.request.r1; ++r) {
    if ((r + 1) * s <= visible.q0 || r * s >= visible.q1) continue;
    for (int64_t c = m_tile.request.c0; c < m_tile.request.c1; ++c) {
      if ((c + 1) * s <= visible.k0 || c * s >= visible.k1) continue;
      table.rows << QStringList{QString::number(r * s), QString::number(std::min((r + 1) * s, n)),
                                QString::number(c * s), QString::number(std::min((c + 1) * s, n)),
                                QString::number(static_cast<double>(m_tile.at(r * s, c * s)))};
    }
  }
  return table;
}

}  // namespace attnscope::widgets
