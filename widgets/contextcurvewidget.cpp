#include "contextcurvewidget.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <cmath>

#include "attnscope/statistics.h"
#include "capturedocument.h"
#include "colormaps.h"
#include "elidedlabel.h"
#include "statisticnames.h"

namespace attnscope::widgets {

namespace {

// QCPAxisTickerLog falls back to linear ticks (1, 1.2, 1.4, ...) when the range spans under 1.6 octaves: the
// axis spans at least 2 octaves, and an empty plot the keys of a typical prompt.
constexpr double kMinKeys = 4, kEmptyKeys = 1024;

}  // namespace

ContextCurveWidget::ContextCurveWidget(CaptureDocument* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_plot(new QCustomPlot(this)),
      m_stat(new QComboBox(this)),
      m_scope(new QComboBox(this)),
      m_theory(new QCheckBox(tr("Theory"), this)) {
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

  m_plot->setMinimumSize(220, 200);
  m_title =
      new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
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
  m_plot->legend->setVisible(true);
  m_plot->axisRect()->insetLayout()->take(m_plot->legend);
  m_plot->plotLayout()->addElement(2, 0, m_plot->legend);
  m_plot->plotLayout()->setRowStretchFactor(2, 0.001);
  m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  m_plot->legend->setWrap(2);
  m_plot->legend->setBorderPen(Qt::NoPen);
  m_plot->legend->setMargins(QMargins(4, 2, 4, 2));
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);

  auto* controls = new QHBoxLayout;
  controls->addWidget(m_stat);
  controls->addWidget(m_scope);
  controls->addWidget(m_theory);
  controls->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addLayout(controls);
  layout->addWidget(m_plot, 1);

  connect(m_stat, &QComboBox::currentIndexChanged, this, &ContextCurveWidget::reload);
  connect(m_scope, &QComboBox::currentIndexChanged, this, &ContextCurveWidget::reload);
  connect(m_theory, &QCheckBox::toggled, this, &ContextCurveWidget::rebuild);
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
                    m_title->setText(error);
                    m_plot->replot(QCustomPlot::rpQueuedReplot);
                    Q_EMIT contentReady();
                  });
}

void ContextCurveWidget::rebuild() {
  m_plot->clearGraphs();
  const CurveRequest& request = m_curves.request;
  const QStringList allRuns = m_document->runNames();
  double n_max = kMinKeys;
  for (std::size_t i = 0; i < m_curves.curves.size(); ++i) {
    const Curve& curve = m_curves.curves[i];
    const QString run = QString::fromStdString(curve.run);
    const QColor color = seriesColor(allRuns.indexOf(run));
    QVector<double> n, median, q10, q90;
    for (const CurvePoint& p : curve.points) {
      n << p.n_center, median << p.median, q10 << p.q10, q90 << p.q90;
      n_max = std::max(n_max, p.n_hi);
    }
    QCPGraph* lower = m_plot->addGraph();
    QCPGraph* upper = m_plot->addGraph();
    QColor fill = color;
    fill.setAlpha(50);
    for (QCPGraph* band : {lower, upper}) {
      band->setPen(Qt::NoPen);
      band->removeFromLegend();
    }
    lower->setData(n, q10, true);
    upper->setData(n, q90, true);
    upper->setBrush(fill);
    upper->setChannelFillGraph(lower);
    QCPGraph* line = m_plot->addGraph();
    line->setData(n, median, true);
    line->setPen(QPen(color, 2));
    line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, Qt::white, 6));
    const QString normalizer = normalizerLabel(m_curves.normalizers.value(static_cast<int>(i)).toStdString());
    line->setName(run == normalizer ? tr("%1: median, q10–q90").arg(run)
                                    : tr("%1 [%2]: median, q10–q90").arg(run, normalizer));
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
  QString title = m_document->isOpen()
                      ? tr("%1 vs context size · %2").arg(statisticAxisLabel(request.stat), scope)
                      : tr("Open a capture file to see attention against context size");
  if (!m_curves.missing.isEmpty())
    title += tr("  (not captured in %1)").arg(m_curves.missing.join(QStringLiteral(", ")));
  m_title->setText(title);
  m_plot->yAxis->setLabel(statisticAxisLabel(request.stat));
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
