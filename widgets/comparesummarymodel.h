#pragma once
// How each head changed between two runs of the same prompt: one row per (layer, head) with a statistic
// averaged over the last queries (the longest contexts) in run A, in run B, and A − B. Computed off the GUI
// thread by computeCompareSummary() and handed to the model as one value struct; sort it through a proxy on
// ValueRole.

#include <QAbstractTableModel>
#include <QString>

#include <cstdint>
#include <vector>

namespace attnscope {
class CaptureFile;
}

namespace attnscope::gui {

struct CompareSummaryRequest {
  QString runA, runB;
  QString stat = QStringLiteral("max_prob");
  double tailFraction = 0.1;  // average over the last 10% of queries (at least one)
};

struct HeadChange {
  int layer = 0, head = 0;
  double a = 0, b = 0;  // NaN when the run lacks the statistic
  double difference() const { return a - b; }
};

struct CompareSummary {
  CompareSummaryRequest request;
  int64_t q0 = 0, n_tokens = 0;   // the queries averaged: [q0, n_tokens)
  std::vector<HeadChange> heads;  // layer-major
};

/// The first query of the tail: n_tokens − max(1, ceil(fraction · n_tokens)).
int64_t tailBegin(int64_t n_tokens, double fraction);

/// Reads both runs' statistic and averages it over the tail per head. Throws StoreError. Safe off the GUI
/// thread.
CompareSummary computeCompareSummary(const CaptureFile& file, const CompareSummaryRequest& request);

class CompareSummaryModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { LayerColumn, HeadColumn, RunAColumn, RunBColumn, DifferenceColumn, ColumnCount };
  /// The raw number of a cell (int for layer/head, double for values, NaN when missing): sort on it.
  static constexpr int ValueRole = Qt::UserRole;

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

}  // namespace attnscope::gui
