#include "contextcurvewidget.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QSpinBox>
#include <QToolButton>
#include <QToolTip>
#include <QVBoxLayout>
#include <QWidgetAction>

#include <qcustomplot.h>

#include <cmath>

#include "attnscope/statistics.h"
#include "capturedocument.h"
#include "colormaps.h"
#include "elidedlabel.h"
#include "plotfitting.h"
#include "statisticnames.h"

namespace attnscope::widgets {

namespace {

// QCPAxisTickerLog falls back to linear ticks (1, 1.2, 1.4, ...) when the range spans under 1.6 octaves: the
// axis spans at least 2 octaves, and an empty plot the keys of a typical prompt.
constexpr double kMinKeys = 4, kEmptyKeys = 1024;
// Which bin a graph point is: graphs of a run's curve carry the curve's index, points their bin's index.
const char kCurveIndex[] = "curveIndex";
// A tooltip shows the nearest bin within this many pixels.
constexpr double kToolTipReach = 14;

}  // namespace

ContextCurveWidget::ContextCurveWidget(CaptureDocument* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_plot(new QCustomPlot(this)),
      m_stat(new QComboBox(this)),
      m_scope(new QComboBox(this)),
      m_theory(new QCheckBox(tr("Theory"), this)),
      m_minQueries(new QSpinBox(this)),
      m_hideSparse(new QAction(tr("Hide sparse bins"), this)) {
  addStatisticItems(m_stat);
  letComboBoxGiveWay(m_stat);
  letComboBoxGiveWay(m_scope);
  m_scope->addItem(tr("Selected head"), static_cast<int>(CurveScope::Head));
  m_scope->addItem(tr("Selected layer, all heads"), static_cast<int>(CurveScope::Layer));
  m_scope->addItem(tr("All layers and heads"), static_cast<int>(CurveScope::AllLayers));
  m_theory->setToolTip(
      tr("The paper's Figure 1 closed forms: logits all −2 except one +3.\n"
         "Softmax, and SSMax with the s of each run that fixes one."));
  m_theory->setChecked(true);
  // The bin settings sit in a menu: the dock's row of controls has no room at 1280 px.
  m_minQueries->setRange(1, 1 << 20);
  m_minQueries->setValue(kDefaultMinBinQueries);
  m_minQueries->setPrefix(tr("Sparse below "));
  m_minQueries->setSuffix(tr(" queries per bin"));
  m_minQueries->setToolTip(tr(
      "Bins with fewer queries per head than this are sparse: drawn dashed with hollow markers, or hidden"));
  m_hideSparse->setCheckable(true);
  auto* bins = new QToolButton(this);
  bins->setText(tr("Bins"));
  bins->setToolTip(tr("Which bins count as sparse, and whether to draw them"));
  bins->setPopupMode(QToolButton::InstantPopup);
  auto* menu = new QMenu(bins);
  auto* minimum = new QWidgetAction(menu);
  minimum->setDefaultWidget(m_minQueries);
  menu->addAction(minimum);
  menu->addAction(m_hideSparse);
  bins->setMenu(menu);

  m_plot->setMinimumSize(220, 200);
  m_title = new FittedTitle(m_plot, QFont(font().family(), font().pointSize() + 1, QFont::Bold));
  m_plot->plotLayout()->insertRow(0);
  m_plot->plotLayout()->addElement(0, 0, m_title);
  m_plot->xAxis->setScaleType(QCPAxis::stLogarithmic);
  auto ticker = QSharedPointer<QCPAxisTickerLog>::create();
  ticker->setLogBase(2);
  ticker->setSubTickCount(0);
  m_plot->xAxis->setTicker(ticker);
  // Whole n print whole; the linear ticks of a range zoomed under 1.6 octaves keep their decimals.
  m_plot->xAxis->setNumberFormat(QStringLiteral("g"));
  m_plot->xAxis->setNumberPrecision(7);
  m_plot->xAxis->setLabel(tr("context size n (keys the query sees)"));
  // The legend sits below the axes: inside, it would cover the curves of long runs.
  placeLegendBelow(m_plot, 2);
  // Every layout pass (screen or export) gives the legend the columns that fit the width of that pass.
  m_title->setLayoutHook([this](const QSize& size) {
    fitLegendColumns(m_plot->legend, size.width());
    // The value axis label runs along the plot's height: long labels wrap, then end in "…".
    m_plot->yAxis->setLabel(wrapText(statisticAxisLabel(m_curves.request.stat), m_plot->yAxis->labelFont(),
                                     std::max(60, size.height() / 2)));
  });
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
    const QString tip = toolTipAt(event->position());
    if (tip.isEmpty())
      QToolTip::hideText();
    else
      QToolTip::showText(event->globalPosition().toPoint(), tip, m_plot);
  });

  auto* controls = new QHBoxLayout;
  controls->addWidget(m_stat);
  controls->addWidget(m_scope);
  controls->addWidget(m_theory);
  controls->addWidget(bins);
  controls->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addLayout(controls);
  layout->addWidget(m_plot, 1);

  connect(m_stat, &QComboBox::currentIndexChanged, this, &ContextCurveWidget::reload);
  connect(m_scope, &QComboBox::currentIndexChanged, this, &ContextCurveWidget::reload);
  connect(m_theory, &QCheckBox::toggled, this, &ContextCurveWidget::rebuild);
  connect(m_minQueries, &QSpinBox::valueChanged, this, &ContextCurveWidget::rebuild);
  connect(m_hideSparse, &QAction::toggled, this, &ContextCurveWidget::rebuild);
  connect(m_document, &CaptureDocument::documentChanged, this, &ContextCurveWidget::reload);
  connect(m_document, &CaptureDocument::selectionChanged, this, &ContextCurveWidget::onSelectionChanged);
  reload();
}

void ContextCurveWidget::setStat(const QString& stat) {
  m_stat->setCurrentIndex(m_stat->findData(stat));
}

void ContextCurveWidget::setScope(CurveScope scope) {
  m_scope->setCurrentIndex(m_scope->findData(static_cast<int>(scope)));
}

void ContextCurveWidget::setTheoryVisible(bool visible) {
  m_theory->setChecked(visible);
}

void ContextCurveWidget::setMinBinQueries(int queries) {
  m_minQueries->setValue(queries);
}

int ContextCurveWidget::minBinQueries() const {
  return m_minQueries->value();
}

void ContextCurveWidget::setSparseHidden(bool hidden) {
  m_hideSparse->setChecked(hidden);
}

CurveRequest ContextCurveWidget::currentRequest() const {
  CurveRequest request;
  request.runs = m_document->runNames();
  request.stat = m_stat->currentData().toString();
  request.scope = static_cast<CurveScope>(m_scope->currentData().toInt());
  request.layer = m_document->selection().layer;
  request.head = m_document->selection().head;
  return request;
}

void ContextCurveWidget::onSelectionChanged(const Selection&) {
  const CurveRequest next = currentRequest();
  const bool headMatters = next.scope != CurveScope::AllLayers;
  if (next.layer != m_shown.layer || (next.scope == CurveScope::Head && next.head != m_shown.head)) {
    if (headMatters) reload();
  }
}

void ContextCurveWidget::reload() {
  m_shown = currentRequest();
  m_jobs.cancel();
  auto file = m_document->file();
  if (!file) {
    m_curves = {};
    rebuild();
    return;
  }
  m_jobs.startJob([file, request = m_shown](const CancelCheck&) { return computeCurves(*file, request); },
                  [this](CurveSet set) {
                    m_curves = std::move(set);
                    rebuild();
                    Q_EMIT contentReady();
                  },
                  [this](const QString& error) {
                    m_curves = {};
                    rebuild();
                    m_title->setParts({error});
                    m_plot->replot(QCustomPlot::rpQueuedReplot);
                    Q_EMIT contentReady();
                  });
}

void ContextCurveWidget::rebuild() {
  m_plot->clearGraphs();
  const CurveRequest& request = m_curves.request;
  const QStringList allRuns = m_document->runNames();
  double n_max = kMinKeys;
  bool anySparse = false;
  int first = 0;
  for (std::size_t i = 0; i < m_curves.curves.size(); ++i) {
    const Curve& curve = m_curves.curves[i];
    const QString run = QString::fromStdString(curve.run);
    for (const CurvePoint& p : curve.points) n_max = std::max(n_max, p.n_hi);
    const QString normalizer = normalizerLabel(m_curves.normalizers.value(static_cast<int>(i)).toStdString());
    addRunGraphs(curve, seriesColor(allRuns.indexOf(run)),
                 run == normalizer ? tr("%1: median, q10–q90").arg(run)
                                   : tr("%1 [%2]: median, q10–q90").arg(run, normalizer),
                 &anySparse);
    for (int g = first; g < m_plot->graphCount(); ++g)
      m_plot->graph(g)->setProperty(kCurveIndex, static_cast<int>(i));
    first = m_plot->graphCount();
  }
  if (anySparse && !m_hideSparse->isChecked()) {
    // One legend entry says what dashed and hollow mean, for every run.
    QCPGraph* key = m_plot->addGraph();
    key->setPen(QPen(QColor(110, 110, 110), 1.5, Qt::DashLine));
    key->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(110, 110, 110), Qt::white, 6));
    key->setName(tr("sparse: < %1 queries per bin").arg(m_minQueries->value()));
  }
  if (m_theory->isChecked() && request.stat == QLatin1String(kStatMaxProb) && !m_curves.curves.empty()) {
    const auto addTheory = [&](double s, const QColor& color, const QString& name) {
      QCPGraph* graph = m_plot->addGraph();
      QVector<double> x, y;
      for (const auto& [n, p] : theoryCurve(n_max, s)) x << n, y << p;
      graph->setData(x, y, true);
      graph->setPen(QPen(color, 1.5, Qt::DashLine));
      graph->setName(name);
    };
    addTheory(std::nan(""), QColor(90, 90, 90), tr("theory: softmax, Fig. 1 logits"));
    for (std::size_t i = 0; i < m_curves.curves.size(); ++i) {
      const double s = ssmaxScale(m_curves.normalizers.value(static_cast<int>(i)));
      const QString run = QString::fromStdString(m_curves.curves[i].run);
      if (!std::isnan(s))
        addTheory(s, seriesColor(allRuns.indexOf(run)).darker(130),
                  tr("theory: SSMax s=%1").arg(s, 0, 'g', 3));
    }
  }
  QString scope;
  switch (request.scope) {
    case CurveScope::Head:
      scope = tr("layer %1 · head %2").arg(request.layer).arg(request.head);
      break;
    case CurveScope::Layer:
      scope = tr("layer %1 · all heads").arg(request.layer);
      break;
    case CurveScope::AllLayers:
      scope = tr("all layers and heads");
      break;
  }
  QStringList title = m_document->isOpen()
                          ? QStringList{tr("%1 vs context size").arg(statisticAxisLabel(request.stat)), scope}
                          : QStringList{tr("Open a capture file to see attention against context size")};
  if (!m_curves.missing.isEmpty())
    title << tr("(not captured in %1)").arg(m_curves.missing.join(QStringLiteral(", ")));
  m_title->setParts(title);
  m_plot->xAxis->setRange(1, m_curves.curves.empty() ? kEmptyKeys : n_max);
  if (statisticIsProbability(request.stat)) {
    m_plot->yAxis->setRange(0, 1.02);
  } else {
    bool found = false;
    QCPRange range = m_plot->graphCount() ? m_plot->graph(0)->getValueRange(found) : QCPRange(0, 1);
    for (int i = 1; i < m_plot->graphCount(); ++i) {
      bool ok = false;
      const QCPRange r = m_plot->graph(i)->getValueRange(ok);
      if (ok) range.expand(r), found = true;
    }
    m_plot->yAxis->setRange(found ? QCPRange(0, range.upper * 1.05 + 1e-9) : QCPRange(0, 1));
  }
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace attnscope::widgets

namespace attnscope::widgets {

void ContextCurveWidget::addRunGraphs(const Curve& curve, const QColor& color, const QString& name,
                                      bool* anySparse) {
  const int minimum = m_minQueries->value();
  const bool hide = m_hideSparse->isChecked();
  // Every graph of the run holds every bin (NaN where it draws nothing), so a point's index is its bin's.
  QVector<double> n, median, q10, q90, sparseMedian;
  bool runSparse = false;
  const std::size_t count = curve.points.size();
  for (std::size_t b = 0; b < count; ++b) {
    const CurvePoint& p = curve.points[b];
    const bool sparse = isSparseBin(curve, p, minimum);
    runSparse |= sparse;
    // The dashed line reaches the dense neighbours of a sparse bin, so the curve reads as one line.
    const auto sparseAt = [&](std::size_t k) {
      return k < count && isSparseBin(curve, curve.points[k], minimum);
    };
    const bool touchesSparse = sparse || sparseAt(b + 1) || (b > 0 && sparseAt(b - 1));
    n << p.n_center;
    median << (sparse ? NAN : p.median);
    q10 << (sparse ? NAN : p.q10);
    q90 << (sparse ? NAN : p.q90);
    sparseMedian << (touchesSparse ? p.median : NAN);
  }
  addBand(m_plot, n, q10, q90, color);
  *anySparse |= runSparse;
  if (runSparse && !hide) {
    // Drawn under the dense line: where both meet, the dense bin keeps its filled marker.
    QColor faded = color;
    faded.setAlpha(170);
    QCPGraph* sparse = m_plot->addGraph();
    sparse->setData(n, sparseMedian, true);
    sparse->setPen(QPen(faded, 1.5, Qt::DashLine));
    sparse->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(faded, 1.5), Qt::white, 7));
    sparse->setProperty("sparse", true);
    sparse->removeFromLegend();
  }
  QCPGraph* line = m_plot->addGraph();
  line->setData(n, median, true);
  line->setPen(QPen(color, 2));
  line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, color, 6));
  line->setName(name);
}

QString ContextCurveWidget::toolTipAt(const QPointF& pixel) const {
  const QCPGraph* best = nullptr;
  int bestIndex = -1;
  double bestDistance = kToolTipReach;
  for (int g = 0; g < m_plot->graphCount(); ++g) {
    const QCPGraph* graph = m_plot->graph(g);
    if (!graph->property(kCurveIndex).isValid() || graph->pen().style() == Qt::NoPen) continue;
    for (int k = 0; k < graph->data()->size(); ++k) {
      const QCPGraphData& point = *(graph->data()->constBegin() + k);
      if (std::isnan(point.value)) continue;
      const QPointF at(m_plot->xAxis->coordToPixel(point.key), m_plot->yAxis->coordToPixel(point.value));
      const double distance = std::hypot(at.x() - pixel.x(), at.y() - pixel.y());
      if (distance < bestDistance) best = graph, bestIndex = k, bestDistance = distance;
    }
  }
  if (!best) return {};
  const std::size_t c = static_cast<std::size_t>(best->property(kCurveIndex).toInt());
  if (c >= m_curves.curves.size()) return {};
  const Curve& curve = m_curves.curves[c];
  if (bestIndex >= static_cast<int>(curve.points.size())) return {};
  const CurvePoint& p = curve.points[static_cast<std::size_t>(bestIndex)];
  const int64_t queries = binQueries(curve, p);
  QString text = tr("%1 · n %2–%3\nmedian %4 (q10 %5, q90 %6, mean %7)")
                     .arg(QString::fromStdString(curve.run))
                     .arg(std::ceil(p.n_lo))
                     .arg(std::ceil(p.n_hi) - 1)
                     .arg(p.median, 0, 'g', 4)
                     .arg(p.q10, 0, 'g', 3)
                     .arg(p.q90, 0, 'g', 3)
                     .arg(p.mean, 0, 'g', 4);
  text += queries == 1 ? tr("\n1 query") : tr("\n%1 queries").arg(queries);
  if (curve.n_heads > 1) text += tr(" × %1 heads = %2 values").arg(curve.n_heads).arg(p.count);
  if (isSparseBin(curve, p, m_minQueries->value()))
    text += tr(" — sparse (fewer than %1)").arg(m_minQueries->value());
  return text;
}

}  // namespace attnscope::widgets
