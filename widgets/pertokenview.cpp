#include "pertokenview.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

#include "capturedocument.h"
#include "elidedlabel.h"
#include "pertokenmodel.h"

namespace attnscope::widgets {

PerTokenView::PerTokenView(CaptureDocument* document, QWidget* parent)
    : QWidget(parent),
      m_document(document),
      m_model(new PerTokenModel(this)),
      m_proxy(new QSortFilterProxyModel(this)),
      m_table(new QTableView(this)),
      m_caption(new ElidedLabel(this)) {
  m_proxy->setSourceModel(m_model);
  m_proxy->setSortRole(PerTokenModel::SortRole);
  m_table->setModel(m_proxy);
  m_table->setSortingEnabled(true);
  m_table->sortByColumn(PerTokenModel::PositionColumn, Qt::AscendingOrder);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
  m_table->verticalHeader()->hide();
  // Uniform rows: a 64k-token table lays out without measuring every row.
  m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 4);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_caption->setTextFormat(Qt::PlainText);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_caption);
  layout->addWidget(m_table);

  auto* copy = new QAction(tr("Copy rows as TSV"), this);
  copy->setShortcut(QKeySequence::Copy);
  copy->setShortcutContext(Qt::WidgetWithChildrenShortcut);
  connect(copy, &QAction::triggered, this, &PerTokenView::copySelection);
  addAction(copy);

  connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (m_syncing || !current.isValid()) return;
            const int query = m_proxy->mapToSource(current).row();
            m_syncing = true;
            m_document->setQuery(query);
            m_syncing = false;
          });
  connect(m_document, &CaptureDocument::documentChanged, this, [this] {
    m_headKey.clear();
    onSelectionChanged(m_document->selection());
  });
  connect(m_document, &CaptureDocument::selectionChanged, this, &PerTokenView::onSelectionChanged);
  onSelectionChanged(m_document->selection());
}

void PerTokenView::onSelectionChanged(const Selection& selection) {
  const QString key = QStringLiteral("%1/%2/%3").arg(selection.run).arg(selection.layer).arg(selection.head);
  if (key != m_headKey) {
    m_headKey = key;
    reload();
    return;
  }
  if (!m_syncing) showQuery(selection.query);
}

void PerTokenView::reload() {
  m_jobs.cancel();
  const Selection selection = m_document->selection();
  auto file = m_document->file();
  if (!file || !m_document->runInfo(selection.run)) {
    m_model->clear();
    m_caption->setText(tr("Open a capture file to see each query's statistics here."));
    QMetaObject::invokeMethod(this, &PerTokenView::contentReady, Qt::QueuedConnection);
    return;
  }
  m_caption->setText(
      tr("Reading %1 · layer %2 · head %3…").arg(selection.run).arg(selection.layer).arg(selection.head));
  const QString run = selection.run;
  const int layer = selection.layer, head = selection.head;
  m_jobs.startJob(
      [file, run, layer, head](const CancelCheck&) { return readPerTokenTable(*file, run, layer, head); },
      [this, run, layer, head](PerTokenTable table) {
        QStringList display;
        display.reserve(m_document->nTokens());
        for (int i = 0; i < m_document->nTokens(); ++i) display << m_document->displayToken(i);
        m_model->setTable(std::move(table), std::move(display));
        m_table->resizeColumnsToContents();  // measures the visible rows only (uniform row height)
        m_caption->setText(tr("Each query of %1 · layer %2 · head %3 · click a row to make it the query · "
                              "Ctrl+C copies rows as TSV")
                               .arg(run)
                               .arg(layer)
                               .arg(head));
        showQuery(m_document->selection().query);
        Q_EMIT contentReady();
      },
      [this](const QString& error) {
        m_model->clear();
        m_caption->setText(tr("Cannot read the statistics: %1").arg(error));
        Q_EMIT contentReady();
      });
}

void PerTokenView::showQuery(int query) {
  const QModelIndex index = m_proxy->mapFromSource(m_model->index(query, 0));
  if (!index.isValid()) return;
  m_syncing = true;
  m_table->selectionModel()->setCurrentIndex(index,
                                             QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  m_table->scrollTo(index, QAbstractItemView::PositionAtCenter);
  m_syncing = false;
}

QString PerTokenView::selectedTsv() const {
  QModelIndexList selected = m_table->selectionModel()->selectedRows();
  std::sort(selected.begin(), selected.end(),
            [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
  QList<int> rows;
  for (const QModelIndex& index : selected) rows << m_proxy->mapToSource(index).row();
  return perTokenTsv(*m_model, rows);
}

void PerTokenView::copySelection() const {
  QApplication::clipboard()->setText(selectedTsv());
}

}  // namespace attnscope::widgets
