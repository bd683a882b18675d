#pragma once
// Compare: the run and the compare run of the selected head side by side with their difference (run − compare
// run, diverging colours), zoom and pan synchronised across the three maps, and a sortable per-head summary
// of how each head changed. Clicking a row selects that head.

#include <QWidget>

#include "comparesummarymodel.h"
#include "jobtracker.h"

class QComboBox;
class QLabel;
class QSortFilterProxyModel;
class QTableView;

namespace attnscope::widgets {

class CaptureDocument;
class HeatmapWidget;
struct Selection;

class CompareView : public QWidget {
  Q_OBJECT
 public:
  explicit CompareView(CaptureDocument* document, QWidget* parent = nullptr);

  HeatmapWidget* runMap() const { return m_maps[0]; }
  HeatmapWidget* compareMap() const { return m_maps[1]; }
  HeatmapWidget* differenceMap() const { return m_maps[2]; }
  CompareSummaryModel* summaryModel() const { return m_model; }
  QTableView* summaryTable() const { return m_table; }
  void setStat(const QString& stat);

 Q_SIGNALS:
  /// The summary table holds the latest request's rows (or an error is shown).
  void contentReady();

 private:
  void onDocumentChanged();
  void reload();
  void syncRangesFrom(HeatmapWidget* source);

  CaptureDocument* m_document;
  HeatmapWidget* m_maps[3];
  CompareSummaryModel* m_model;
  QSortFilterProxyModel* m_proxy;
  QTableView* m_table;
  QComboBox* m_stat;
  QLabel* m_status;
  QLabel* m_head;
  CompareSummaryRequest m_shown;
  JobTracker m_jobs{this};
  bool m_syncing = false;
};

}  // namespace attnscope::widgets
