#include "sweepcurveview.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "colormaps.h"
#include "elidedlabel.h"
#include "plotfitting.h"
#include "statisticnames.h"
#include "sweepdocument.h"

namespace attnscope::widgets {
namespace {

QString scopeText(CurveScope scope, int layer, int head) {
  switch (scope) {
    case CurveScope::Head:
      return QObject::tr("layer %1 · head %2").arg(layer).arg(head);
    case CurveScope::Layer:
      return QObject::tr("layer %1 · mean of its heads").arg(layer);
    case CurveScope::AllLayers:
      break;
  }
  return QObject::tr("mean of all heads");
}

/// Where a bin is drawn: its geometric centre on the log n axis, its middle on the linear position axis.
double binCentre(const SweepCurvePoint& p, SweepCurveKind kind) {
  return kind == SweepCurveKind::Statistic ? std::sqrt(std::max(p.n_lo, 1.0) * std::max(p.n_hi, 1.0))
                                           : (p.n_lo + p.n_hi) / 2;
}

}  // namespace

SweepCurveSet sweepStatCurves(const SweepData& data, const QString& stat, CurveScope scope, int layer,
                              int head) {
  SweepCurveSet set;
  set.stat = stat;
  set.scope = scope;
  set.layer = std::clamp(layer, 0, std::max(0, data.nLayer() - 1));
  set.head = std::clamp(head, 0, std::max(0, data.nHead() - 1));
  set.title = QObject::tr("%1 against context size · %2 · mean over prompts, %3% interval")
                  .arg(statisticTitle(stat), scopeText(scope, set.layer, set.head))
                  .arg(100 * SweepAggregateOptions{}.confidence, 0, 'g', 3);
  set.xLabel = QObject::tr("context size n (keys the query sees)");
  set.yLabel = statisticAxisLabel(stat);
  const std::vector<std::string>& stats = data.grid().stats;
  if (std::find(stats.begin(), stats.end(), stat.toStdString()) == stats.end()) {
    QStringList recorded;
    for (const std::string& name : stats) recorded << QString::fromStdString(name);
    set.message =
        QObject::tr("This sweep recorded no %1 (it has: %2)")
            .arg(stat, recorded.isEmpty() ? QObject::tr("none") : recorded.join(QStringLiteral(", ")));
    return set;
  }
  const int64_t l = scope == CurveScope::AllLayers ? -1 : set.layer;
  const int64_t h = scope == CurveScope::Head ? set.head : -1;
  for (int i = 0; i < data.nNormalizers(); ++i) {
    set.normalizers << data.normalizer(i);
    set.curves.push_back(sweepStatCurve(data.grid(), data.records[static_cast<std::size_t>(i)],
                                        stat.toStdString(), l, h, data.nLayer(), data.nHead()));
  }
  return set;
}

SweepCurveSet sweepLossCurves(const SweepData& data) {
  SweepCurveSet set;
  set.kind = SweepCurveKind::Loss;
  set.title = QObject::tr("Next-token loss by position · mean over documents, %1% interval")
                  .arg(100 * SweepAggregateOptions{}.confidence, 0, 'g', 3);
  set.xLabel = QObject::tr("position in the document (tokens)");
  set.yLabel = QObject::tr("loss (nats)");
  if (data.grid().mode != SweepMode::Documents) {
    set.message = QObject::tr("A needle sweep records no loss by position: sweep with --documents");
    return set;
  }
  for (int i = 0; i < data.nNormalizers(); ++i) {
    set.normalizers << data.normalizer(i);
    set.curves.push_back(sweepLossCurve(data.grid(), data.records[static_cast<std::size_t>(i)]));
  }
  return set;
}

CsvTable sweepCurveTable(const SweepCurveSet& set) {
  CsvTable table;
  const bool stat = set.kind == SweepCurveKind::Statistic;
  table.header << QStringLiteral("normalizer");
  if (stat)
    table.header << QStringList{"stat", "layer", "head", "n_lo", "n_hi"};
  else
    table.header << QStringList{"position_lo", "position_hi"};
  table.header << QStringList{"mean", "ci_lo", "ci_hi", "count"};
  const QString layer =
      set.scope == CurveScope::AllLayers ? QStringLiteral("all") : QString::number(set.layer);
  const QString head = set.scope == CurveScope::Head ? QString::number(set.head) : QStringLiteral("all");
  for (std::size_t i = 0; i < set.curves.size(); ++i)
    for (const SweepCurvePoint& p : set.curves[i]) {
      QStringList row{set.normalizers.value(static_cast<int>(i))};
      if (stat) row << set.stat << layer << head;
      row << QString::number(p.n_lo, 'g', 10) << QString::number(p.n_hi, 'g', 10)
          << QString::number(p.value.mean, 'g', 10) << QString::number(p.value.lo, 'g', 10)
          << QString::number(p.value.hi, 'g', 10) << QString::number(p.value.count);
      table.rows << row;
    }
  return table;
}

SweepCurveView::SweepCurveView(SweepDocument* document, SweepCurveKind kind, QWidget* parent)
    : QWidget(parent), m_document(document), m_kind(kind), m_plot(new QCustomPlot(this)) {
  auto* controls = new QHBoxLayout;
  if (kind == SweepCurveKind::Statistic) {
    m_stat = new QComboBox(this);
    m_scope = new QComboBox(this);
    m_layer = new QSpinBox(this);
    m_head = new QSpinBox(this);
    letComboBoxGiveWay(m_stat);
    letComboBoxGiveWay(m_scope);
    m_scope->addItem(tr("All layers and heads"), static_cast<int>(CurveScope::AllLayers));
    m_scope->addItem(tr("One layer, mean of its heads"), static_cast<int>(CurveScope::Layer));
    m_scope->addItem(tr("One head"), static_cast<int>(CurveScope::Head));
    m_layer->setPrefix(tr("layer "));
    m_head->setPrefix(tr("head "));
    for (QWidget* w : {static_cast<QWidget*>(m_stat), static_cast<QWidget*>(m_scope),
                       static_cast<QWidget*>(m_layer), static_cast<QWidget*>(m_head)})
      controls->addWidget(w);
    connect(m_stat, &QComboBox::currentIndexChanged, this, &SweepCurveView::rebuild);
    connect(m_scope, &QComboBox::currentIndexChanged, this, &SweepCurveView::rebuild);
    connect(m_layer, &QSpinBox::valueChanged, this, &SweepCurveView::rebuild);
    connect(m_head, &QSpinBox::valueChanged, this, &SweepCurveView::rebuild);
  }
  controls->addStretch(1);

  m_plot->setMinimumSize(300, 220);
  m_plot->plotLayout()->insertRow(0);
  m_plot->plotLayout()->addElement(
      0, 0,
      new QCPTextElement(m_plot, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold)));
  if (kind == SweepCurveKind::Statistic) {
    m_plot->xAxis->setScaleType(QCPAxis::stLogarithmic);
    auto ticker = QSharedPointer<QCPAxisTickerLog>::create();
    ticker->setLogBase(2);
    ticker->setSubTickCount(0);
    m_plot->xAxis->setTicker(ticker);
    m_plot->xAxis->setNumberFormat(QStringLiteral("g"));
    m_plot->xAxis->setNumberPrecision(7);
  }
  // The legend sits below the axes, in as many columns as fit: inside it would cover the curves.
  placeLegendBelow(m_plot, 3);
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addLayout(controls);
  layout->addWidget(m_plot, 1);
  connect(m_document, &SweepDocument::documentChanged, this, &SweepCurveView::onDocumentChanged);
  onDocumentChanged();
}

QWidget* SweepCurveView::exportWidget() const {
  return m_plot;
}

QString SweepCurveView::exportName() const {
  return m_kind == SweepCurveKind::Statistic ? QStringLiteral("sweep-curve") : QStringLiteral("sweep-loss");
}

void SweepCurveView::setStat(const QString& stat) {
  if (m_stat && m_stat->findData(stat) >= 0) m_stat->setCurrentIndex(m_stat->findData(stat));
}

void SweepCurveView::setScope(CurveScope scope, int layer, int head) {
  if (!m_scope) return;
  const QSignalBlocker blockLayer(m_layer), blockHead(m_head);
  m_layer->setValue(layer);
  m_head->setValue(head);
  m_scope->setCurrentIndex(m_scope->findData(static_cast<int>(scope)));
  rebuild();
}

void SweepCurveView::onDocumentChanged() {
  const auto data = m_document->data();
  if (m_stat) {
    const QSignalBlocker blockStat(m_stat), blockLayer(m_layer), blockHead(m_head);
    const QString previous = m_stat->currentData().toString();
    m_stat->clear();
    if (data)
      for (const std::string& name : data->grid().stats) {
        const QString stat = QString::fromStdString(name);
        m_stat->addItem(statisticTitle(stat), stat);
      }
    const int keep = m_stat->findData(previous.isEmpty() ? defaultStatistic() : previous);
    m_stat->setCurrentIndex(keep >= 0 ? keep : std::max(0, m_stat->findData(defaultStatistic())));
    m_layer->setRange(0, data ? std::max(0, data->nLayer() - 1) : 0);
    m_head->setRange(0, data ? std::max(0, data->nHead() - 1) : 0);
  }
  rebuild();
}

void SweepCurveView::rebuild() {
  const auto data = m_document->data();
  if (m_scope) {
    const auto scope = static_cast<CurveScope>(m_scope->currentData().toInt());
    m_layer->setEnabled(scope != CurveScope::AllLayers);
    m_head->setEnabled(scope == CurveScope::Head);
  }
  if (!data) {
    m_curves = {};
    m_curves.kind = m_kind;
    m_curves.message = tr("Open a sweep file to see its curves");
  } else {
    try {
      m_curves = m_kind == SweepCurveKind::Loss
                     ? sweepLossCurves(*data)
                     : sweepStatCurves(*data, m_stat->currentData().toString(),
                                       static_cast<CurveScope>(m_scope->currentData().toInt()),
                                       m_layer->value(), m_head->value());
    } catch (const std::exception& error) {  // records the reader let through but analysis refuses
      m_curves = {};
      m_curves.kind = m_kind;
      m_curves.message = QString::fromStdString(error.what());
    }
  }
  draw();
}

void SweepCurveView::draw() {
  m_plot->clearGraphs();
  double x_lo = m_kind == SweepCurveKind::Statistic ? 1 : 0,
         x_hi = m_kind == SweepCurveKind::Statistic ? 4 : 1;
  double y_hi = 0;
  for (std::size_t i = 0; i < m_curves.curves.size(); ++i) {
    const QColor color = seriesColor(static_cast<int>(i));
    QVector<double> x, mean, lo, hi;
    for (const SweepCurvePoint& p : m_curves.curves[i]) {
      x << binCentre(p, m_kind), mean << p.value.mean, lo << p.value.lo, hi << p.value.hi;
      x_hi = std::max(x_hi, p.n_hi);
      if (std::isfinite(p.value.hi)) y_hi = std::max(y_hi, p.value.hi);
    }
    addBand(m_plot, x, lo, hi, color);
    QCPGraph* line = m_plot->addGraph();
    line->setData(x, mean, true);
    line->setPen(QPen(color, 2));
    line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, Qt::white, 5));
    line->setName(m_curves.normalizers.value(static_cast<int>(i)));
  }
  auto* title = qobject_cast<QCPTextElement*>(m_plot->plotLayout()->element(0, 0));
  title->setText(m_curves.message.isEmpty() ? m_curves.title : m_curves.message);
  m_plot->xAxis->setLabel(m_curves.xLabel);
  m_plot->yAxis->setLabel(m_curves.yLabel);
  m_plot->xAxis->setRange(x_lo, x_hi);
  const bool probability = m_kind == SweepCurveKind::Statistic && statisticIsProbability(m_curves.stat);
  m_plot->yAxis->setRange(0, probability ? 1.02 : (y_hi > 0 ? y_hi * 1.05 : 1));
  m_plot->legend->setVisible(m_plot->legend->itemCount() > 0);
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace attnscope::widgets
