#include "heatmapwidget.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QTimer>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <cmath>

#include "capturedocument.h"
#include "colormaps.h"
#include "colorscalecontrols.h"
#include "elidedlabel.h"
#include "targetbands.h"

namespace attnscope::widgets {
namespace {

constexpr double kLogFloor = 1e-4;  // lowest probability the log scale shows; smaller values clamp to it

QString shortToken(const QString& text) {
  return text.size() > 12 ? text.left(11) + QChar(0x2026) : text;
}

/// The range of a tile's finite values: symmetric around 0 for differences, else [min, max].
std::optional<QCPRange> valueRange(const MapTile& tile, bool symmetric) {
  double lo = INFINITY, hi = -INFINITY;
  for (float v : tile.values)
    if (std::isfinite(v)) lo = std::min(lo, double{v}), hi = std::max(hi, double{v});
  if (lo > hi) return std::nullopt;
  if (symmetric) {
    const double largest = std::max({std::abs(lo), std::abs(hi), 1e-6});
    return QCPRange(-largest, largest);
  }
  return hi > lo ? QCPRange(lo, hi) : QCPRange(lo - 0.5, hi + 0.5);
}

QPen markerPen(const QColor& color, double width) {
  QPen pen(color, width);
  pen.setJoinStyle(Qt::MiterJoin);
  return pen;
}

}  // namespace

HeatmapWidget::HeatmapWidget(CaptureDocument* document, QWidget* parent, HeatmapRole role)
    : QWidget(parent),
      m_document(document),
      m_role(role),
      m_plot(new QCustomPlot(this)),
      m_log(new QCheckBox(tr("Log scale"), this)),
      m_kindBox(new QComboBox(this)),
      m_colors(new ColorScaleControls(this)),
      m_reload(new QTimer(this)) {
  setFocusPolicy(Qt::StrongFocus);  // arrow keys, +/−, Ctrl+C
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
  m_scale = new QCPColorScale(m_plot);
  m_scale->setType(QCPAxis::atRight);
  m_scale->setBarWidth(14);
  m_plot->plotLayout()->addElement(1, 1, m_scale);
  // The colour scale takes the width it needs, the map the rest (equal stretch halved narrow maps).
  m_plot->plotLayout()->setColumnStretchFactor(0, 1);
  m_plot->plotLayout()->setColumnStretchFactor(1, 0.01);
  m_map->setColorScale(m_scale);
  auto* margins = new QCPMarginGroup(m_plot);
  m_plot->axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
  m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);

  m_notComputed = new QCPItemRect(m_plot);
  m_notComputed->setPen(Qt::NoPen);
  m_notComputed->setBrush(QColor(128, 128, 128));
  m_notComputed->setVisible(false);
  m_notComputedLabel = new QCPItemText(m_plot);
  m_notComputedLabel->setText(tr("not computed (capture cancelled)"));
  m_notComputedLabel->setColor(Qt::white);
  m_notComputedLabel->setVisible(false);
  m_message = new QCPItemText(m_plot);
  m_message->position->setType(QCPItemPosition::ptViewportRatio);  // the whole plot's width: narrow panels
  m_message->position->setCoords(0.5, 0.5);
  m_message->setClipToAxisRect(false);
  m_message->setVisible(false);
  // A 6-px dark outline under a 2-px light one: visible on dark and light cells of every colour map.
  m_queryHalo = new QCPItemRect(m_plot);
  m_queryHalo->setPen(markerPen(QColor(20, 20, 20), 6));
  m_queryMarker = new QCPItemRect(m_plot);
  m_queryMarker->setPen(markerPen(QColor(255, 255, 255), 2));
  m_keyMarker = new QCPItemRect(m_plot);
  m_keyMarker->setPen(markerPen(QColor(255, 42, 109), 2));
  for (QCPItemRect* marker : {m_queryHalo, m_queryMarker, m_keyMarker}) {
    marker->setAntialiased(false);  // whole pixels: antialiasing at a half-pixel edge halves a 2-px line
    marker->setVisible(false);
  }
  m_targets = new TargetBands(m_plot);

  m_kindBox->addItem(tr("probabilities"), static_cast<int>(MapKind::Pattern));
  m_kindBox->addItem(tr("scores"), static_cast<int>(MapKind::Scores));
  m_kindBox->setToolTip(
      tr("Attention probabilities, or the scores before the normalizer (captured with "
         "--maps scores:L.H)"));
  m_kindBox->setVisible(false);
  m_log->setToolTip(tr("Logarithmic colour scale for probabilities"));
  // Hidden for differences and scores, but keeping its width: side-by-side maps then get equal widths.
  QSizePolicy keepWidth = m_log->sizePolicy();
  keepWidth.setRetainSizeWhenHidden(true);
  m_log->setSizePolicy(keepWidth);
  auto* fit = new QToolButton(this);  // a tool button: three maps' control rows fit side by side at 1280 px
  fit->setText(tr("Fit"));
  fit->setToolTip(tr("Show the whole map"));
  auto* controls = new QHBoxLayout;
  controls->addWidget(m_kindBox);
  controls->addWidget(m_log);
  controls->addWidget(m_colors);
  controls->addStretch(1);
  controls->addWidget(fit);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addLayout(controls);
  layout->addWidget(m_plot, 1);

  m_reload->setSingleShot(true);
  m_reload->setInterval(0);
  connect(m_reload, &QTimer::timeout, this, &HeatmapWidget::loadVisibleTile);
  connect(fit, &QToolButton::clicked, this, &HeatmapWidget::resetView);
  connect(m_log, &QCheckBox::toggled, this, &HeatmapWidget::applyScale);
  connect(m_colors, &ColorScaleControls::changed, this, &HeatmapWidget::applyScale);
  connect(m_kindBox, &QComboBox::activated, this,
          [this] { setMapKind(static_cast<MapKind>(m_kindBox->currentData().toInt())); });
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
  connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
    m_pressPos = event->pos();
    setFocus(Qt::MouseFocusReason);
  });
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

void HeatmapWidget::setScaleCaptionShown(bool shown) {
  m_scaleCaptionShown = shown;
  updateKindChoice(m_document->selection());
}

bool HeatmapWidget::logScale() const {
  return m_log->isChecked();
}

void HeatmapWidget::setLogScale(bool log) {
  m_log->setChecked(log);
}

void HeatmapWidget::setMapKind(MapKind kind) {
  if (kind == m_kind) return;
  m_kind = kind;
  m_headKey.clear();  // another map: read it
  onSelectionChanged(m_document->selection());
}

ColorMapName HeatmapWidget::sequentialMap() const {
  return m_colors->colorMap();
}

void HeatmapWidget::setSequentialMap(ColorMapName map) {
  m_colors->setColorMap(map);
}

void HeatmapWidget::setClipRange(std::optional<double> low, std::optional<double> high) {
  m_colors->setClipRange(low, high);
}

QCPRange HeatmapWidget::colorRange() const {
  return m_map->dataRange();
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
  m_key = -1;
  m_map->data()->clear();
  resetView();
}

void HeatmapWidget::updateKindChoice(const Selection& selection) {
  // The choice is offered where this head has scores; a head with only one kind shows that kind.
  const auto stored = [&](MapKind kind) {
    bool has = m_document->isOpen() &&
               m_document->hasMap(shownRun(selection), selection.layer, selection.head, kind);
    if (m_role == HeatmapRole::Difference)
      has = has && m_document->hasMap(selection.compareRun, selection.layer, selection.head, kind);
    return has;
  };
  const bool scores = stored(MapKind::Scores), pattern = stored(MapKind::Pattern);
  if (!scores) m_kind = MapKind::Pattern;
  if (scores && !pattern) m_kind = MapKind::Scores;
  m_kindBox->setVisible(scores);
  m_kindBox->setEnabled(scores && pattern);
  m_kindBox->setCurrentIndex(m_kindBox->findData(static_cast<int>(m_kind)));
  m_log->setVisible(m_role != HeatmapRole::Difference && m_kind == MapKind::Pattern);
  // Side-by-side maps (Compare) need the width more than the scale's caption: their titles say what they are.
  m_scale->axis()->setLabel(m_compactTitle && !m_scaleCaptionShown ? QString()
                            : m_kind == MapKind::Scores
                                ? (m_role == HeatmapRole::Difference ? tr("score difference") : tr("score"))
                            : m_role == HeatmapRole::Difference ? tr("probability difference")
                                                                : tr("attention probability"));
}

void HeatmapWidget::onSelectionChanged(const Selection& selection) {
  updateKindChoice(selection);
  const QString key = QStringLiteral("%1/%2/%3/%4/%5")
                          .arg(selection.run, m_role == HeatmapRole::Run ? QString() : selection.compareRun)
                          .arg(selection.layer)
                          .arg(selection.head)
                          .arg(static_cast<int>(m_kind));
  if (key != m_headKey) {
    m_headKey = key;
    m_jobs.cancel();  // a read for the previous head is stale
    m_tile = {};
    m_visibility = {};
    m_range.reset();  // the colour range is the whole map's: fixed per head, never per zoom
    m_map->data()->clear();
    applyScale();
    const RunInfo* run = m_document->runInfo(shownRun(selection));
    m_targets->setRanges(run ? run->targets : TokenRanges{});
    const QString runs = m_role == HeatmapRole::Difference
                             ? tr("%1 − %2").arg(selection.run, selection.compareRun)
                             : shownRun(selection);
    const QString kind = m_kind == MapKind::Scores ? tr(" · scores") : QString();
    m_title->setText(
        !m_document->isOpen() || runs.isEmpty() ? QString()
        : m_compactTitle
            ? runs + kind
            : tr("%1 · layer %2 · head %3%4").arg(runs).arg(selection.layer).arg(selection.head).arg(kind));
    QString why;
    if (!canShow(selection, &why)) {
      showMessage(why);
    } else {
      showMessage({});
      m_reload->start();
    }
    if (m_message->visible()) QTimer::singleShot(0, this, &HeatmapWidget::contentReady);
  }
  updateMarkers();
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QString HeatmapWidget::shownRun(const Selection& selection) const {
  return m_role == HeatmapRole::CompareRun ? selection.compareRun : selection.run;
}

std::string HeatmapWidget::hook() const {
  return CaptureDocument::mapHook(m_document->selection().layer, m_kind);
}

QString HeatmapWidget::valueName() const {
  const bool difference = m_role == HeatmapRole::Difference;
  if (m_kind == MapKind::Scores) return difference ? tr("Δscore") : tr("score");
  return difference ? tr("Δp") : tr("p");
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
  for (const QString& run : runs) {
    if (!m_document->hasMap(run, selection.layer, selection.head, m_kind)) {
      *why = tr("No attention map stored for this head in %1.\nCapture with --maps all (or --maps %2.%3).")
                 .arg(run)
                 .arg(selection.layer)
                 .arg(selection.head);
      return false;
    }
    if (const QString reason = m_document->notComputedReason(run, selection.layer); !reason.isEmpty()) {
      *why = reason;  // its map reads as zeros: never draw that as a real map
      return false;
    }
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
  const RunInfo* info = m_document->runInfo(shownRun(selection));
  if (!info) return;
  const std::string hook = this->hook();
  const bool difference = m_role == HeatmapRole::Difference;
  const std::string other = difference ? selection.compareRun.toStdString() : std::string();
  const TokenWindow visible = visibleWindow();
  const int64_t n = m_document->nTokens();
  int levels = 0;
  try {
    levels = static_cast<int>(file->mapLevels(info->name, hook, selection.head));  // metadata only
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
  request.run = info->name;
  request.hook = hook;
  request.head = selection.head;
  m_pending = request;
  // Probabilities have the fixed range [0, 1]; differences and scores take the whole map's range.
  const bool needRange = !m_range && (difference || m_kind == MapKind::Scores);
  TileRequest whole = planTile({0, n, 0, n}, std::max(0, levels - 1), n, 0.0);
  whole.run = request.run, whole.hook = hook, whole.head = request.head;
  const RunInfo* otherInfo = m_document->runInfo(selection.compareRun);
  const RunInfo subtrahend = difference && otherInfo ? *otherInfo : RunInfo{};
  m_jobs.startJob(
      [file, request, whole, other, run = *info, subtrahend, layer = selection.layer, n, needRange,
       difference](const CancelCheck& cancelled) {
        Loaded loaded;
        loaded.visibility = readKeyVisibility(*file, run, layer, request.head);
        if (difference)  // a query is computed when both runs computed it
          loaded.visibility.computed = std::min(
              loaded.visibility.computed, readKeyVisibility(*file, subtrahend, layer, request.head).computed);
        const auto read = [&](const TileRequest& tile) {
          MapTile result = other.empty() ? readTile(*file, tile, cancelled)
                                         : readDifferenceTile(*file, tile, other, n, cancelled);
          if (!result.empty()) maskTile(result, loaded.visibility, n);
          return result;
        };
        loaded.tile = read(request);
        if (loaded.tile.empty() || !needRange) return loaded;
        const bool coversAll = request.r0 == 0 && request.c0 == 0 && request.r1 == whole.r1 &&
                               request.c1 == whole.c1 && request.level == whole.level;
        const MapTile overview = coversAll ? MapTile{} : read(whole);
        if (!coversAll && overview.empty()) return Loaded{};  // cancelled
        loaded.range = valueRange(coversAll ? loaded.tile : overview, difference);
        return loaded;
      },
      [this](Loaded loaded) { applyTile(std::move(loaded)); },
      [this](const QString& error) {
        showMessage(error);
        Q_EMIT contentReady();
      });
}

void HeatmapWidget::applyTile(Loaded loaded) {
  if (loaded.tile.empty()) return;
  m_tile = std::move(loaded.tile);
  m_visibility = std::move(loaded.visibility);
  if (loaded.range) m_range = loaded.range;
  applyScale();
  Q_EMIT contentReady();
  m_reload->start();  // the view may have moved on while reading
}

void HeatmapWidget::applyScale() {
  const bool difference = m_role == HeatmapRole::Difference, scores = m_kind == MapKind::Scores;
  const bool log = m_log->isChecked() && !difference && !scores;
  QCPColorGradient gradient = difference ? divergingGradient() : sequentialGradient(m_colors->colorMap());
  gradient.setNanHandling(QCPColorGradient::nhTransparent);  // masked cells show the hatched background
  m_scale->setGradient(gradient);  // a linked colour scale's gradient overrides the map's
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
        const double v = row[c];
        data->setCell(c, r, log && !std::isnan(v) ? std::max(v, kLogFloor) : v);
      }
    }
  }
  const QCPRange automatic = difference || scores ? m_range.value_or(QCPRange(-1, 1))
                             : log                ? QCPRange(kLogFloor, 1)
                                                  : QCPRange(0, 1);
  QCPRange range = m_colors->clipped(automatic);
  if (log) range.lower = std::max(range.lower, 1e-12);
  if (range.upper <= range.lower) range = automatic;
  m_map->setDataRange(range);
  m_map->setVisible(!m_tile.empty());
  // Masked cells are NaN, drawn transparent over this hatch: never mistaken for p = 0. Without a map the
  // background stays plain, so a message is not read as "everything masked".
  m_plot->axisRect()->setBackground(m_tile.empty() ? QBrush(Qt::white)
                                                   : QBrush(QColor(150, 150, 150), Qt::BDiagPattern));
  updateMarkers();
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

void HeatmapWidget::updateMarkers() {
  const int n = m_document->nTokens(), q = m_document->selection().query;
  for (QCPItemRect* marker : {m_queryHalo, m_queryMarker}) {
    marker->topLeft->setCoords(-0.5, q - 0.5);
    marker->bottomRight->setCoords(n - 0.5, q + 0.5);
    marker->setVisible(!m_tile.empty());
  }
  m_keyMarker->topLeft->setCoords(m_key - 0.5, q - 0.5);
  m_keyMarker->bottomRight->setCoords(m_key + 0.5, q + 0.5);
  m_keyMarker->setVisible(!m_tile.empty() && m_key >= 0);
  const int64_t computed = m_visibility.computed;
  m_notComputed->topLeft->setCoords(-0.5, computed - 0.5);
  m_notComputed->bottomRight->setCoords(n - 0.5, n - 0.5);
  m_notComputed->setVisible(!m_tile.empty() && computed < n);
  m_notComputedLabel->position->setCoords((n - 1) / 2.0, (computed + n - 1) / 2.0);
  m_notComputedLabel->setVisible(m_notComputed->visible());
  m_targets->setShown(!m_tile.empty());
}

QString HeatmapWidget::message() const {
  return m_message->visible() ? m_message->text() : QString();
}

void HeatmapWidget::showMessage(const QString& text) {
  m_message->setProperty("message", text);  // rewrapped to the plot's width on each layout (elidedlabel.h)
  m_message->setText(wrapText(text, QFontMetrics(m_message->font()), m_plot->width() - 16));
  m_message->setVisible(!text.isEmpty());
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QWidget* HeatmapWidget::exportWidget() const {
  return m_plot;
}

CsvTable HeatmapWidget::exportTable() const {
  CsvTable table;
  table.header = QStringList{"query_begin", "query_end", "key_begin", "key_end",
                             m_kind == MapKind::Scores ? "score" : "probability"};
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
