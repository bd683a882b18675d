#pragma once
// How each head changed between two runs of the same prompt: one row per (layer, head) with the per-head
// summary of a statistic (attnscope/analysis.h: the mean over the last queries, the longest contexts) in run
// A, in run B, and A − B. Computed off the GUI thread by computeCompareSummary() and handed to the model as
// one value struct; sort it through a proxy on ValueRole.

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QString>

#include <cstdint>
#include <vector>

#include "statisticnames.h"

namespace attnscope {
class CaptureFile;
}

namespace attnscope::widgets {

struct CompareSummaryRequest {
  QString runA, runB;
  QString stat = defaultStatistic();
};

struct HeadChange {
  int layer = 0, head = 0;
  double a = 0, b = 0;   // NaN when the run lacks the statistic
  bool hasMaps = false;  // both runs store the head's map (the Compare panels can show it)
  double difference() const { return a - b; }
};

struct CompareSummary {
  CompareSummaryRequest request;
  int64_t q0 = 0, n_tokens = 0;   // the queries summarised: [q0, n_tokens)
  std::vector<HeadChange> heads;  // layer-major
};

/// Sorts a CompareSummaryModel on ValueRole with the heads whose maps are stored first, in either order: a
/// table sorted by change opens on heads the panels can show.
class CompareSortProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  using QSortFilterProxyModel::QSortFilterProxyModel;

 protected:
  bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;
};

/// Reads both runs' statistic and summarises it per head (summarizeHeads, attnscope/analysis.h). Throws
/// StoreError. Safe off the GUI thread.
CompareSummary computeCompareSummary(const CaptureFile& file, const CompareSummaryRequest& request);

class CompareSummaryModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { LayerColumn, HeadColumn, RunAColumn, RunBColumn, DifferenceColumn, ColumnCount };
  /// The raw number of a cell (int for layer/head, double for values, NaN when missing): sort on it.
  static constexpr int ValueRole = Qt::UserRole;
  /// Whether both runs store the row's head map (bool).
  static constexpr int HasMapsRole = Qt::UserRole + 1;

  explicit CompareSummaryModel(QObject* parent = nullptr);

  void setSummary(const CompareSummary& summary);
  void clear();
  const CompareSummary& summary() const { return m_summary; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  double m_largestChange = 0;  // |A − B| that gets the strongest colour
  CompareSummary m_summary;
};

}  // namespace attnscope::widgets
