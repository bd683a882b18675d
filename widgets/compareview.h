#pragma once
// Compare: the run and the compare run of the selected head side by side with their difference (run − compare
// run, diverging colours), zoom and pan synchronised across the three maps, and a sortable per-head summary
// of how each head changed. Clicking a row selects that head.

#include <QWidget>

#include <optional>

#include "comparesummarymodel.h"
#include "differencepyramid.h"
#include "jobtracker.h"
#include "plotexport.h"

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSplitter;
class QTableView;
class QTimer;

namespace attnscope::widgets {

class CaptureDocument;
class HeatmapWidget;
struct Selection;

class CompareView : public QWidget, public ExportSource {
  Q_OBJECT
 public:
  explicit CompareView(CaptureDocument* document, QWidget* parent = nullptr);

  HeatmapWidget* runMap() const { return m_maps[0]; }
  HeatmapWidget* compareMap() const { return m_maps[1]; }
  HeatmapWidget* differenceMap() const { return m_maps[2]; }
  CompareSummaryModel* summaryModel() const { return m_model; }
  QTableView* summaryTable() const { return m_table; }
  void setStat(const QString& stat);
  /// Whether a panel's tile read or the summary is pending or running.
  bool isLoading() const;
  /// The figure's title: the head and the runs compared.
  QString figureTitle() const;
  /// The note over the maps while the difference overview is computed (or after it was cancelled), or "".
  QString differenceNote() const;
  /// Cancels the difference overview being computed, or computes a cancelled one (the note's button).
  void toggleDifferenceBuild();
  /// The splitter holding the three maps (horizontal, or vertical when the view is narrow).
  QSplitter* mapsSplitter() const { return m_mapsSplit; }

  QString exportName() const override { return QStringLiteral("compare"); }
  /// The three panels side by side under one title, each with its title and colour scale (comparefigure.h).
  std::unique_ptr<Figure> exportFigure() const override;
  QWidget* exportWidget() const override { return const_cast<CompareView*>(this); }
  /// The per-head summary: layer, head, the statistic in each run and the change.
  CsvTable exportTable() const override;

 protected:
  void resizeEvent(QResizeEvent* event) override;

 Q_SIGNALS:
  /// The summary table holds the latest request's rows (or an error is shown).
  void contentReady();

 private:
  void onDocumentChanged();
  void reload();
  void syncRangesFrom(HeatmapWidget* source);
  /// The difference map's pyramid key for the selection, if it shows one.
  std::optional<DifferenceKey> differenceKey() const;
  void updateDifferenceNote();

  CaptureDocument* m_document;
  HeatmapWidget* m_maps[3];
  CompareSummaryModel* m_model;
  CompareSortProxy* m_proxy;
  QTableView* m_table;
  QComboBox* m_stat;
  QLabel* m_status;
  QLabel* m_head;
  QSplitter* m_mapsSplit;
  QWidget* m_note;  // "computing the difference overview…", progress and Cancel
  QLabel* m_noteText;
  QProgressBar* m_noteProgress;
  QPushButton* m_noteButton;
  QTimer* m_notePoll;
  CompareSummaryRequest m_shown;
  JobTracker m_jobs{this};
  bool m_syncing = false;
};

}  // namespace attnscope::widgets
