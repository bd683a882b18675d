#include "compareview.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>

#include "capturedocument.h"
#include "comparefigure.h"
#include "elidedlabel.h"
#include "heatmapwidget.h"
#include "statisticnames.h"

namespace attnscope::widgets {
namespace {

constexpr int kMinMapWidth = 300;  // narrower, the maps stack (the window's docks give way first)
constexpr int kNotePollMs = 200;

}  // namespace

CompareView::CompareView(CaptureDocument* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_maps{new HeatmapWidget(document, this, HeatmapRole::Run),
             new HeatmapWidget(document, this, HeatmapRole::CompareRun),
             new HeatmapWidget(document, this, HeatmapRole::Difference)},
      m_model(new CompareSummaryModel(this)),
      m_proxy(new CompareSortProxy(this)),
      m_table(new QTableView(this)),
      m_stat(new QComboBox(this)),
      m_status(new ElidedLabel(this)),
      m_head(new QLabel(this)),
      m_mapsSplit(new QSplitter(Qt::Horizontal, this)),
      m_note(new QWidget(this)),
      m_noteText(new QLabel(this)),
      m_noteProgress(new QProgressBar(this)),
      m_noteButton(new QPushButton(this)),
      m_notePoll(new QTimer(this)) {
  m_head->setStyleSheet(QStringLiteral("font-weight: bold"));
  addStatisticItems(m_stat);
  letComboBoxGiveWay(m_stat);
  m_stat->setToolTip(tr("Statistic summarised per head: %1").arg(summaryDescription(defaultStatistic())));
  m_proxy->setSourceModel(m_model);
  m_proxy->setSortRole(CompareSummaryModel::ValueRole);
  m_table->setModel(m_proxy);
  m_table->setSortingEnabled(true);
  m_table->sortByColumn(CompareSummaryModel::DifferenceColumn, Qt::AscendingOrder);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::SingleSelection);
  m_table->verticalHeader()->hide();
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);

  for (int i = 0; i < 3; ++i) {
    m_maps[i]->setCompactTitle(true);
    m_mapsSplit->addWidget(m_maps[i]);
    m_mapsSplit->setStretchFactor(i, 1);  // equal widths: the difference map has no log checkbox to widen it
  }
  m_mapsSplit->setChildrenCollapsible(false);
  m_note->setObjectName(QStringLiteral("differenceNote"));
  m_noteButton->setObjectName(QStringLiteral("differenceNoteButton"));
  m_noteProgress->setRange(0, 100);
  m_noteProgress->setMaximumWidth(160);
  auto* noteLayout = new QHBoxLayout(m_note);
  noteLayout->setContentsMargins(0, 0, 0, 0);
  noteLayout->addWidget(m_noteText, 1);
  noteLayout->addWidget(m_noteProgress);
  noteLayout->addWidget(m_noteButton);
  m_note->hide();
  auto* summary = new QWidget(this);
  auto* controls = new QHBoxLayout;
  controls->addWidget(
      new ElidedLabel(tr("Per-head change, %1:").arg(summaryDescription(defaultStatistic())), this));
  controls->addWidget(m_stat);
  controls->addWidget(m_status, 1);
  auto* summaryLayout = new QVBoxLayout(summary);
  summaryLayout->setContentsMargins(2, 2, 2, 2);
  summaryLayout->addLayout(controls);
  summaryLayout->addWidget(m_table, 1);
  auto* top = new QWidget(this);
  auto* topLayout = new QVBoxLayout(top);
  topLayout->setContentsMargins(2, 2, 2, 0);
  topLayout->addWidget(m_head);
  topLayout->addWidget(m_note);
  topLayout->addWidget(m_mapsSplit, 1);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(top);
  split->addWidget(summary);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(split);

  for (HeatmapWidget* map : m_maps)
    for (QCPAxis* axis : {map->plot()->xAxis, map->plot()->yAxis})
      connect(axis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
              [this, map] { syncRangesFrom(map); });
  connect(m_stat, &QComboBox::currentIndexChanged, this, &CompareView::reload);
  connect(m_noteButton, &QPushButton::clicked, this, &CompareView::toggleDifferenceBuild);
  // The build runs inside the difference map's tile read: its progress is polled, not signalled.
  connect(m_notePoll, &QTimer::timeout, this, &CompareView::updateDifferenceNote);
  m_notePoll->start(kNotePollMs);
  connect(m_document, &CaptureDocument::documentChanged, this, &CompareView::onDocumentChanged);
  connect(m_document, &CaptureDocument::selectionChanged, this, &CompareView::reload);
  connect(m_table, &QTableView::clicked, this, [this](const QModelIndex& index) {
    const QModelIndex source = m_proxy->mapToSource(index);
    const HeadChange& change = m_model->summary().heads.at(static_cast<std::size_t>(source.row()));
    m_document->setHead(change.layer, change.head);
  });
  reload();
}

void CompareView::setStat(const QString& stat) {
  m_stat->setCurrentIndex(std::max(0, m_stat->findData(stat)));
}

void CompareView::syncRangesFrom(HeatmapWidget* source) {
  if (m_syncing) return;
  m_syncing = true;  // setting the others' ranges re-enters through their rangeChanged
  for (HeatmapWidget* map : m_maps) {
    if (map == source) continue;
    map->plot()->xAxis->setRange(source->plot()->xAxis->range());
    map->plot()->yAxis->setRange(source->plot()->yAxis->range());
    map->plot()->replot(QCustomPlot::rpQueuedReplot);
  }
  m_syncing = false;
}

std::optional<DifferenceKey> CompareView::differenceKey() const {
  const Selection& s = m_document->selection();
  const auto file = m_document->file();
  const RunInfo* run = m_document->runInfo(s.run);
  const RunInfo* other = m_document->runInfo(s.compareRun);
  if (!file || !run || !other || s.compareRun.isEmpty()) return std::nullopt;
  return widgets::differenceKey(file->path(), *run, *other,
                                CaptureDocument::mapHook(s.layer, differenceMap()->mapKind()), s.head);
}

QString CompareView::differenceNote() const {
  return m_note->isVisibleTo(this) ? m_noteText->text() : QString();
}

void CompareView::updateDifferenceNote() {
  const std::optional<DifferenceKey> key = isVisible() ? differenceKey() : std::nullopt;
  const std::optional<DifferenceBuild> build = key ? DifferencePyramids::shared().build(*key) : std::nullopt;
  if (!build || build->done || (!build->declined && !differenceMap()->isLoading())) {
    m_note->hide();
    return;
  }
  if (build->declined) {
    m_noteText->setText(tr("Difference overview cancelled at %1%: its map is not drawn.")
                            .arg(static_cast<int>(100 * build->fraction)));
    m_noteButton->setText(tr("Compute"));
    m_noteProgress->hide();
  } else {
    m_noteText->setText(tr("Computing the difference overview (largest change per block, once per head)…"));
    m_noteButton->setText(tr("Cancel"));
    m_noteProgress->setValue(static_cast<int>(100 * build->fraction));
    m_noteProgress->show();
  }
  m_note->show();
}

void CompareView::toggleDifferenceBuild() {
  const std::optional<DifferenceKey> key = differenceKey();
  if (!key) return;
  DifferencePyramids& pyramids = DifferencePyramids::shared();
  const std::optional<DifferenceBuild> build = pyramids.build(*key);
  if (build && build->declined) {
    pyramids.allow(*key);
    differenceMap()->setCompactTitle(true);  // forgets its tile and reads the head again: resumes the build
  } else {
    pyramids.decline(*key);
  }
  updateDifferenceNote();
}

void CompareView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  // Three maps side by side need kMinMapWidth each; narrower, they stack where the view is tall enough to
  // give each that much height.
  const bool stack = width() < 3 * kMinMapWidth + 24 && height() >= 3 * kMinMapWidth + 120;
  const Qt::Orientation orientation = stack ? Qt::Vertical : Qt::Horizontal;
  if (m_mapsSplit->orientation() != orientation) m_mapsSplit->setOrientation(orientation);
  // Equal shares again: growing, a splitter adds to its widgets in proportion to what they had, so maps
  // squeezed to unequal minimum widths (only two have a log checkbox) would stay unequal.
  m_mapsSplit->setSizes({1000, 1000, 1000});
}

void CompareView::onDocumentChanged() {
  // Another file may name its runs as the last one did: the rows shown, or being read, are the old file's.
  m_jobs.cancel();
  m_shown = {};
  m_model->clear();
  reload();
}

void CompareView::reload() {
  const Selection& selection = m_document->selection();
  m_head->setText(m_document->isOpen() ? tr("Layer %1 · head %2").arg(selection.layer).arg(selection.head)
                                       : QString());
  CompareSummaryRequest request;
  request.runA = selection.run;
  request.runB = selection.compareRun;
  request.stat = m_stat->currentData().toString();
  auto file = m_document->file();
  if (!file || request.runB.isEmpty()) {
    m_jobs.cancel();
    m_shown = request;
    m_model->clear();
    m_status->setText(file ? tr("Choose a run to compare with (toolbar: Compare with)") : QString());
    Q_EMIT contentReady();
    return;
  }
  if (request.runA == m_shown.runA && request.runB == m_shown.runB && request.stat == m_shown.stat &&
      (m_model->rowCount() > 0 || m_jobs.isRunning()))
    return;  // only the head or query changed
  m_shown = request;
  m_status->setText(tr("Reading…"));
  m_jobs.startJob([file, request](const CancelCheck&) { return computeCompareSummary(*file, request); },
                  [this](CompareSummary summary) {
                    m_status->setText(tr("%1 heads · queries %2–%3 · click a row to show that head")
                                          .arg(summary.heads.size())
                                          .arg(summary.q0)
                                          .arg(summary.n_tokens - 1));
                    m_model->setSummary(summary);
                    m_table->scrollToTop();  // sorted by change, heads with maps first
                    Q_EMIT contentReady();
                  },
                  [this](const QString& error) {
                    m_model->clear();
                    m_status->setText(error);
                    Q_EMIT contentReady();
                  });
}

}  // namespace attnscope::widgets

namespace attnscope::widgets {

bool CompareView::isLoading() const {
  return m_jobs.isRunning() || std::any_of(std::begin(m_maps), std::end(m_maps),
                                           [](const HeatmapWidget* map) { return map->isLoading(); });
}

QString CompareView::figureTitle() const {
  const Selection& s = m_document->selection();
  if (!m_document->isOpen()) return tr("Compare runs");
  return tr("Layer %1 · head %2 · %3 vs %4").arg(s.layer).arg(s.head).arg(s.run, s.compareRun);
}

std::unique_ptr<Figure> CompareView::exportFigure() const {
  HeatmapWidget* const maps[] = {m_maps[0], m_maps[1], m_maps[2]};
  return std::make_unique<CompareFigure>(
      figureTitle(), QVector<QCustomPlot*>{maps[0]->plot(), maps[1]->plot(), maps[2]->plot()},
      [maps](bool exporting) {
        for (HeatmapWidget* map : maps) map->setScaleCaptionShown(exporting);
      });
}

CsvTable CompareView::exportTable() const {
  const CompareSummary& summary = m_model->summary();
  CsvTable table;
  table.header =
      QStringList{"layer", "head", summary.request.runA, summary.request.runB, "difference", "has_maps"};
  for (const HeadChange& change : summary.heads)
    table.rows << QStringList{QString::number(change.layer),
                              QString::number(change.head),
                              QString::number(change.a),
                              QString::number(change.b),
                              QString::number(change.difference()),
                              change.hasMaps ? QStringLiteral("1") : QStringLiteral("0")};
  return table;
}

}  // namespace attnscope::widgets
