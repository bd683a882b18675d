#include "pertokenmodel.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "attnscope/statistics.h"
#include "attnscope/store.h"
#include "statisticnames.h"

namespace attnscope::widgets {

PerTokenTable readPerTokenTable(const CaptureFile& file, const QString& run, int layer, int head) {
  const RunInfo info = file.run(run.toStdString());
  std::vector<std::string> wanted = viewedStatistics();
  wanted.insert(std::find(wanted.begin(), wanted.end(), kStatMaxProb) + 1, kStatArgmax);
  PerTokenTable table;
  table.nTokens = static_cast<int>(info.n_tokens);
  for (const std::string& stat : wanted) {
    if (std::find(info.stats.begin(), info.stats.end(), stat) == info.stats.end()) continue;
    std::vector<float> values = file.readStat(info.name, stat, layer, head);  // [T]
    if (values.size() != static_cast<std::size_t>(info.n_tokens))
      throw StoreError("statistic " + stat + " of run " + info.name + " has " +
                       std::to_string(values.size()) + " values for " + std::to_string(info.n_tokens) +
                       " tokens");
    table.stats << QString::fromStdString(stat);
    table.values.push_back(std::move(values));
  }
  return table;
}

PerTokenModel::PerTokenModel(QObject* parent) : QAbstractTableModel(parent) {}

void PerTokenModel::setTable(PerTokenTable table, QStringList display) {
  beginResetModel();
  m_table = std::move(table);
  m_display = std::move(display);
  endResetModel();
}

void PerTokenModel::clear() {
  setTable({}, {});
}

int PerTokenModel::statColumn(const QString& stat) const {
  const int i = m_table.stats.indexOf(stat);
  return i < 0 ? -1 : FirstStatColumn + i;
}

int PerTokenModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : m_table.nTokens;
}

int PerTokenModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() || m_table.nTokens == 0 ? 0
                                                  : FirstStatColumn + static_cast<int>(m_table.stats.size());
}

QString PerTokenModel::cellText(int row, int column) const {
  if (column == PositionColumn) return QString::number(row);
  if (column == TokenColumn) return m_display.value(row);
  const QString& stat = m_table.stats[column - FirstStatColumn];
  const float value =
      m_table.values[static_cast<std::size_t>(column - FirstStatColumn)][static_cast<std::size_t>(row)];
  if (std::isnan(value)) return QStringLiteral("—");  // undefined for this query (statistics.h)
  if (stat == QLatin1String(kStatArgmax)) {
    const int key = static_cast<int>(value);
    return QStringLiteral("%1 «%2»").arg(key).arg(m_display.value(key));
  }
  return QString::number(static_cast<double>(value), 'g', 4);
}

QVariant PerTokenModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const int row = index.row(), column = index.column();
  switch (role) {
    case Qt::DisplayRole:
      return cellText(row, column);
    case SortRole: {
      if (column == PositionColumn) return row;
      if (column == TokenColumn) return m_display.value(row);
      const float value =
          m_table.values[static_cast<std::size_t>(column - FirstStatColumn)][static_cast<std::size_t>(row)];
      return static_cast<double>(value);  // NaN sorts as incomparable; QSortFilterProxyModel keeps it stable
    }
    case Qt::TextAlignmentRole:
      return column == TokenColumn ? QVariant(Qt::AlignLeft | Qt::AlignVCenter)
                                   : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    default:
      return {};
  }
}

QVariant PerTokenModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || section < 0 || section >= columnCount()) return {};
  if (role == Qt::DisplayRole) {
    if (section == PositionColumn) return tr("query");
    if (section == TokenColumn) return tr("token");
    const QString& stat = m_table.stats[section - FirstStatColumn];
    return stat == QLatin1String(kStatArgmax) ? tr("argmax key") : statisticTitle(stat);
  }
  if (role == NameRole) {
    if (section == PositionColumn) return QStringLiteral("query");
    if (section == TokenColumn) return QStringLiteral("token");
    return m_table.stats[section - FirstStatColumn];
  }
  if (role == Qt::ToolTipRole && section >= FirstStatColumn)
    return statisticAxisLabel(m_table.stats[section - FirstStatColumn]);
  return {};
}

QString perTokenTsv(const QAbstractItemModel& model, const QList<int>& rows) {
  const auto clean = [](QString text) {
    text.replace(QLatin1Char('\t'), QLatin1Char(' '));
    text.replace(QLatin1Char('\n'), QLatin1Char(' '));
    return text;
  };
  QStringList lines, cells;
  for (int c = 0; c < model.columnCount(); ++c)
    cells << clean(model.headerData(c, Qt::Horizontal, PerTokenModel::NameRole).toString());
  lines << cells.join(QLatin1Char('\t'));
  for (int row : rows) {
    cells.clear();
    for (int c = 0; c < model.columnCount(); ++c) cells << clean(model.index(row, c).data().toString());
    lines << cells.join(QLatin1Char('\t'));
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

}  // namespace attnscope::widgets
