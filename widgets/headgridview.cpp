#include "headgridview.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QPainter>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>

#include "capturedocument.h"
#include "colorlegend.h"
#include "colormaps.h"
#include "elidedlabel.h"
#include "headgridfigure.h"
#include "statisticnames.h"

namespace attnscope::widgets {
namespace {

/// Paints each cell in its statistic's colour even when selected (the style's highlight would hide the
/// value), and marks the selected head with a thick outline instead.
class HeadCellDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override {
    painter->save();
    const QRect cell = option.rect.adjusted(1, 1, -1, -1);
    painter->fillRect(cell, index.data(Qt::BackgroundRole).value<QBrush>());
    painter->setPen(index.data(Qt::ForegroundRole).value<QBrush>().color());
    painter->drawText(cell, Qt::AlignCenter, index.data(Qt::DisplayRole).toString());
    if (option.state & QStyle::State_Selected) {
      painter->setPen(QPen(QColor(255, 42, 109), 3));
      painter->setBrush(Qt::NoBrush);
      painter->drawRect(option.rect.adjusted(2, 2, -2, -2));
    }
    painter->restore();
  }
};

}  // namespace

HeadGridView::HeadGridView(CaptureDocument* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_model(new HeadGridModel(this)),
      m_statistic(new QComboBox(this)),
      m_difference(new QCheckBox(tr("Δ vs compare run"), this)),
      m_table(new QTableView(this)),
      m_legend(new ColorLegend(this)),
      m_status(new QLabel(this)) {
  addStatisticItems(m_statistic);
  letComboBoxGiveWay(m_statistic);
  m_difference->setToolTip(tr("Colour each head by the selected run's value minus the compare run's"));

  m_table->setModel(m_model);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  m_table->setSelectionBehavior(QAbstractItemView::SelectItems);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_table->horizontalHeader()->setMinimumSectionSize(34);
  m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_table->verticalHeader()->setMinimumSectionSize(22);
  m_table->setItemDelegate(new HeadCellDelegate(m_table));
  m_table->setShowGrid(false);
  m_status->setWordWrap(true);

  auto* controls = new QHBoxLayout;
  controls->addWidget(m_statistic, 1);
  controls->addWidget(m_difference);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addWidget(m_table, 1);
  layout->addWidget(m_legend);
  layout->addWidget(m_status);

  connect(m_statistic, &QComboBox::currentIndexChanged, this, &HeadGridView::reload);
  connect(m_difference, &QCheckBox::toggled, this, &HeadGridView::reload);
  connect(m_document, &CaptureDocument::documentChanged, this, &HeadGridView::reload);
  connect(m_document, &CaptureDocument::selectionChanged, this, &HeadGridView::onSelectionChanged);
  // Another colour map chosen (Colours, on the heatmap): the cells and the legend follow it.
  connect(ColorMapSetting::instance(), &ColorMapSetting::changed, this,
          [this] { showValues(HeadGridValues(m_model->values())); });
  connect(m_table->selectionModel(), &QItemSelectionModel::currentChanged, this,
          [this](const QModelIndex& current) {
            if (current.isValid()) m_document->setHead(current.row(), current.column());
          });
  reload();
}

void HeadGridView::setStat(const QString& stat) {
  m_statistic->setCurrentIndex(std::max(0, m_statistic->findData(stat)));
}

void HeadGridView::setDifference(bool difference) {
  m_difference->setChecked(difference);
}

void HeadGridView::onSelectionChanged(const Selection& selection) {
  m_difference->setEnabled(!selection.compareRun.isEmpty());
  const bool runsChanged = selection.run != m_shown.run || selection.compareRun != m_shown.compareRun;
  if (runsChanged) reload();
  showCurrentHead();
}

void HeadGridView::reload() {
  m_jobs.cancel();
  HeadGridRequest request;
  request.run = m_document->selection().run;
  request.compareRun = m_document->selection().compareRun;
  request.stat = m_statistic->currentData().toString();
  request.difference = m_difference->isChecked() && !request.compareRun.isEmpty();
  m_shown = request;
  auto file = m_document->file();
  if (!file) {
    m_model->clear();
    m_legend->clearScale();
    m_status->setText(tr("No capture open"));
    return;
  }
  m_status->setText(tr("Reading statistics…"));
  m_jobs.startJob([file, request](const CancelCheck&) { return computeHeadGrid(*file, request); },
                  [this](HeadGridValues values) {
                    showValues(values);
                    QString text = tr("%1 · run %2").arg(headGridTitle(values.request), values.request.run);
                    if (values.request.difference) text += tr(" − %1").arg(values.request.compareRun);
                    m_status->setText(text);
                    Q_EMIT contentReady();
                  },
                  [this](const QString& error) {
                    m_model->clear();
                    m_legend->clearScale();
                    m_status->setText(error);
                    Q_EMIT contentReady();
                  });
}

void HeadGridView::showValues(const HeadGridValues& values) {
  m_model->setValues(values);
  if (values.n_layer > 0)
    m_legend->setScale(headGridGradient(values), values.lo, values.hi, headGridLegendLabel(values));
  showCurrentHead();
}

void HeadGridView::showCurrentHead() {
  const Selection& selection = m_document->selection();
  const QModelIndex index = m_model->index(selection.layer, selection.head);
  if (!index.isValid() || m_table->currentIndex() == index) return;
  m_table->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect);
  m_table->scrollTo(index);
}

QCustomPlot* HeadGridView::exportPlot() const {
  auto* plot = findChild<QCustomPlot*>(QStringLiteral("headGridFigure"));
  if (!plot) {
    plot = new QCustomPlot(const_cast<HeadGridView*>(this));  // never shown: drawn only into files
    plot->setObjectName(QStringLiteral("headGridFigure"));
    plot->hide();
  }
  plot->resize(size());
  drawHeadGridFigure(plot, *m_model);
  return plot;
}

CsvTable HeadGridView::exportTable() const {
  const HeadGridValues& values = m_model->values();
  CsvTable table;
  table.header = QStringList{"layer", "head", values.request.difference ? "difference" : "value"};
  for (int layer = 0; layer < values.n_layer; ++layer)
    for (int head = 0; head < values.n_head; ++head)
      table.rows << QStringList{QString::number(layer), QString::number(head),
                                QString::number(m_model->value(layer, head))};
  return table;
}

}  // namespace attnscope::widgets
