#include "comparesummarymodel.h"

#include <QBrush>

#include <algorithm>
#include <cmath>

#include "attnscope/analysis.h"
#include "attnscope/store.h"
#include "capturedocument.h"
#include "colormaps.h"

namespace attnscope::widgets {
namespace {

QString formatValue(double v) {
  return std::isfinite(v) ? QString::number(v, 'f', 4) : QStringLiteral("–");
}

}  // namespace

CompareSummary computeCompareSummary(const CaptureFile& file, const CompareSummaryRequest& request) {
  CompareSummary summary;
  summary.request = request;
  const RunInfo a = file.run(request.runA.toStdString()), b = file.run(request.runB.toStdString());
  if (a.n_layer != b.n_layer || a.n_head != b.n_head || a.n_tokens != b.n_tokens)
    throw StoreError("runs " + a.name + " and " + b.name + " differ in heads or tokens");
  const std::string stat = request.stat.toStdString();
  const HeadSummaries summaryA = summarizeHeads(file, a.name, stat),
                      summaryB = summarizeHeads(file, b.name, stat);
  summary.n_tokens = a.n_tokens;
  summary.q0 = summaryA.q0;
  const std::vector<double>&meansA = summaryA.values, &meansB = summaryB.values;
  for (int64_t layer = 0; layer < a.n_layer; ++layer)
    for (int64_t head = 0; head < a.n_head; ++head) {
      const auto i = static_cast<std::size_t>(layer * a.n_head + head);
      const bool maps = runHasMap(a, static_cast<int>(layer), static_cast<int>(head)) &&
                        runHasMap(b, static_cast<int>(layer), static_cast<int>(head));
      summary.heads.push_back({static_cast<int>(layer), static_cast<int>(head), meansA[i], meansB[i], maps});
    }
  return summary;
}

bool CompareSortProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
  const bool l = left.data(CompareSummaryModel::HasMapsRole).toBool(),
             r = right.data(CompareSummaryModel::HasMapsRole).toBool();
  // Qt reverses lessThan for a descending sort; the heads with maps stay first either way.
  if (l != r) return sortOrder() == Qt::AscendingOrder ? l : r;
  const QVariant a = left.data(sortRole()), b = right.data(sortRole());
  const double x = a.toDouble(), y = b.toDouble();
  if (std::isnan(x) != std::isnan(y))
    return sortOrder() == Qt::AscendingOrder ? !std::isnan(x) : std::isnan(x);
  return x < y;
}

CompareSummaryModel::CompareSummaryModel(QObject* parent) : QAbstractTableModel(parent) {}

void CompareSummaryModel::setSummary(const CompareSummary& summary) {
  beginResetModel();
  m_summary = summary;
  m_largestChange = 0;
  for (const HeadChange& change : m_summary.heads)
    if (std::isfinite(change.difference()))
      m_largestChange = std::max(m_largestChange, std::abs(change.difference()));
  endResetModel();
}

void CompareSummaryModel::clear() {
  setSummary({});
}

int CompareSummaryModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(m_summary.heads.size());
}

int CompareSummaryModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : ColumnCount;
}

QVariant CompareSummaryModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const HeadChange& change = m_summary.heads[static_cast<std::size_t>(index.row())];
  const double values[] = {double(change.layer), double(change.head), change.a, change.b,
                           change.difference()};
  const double v = values[index.column()];
  switch (role) {
    case Qt::DisplayRole:
      return index.column() <= HeadColumn ? QString::number(static_cast<int>(v)) : formatValue(v);
    case ValueRole:
      if (index.column() <= HeadColumn) return static_cast<int>(v);
      return v;
    case HasMapsRole:
      return change.hasMaps;
    case Qt::ToolTipRole:
      return change.hasMaps ? QVariant()
                            : tr("No attention map stored for this head in both runs: the panels "
                                 "above stay empty");
    case Qt::TextAlignmentRole:
      return int(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::BackgroundRole:
      if (index.column() != DifferenceColumn || !std::isfinite(v) || m_largestChange <= 0) return {};
      return QBrush(divergingColor(v / m_largestChange));
    case Qt::ForegroundRole:
      if (!change.hasMaps && index.column() <= HeadColumn) return QBrush(QColor(140, 140, 140));
      if (index.column() != DifferenceColumn || !std::isfinite(v) || m_largestChange <= 0) return {};
      return QBrush(textColorOn(divergingColor(v / m_largestChange)));
    default:
      return {};
  }
}

QVariant CompareSummaryModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount) return {};
  const QString a = m_summary.request.runA.isEmpty() ? tr("run A") : m_summary.request.runA;
  const QString b = m_summary.request.runB.isEmpty() ? tr("run B") : m_summary.request.runB;
  if (role == Qt::DisplayRole) {
    switch (section) {
      case LayerColumn:
        return tr("Layer");
      case HeadColumn:
        return tr("Head");
      case RunAColumn:
        return a;
      case RunBColumn:
        return b;
      case DifferenceColumn:
        return tr("A − B");
    }
  }
  if (role == Qt::ToolTipRole && section >= RunAColumn)
    return tr("%1, %2: queries %3–%4")
        .arg(statisticTitle(m_summary.request.stat), summaryDescription(m_summary.request.stat))
        .arg(m_summary.q0)
        .arg(m_summary.n_tokens - 1);
  return {};
}

}  // namespace attnscope::widgets
