#pragma once
// Layers × heads, one number per head: the table behind the head grid. The numbers are the per-head summaries
// of attnscope/analysis.h (the same as the compare table's and `attnscope-cli stats --heads`), computed off
// the GUI thread by computeHeadGrid() and handed to the model as one value struct.

#include <QAbstractTableModel>
#include <QString>

#include <qcustomplot.h>

#include <vector>

#include "statisticnames.h"

namespace attnscope {
class CaptureFile;
}

namespace attnscope::widgets {

struct HeadGridRequest {
  QString run;
  QString compareRun;                 // used when difference is set: value = run's − compareRun's
  QString stat = defaultStatistic();  // a statistic of the catalogue, summarised per head (summarizeHeads)
  bool difference = false;
};

/// What the grid shows, e.g. "Max attention, mean over the last 10% of queries".
QString headGridTitle(const HeadGridRequest& request);

struct HeadGridValues {
  HeadGridRequest request;
  int n_layer = 0, n_head = 0;
  std::vector<double> values;  // [n_layer, n_head], NaN where the run lacks the statistic
  double lo = 0, hi = 1;       // colour range; symmetric around 0 for differences
};

/// The colour scale of the grid: the user's colour map (savedColorMap) over [lo, hi], or the diverging
/// gradient for differences.
QCPColorGradient headGridGradient(const HeadGridValues& values);

/// The legend's label: the statistic's axis label, and for differences which run minus which.
QString headGridLegendLabel(const HeadGridValues& values);

/// Reads the statistic and summarises it per head. Throws StoreError. Safe to call off the GUI thread.
HeadGridValues computeHeadGrid(const CaptureFile& file, const HeadGridRequest& request);

class HeadGridModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  /// The raw value of a cell (double, NaN when missing).
  static constexpr int ValueRole = Qt::UserRole;

  explicit HeadGridModel(QObject* parent = nullptr);

  void setValues(const HeadGridValues& values);
  void clear();
  const HeadGridValues& values() const { return m_values; }
  double value(int layer, int head) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  QColor cellColor(double value) const;

  HeadGridValues m_values;
  mutable QCPColorGradient m_gradient;  // headGridGradient(m_values); color() fills its lookup table
};

}  // namespace attnscope::widgets
