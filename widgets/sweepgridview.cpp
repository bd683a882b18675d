#include "sweepgridview.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "colormaps.h"
#include "sweepdocument.h"

namespace attnscope::widgets {
namespace {

QString noSweepMessage(const SweepData* data, SweepGridKind kind) {
  if (!data) return QObject::tr("Open a sweep file to see its grids");
  if (data->grid().mode != SweepMode::Needle)
    return kind == SweepGridKind::Retrieval
               ? QObject::tr("A documents sweep retrieves nothing: sweep with --needle for this grid")
               : QObject::tr("A documents sweep has no needle: sweep with --needle for needle scores");
  return {};
}

}  // namespace

SweepGridFigure retrievalFigure(const SweepData& data, bool exact) {
  SweepGridFigure figure;
  const SweepGrid& grid = data.grid();
  figure.title = exact ? QObject::tr("Needle retrieval: exact match of the greedy answer")
                       : QObject::tr("Needle retrieval: share of the answer's digits in place");
  figure.rowName = QObject::tr("length");
  figure.colName = QObject::tr("depth");
  figure.rowAxis = QObject::tr("prompt length (tokens)");
  figure.colAxis = QObject::tr("needle depth (share of the haystack)");
  figure.valueLabel = exact ? QObject::tr("share exactly correct") : QObject::tr("digit accuracy");
  figure.message = noSweepMessage(&data, SweepGridKind::Retrieval);
  if (!figure.message.isEmpty()) return figure;
  for (int64_t length : grid.lengths) figure.rowLabels << QString::number(length);
  for (double depth : grid.depths) figure.colLabels << QString::number(depth, 'g', 3);
  for (int i = 0; i < data.nNormalizers(); ++i) {
    figure.panels << data.normalizer(i);
    figure.cells.push_back(retrievalGrid(grid, data.records[static_cast<std::size_t>(i)], exact));
  }
  return figure;
}

SweepGridFigure needleHeadsFigure(const SweepData& data, int64_t length) {
  SweepGridFigure figure;
  figure.title =
      QObject::tr("Attention mass on the needle per head · %1 tokens · mean over depths and prompts")
          .arg(length);
  figure.rowName = QObject::tr("layer");
  figure.colName = QObject::tr("head");
  figure.rowAxis = QObject::tr("layer");
  figure.colAxis = QObject::tr("head");
  figure.valueLabel = QObject::tr("attention mass on the needle");
  figure.rowsDown = true;
  figure.valueDecimals = 3;
  figure.message = noSweepMessage(&data, SweepGridKind::NeedleHeads);
  if (!figure.message.isEmpty()) return figure;
  for (int layer = 0; layer < data.nLayer(); ++layer) figure.rowLabels << QString::number(layer);
  for (int head = 0; head < data.nHead(); ++head) figure.colLabels << QString::number(head);
  double largest = 0;
  for (int i = 0; i < data.nNormalizers(); ++i) {
    figure.panels << data.normalizer(i);
    figure.cells.push_back(needleScoreGrid(data.grid(), data.records[static_cast<std::size_t>(i)], length,
                                           data.nLayer(), data.nHead()));
    for (const SweepEstimate& e : figure.cells.back())
      if (!std::isnan(e.mean)) largest = std::max(largest, e.mean);
  }
  figure.range = QCPRange(0, largest > 0 ? largest : 1);
  return figure;
}

SweepGridView::SweepGridView(SweepDocument* document, SweepGridKind kind, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_kind(kind),
      m_plot(new QCustomPlot(this)),
      m_choice(new QComboBox(this)) {
  m_plot->setMinimumSize(300, 220);
  m_plot->installEventFilter(this);
  auto* controls = new QHBoxLayout;
  if (kind == SweepGridKind::Retrieval) {
    controls->addWidget(new QLabel(tr("Accuracy:"), this));
    m_choice->addItem(tr("Exact match"), true);
    m_choice->addItem(tr("Digit accuracy"), false);
    m_choice->setToolTip(
        tr("Exact: the greedy answer starts with the needle's number.\n"
           "Digits: the share of its digits generated at their place."));
  } else {
    controls->addWidget(new QLabel(tr("Length:"), this));
    m_choice->setToolTip(tr("The prompt length whose needle scores are shown"));
  }
  controls->addWidget(m_choice);
  controls->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(2, 2, 2, 2);
  layout->addLayout(controls);
  layout->addWidget(m_plot, 1);
  connect(m_choice, &QComboBox::currentIndexChanged, this, &SweepGridView::rebuild);
  connect(m_document, &SweepDocument::documentChanged, this, &SweepGridView::onDocumentChanged);
  // Another colour map chosen (Colours, on a capture's heatmap): the grids follow it.
  connect(ColorMapSetting::instance(), &ColorMapSetting::changed, this, &SweepGridView::rebuild);
  onDocumentChanged();
}

QWidget* SweepGridView::exportWidget() const {
  return m_plot;
}

QString SweepGridView::exportName() const {
  return m_kind == SweepGridKind::Retrieval ? QStringLiteral("retrieval") : QStringLiteral("needle-heads");
}

void SweepGridView::setExact(bool exact) {
  if (m_kind == SweepGridKind::Retrieval) m_choice->setCurrentIndex(m_choice->findData(exact));
}

void SweepGridView::setLength(int64_t length) {
  const int index = m_choice->findData(QVariant::fromValue<qlonglong>(length));
  if (m_kind == SweepGridKind::NeedleHeads && index >= 0) m_choice->setCurrentIndex(index);
}

void SweepGridView::onDocumentChanged() {
  if (m_kind == SweepGridKind::NeedleHeads) {
    const QSignalBlocker block(m_choice);
    m_choice->clear();
    if (const auto data = m_document->data())
      for (int64_t length : data->grid().lengths)
        m_choice->addItem(tr("%1 tokens").arg(length), QVariant::fromValue<qlonglong>(length));
    m_choice->setCurrentIndex(m_choice->count() - 1);  // the longest: where normalizers differ most
  }
  rebuild();
}

void SweepGridView::rebuild() {
  const auto data = m_document->data();
  if (!data) {
    m_figure = {};
    m_figure.message = noSweepMessage(nullptr, m_kind);
  } else {
    try {
      m_figure = m_kind == SweepGridKind::Retrieval
                     ? retrievalFigure(*data, m_choice->currentData().toBool())
                     : needleHeadsFigure(*data, m_choice->currentData().toLongLong());
    } catch (const std::exception& error) {  // records the reader let through but analysis refuses
      m_figure = {};
      m_figure.message = QString::fromStdString(error.what());
    }
  }
  drawSweepGrid(m_plot, m_figure);
}

QString SweepGridView::toolTipAt(const QPoint& pos) const {
  return sweepCellToolTip(m_figure, sweepGridHitAt(m_plot, m_figure, pos));
}

bool SweepGridView::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_plot && event->type() == QEvent::ToolTip) {
    const auto* help = static_cast<QHelpEvent*>(event);
    const QString text = toolTipAt(help->pos());
    if (text.isEmpty())
      QToolTip::hideText();
    else
      QToolTip::showText(help->globalPos(), text, m_plot);
    return true;
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace attnscope::widgets
