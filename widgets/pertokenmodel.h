#pragma once
// The per-token table of one head: one row per query with its position, token and every per-query statistic
// the run stores (catalogue order, attnscope/statistics.h), the argmax key shown as its token. Reading is a
// plain function so views run it off the GUI thread; the model only holds what was read.

#include <QAbstractTableModel>
#include <QStringList>

#include <vector>

namespace attnscope {
class CaptureFile;
}

namespace attnscope::widgets {

/// One head's per-query statistics, as read from a capture.
struct PerTokenTable {
  QStringList stats;                       // statistic names, in column order (the run stores each)
  std::vector<std::vector<float>> values;  // [stats.size()][T]: values[s][query]
  int nTokens = 0;
};

/// Reads run's statistics of (layer, head) that the views offer (viewedStatistics, with argmax after
/// max_prob) and the run stores. Throws StoreError on a broken file.
PerTokenTable readPerTokenTable(const CaptureFile& file, const QString& run, int layer, int head);

class PerTokenModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  /// Column 0 is the query position, column 1 its token, then one column per statistic.
  enum Column { PositionColumn = 0, TokenColumn = 1, FirstStatColumn = 2 };
  /// Numeric value of a cell for sorting (position, statistic value; the token column sorts by text).
  static constexpr int SortRole = Qt::UserRole + 1;
  /// Header role: the column's machine name ("query", "token", or the statistic's dataset name).
  static constexpr int NameRole = Qt::UserRole + 2;

  explicit PerTokenModel(QObject* parent = nullptr);

  /// Shows a table; tokens are the decoded token strings, display the strings drawn for them.
  void setTable(PerTokenTable table, QStringList display);
  void clear();
  const PerTokenTable& table() const { return m_table; }
  /// The column of a statistic, or -1.
  int statColumn(const QString& stat) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  QString cellText(int row, int column) const;

  PerTokenTable m_table;
  QStringList m_display;  // per token, as drawn (␣ for space, ...)
};

/// The rows as tab-separated text with a header line (NameRole of a PerTokenModel's columns), one line per
/// row; tabs and newlines inside cells become spaces so the table pastes into spreadsheets intact.
QString perTokenTsv(const QAbstractItemModel& model, const QList<int>& rows);

}  // namespace attnscope::widgets
