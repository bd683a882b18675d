#include "comparesummarymodel.h"

#include <QBrush>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/store.h"
#include "colormaps.h"

namespace attnscope::gui {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Mean of the stat over queries [q0, T) per head of every layer: [n_layer · n_head], NaN if the run lacks
/// it.
std::vector<double> tailMeans(const CaptureFile& file, const RunInfo& run, const std::string& stat,
                              int64_t q0) {
  std::vector<double> means(static_cast<std::size_t>(run.n_layer * run.n_head), kNaN);
  if (std::find(run.stats.begin(), run.stats.end(), stat) == run.stats.end()) return means;
  for (int64_t layer = 0; layer < run.n_layer; ++layer) {
    const std::vector<float> values = file.readStat(run.name, stat, layer);  // [n_head, T]
    for (int64_t head = 0; head < run.n_head; ++head) {
      double sum = 0;
      int64_t count = 0;
      for (int64_t q = q0; q < run.n_tokens; ++q) {
        const float v = values[static_cast<std::size_t>(head * run.n_tokens + q)];
        if (std::isfinite(v)) sum += v, ++count;
      }
      if (count > 0)
        means[static_cast<std::size_t>(layer * run.n_head + head)] = sum / static_cast<double>(count);
    }
  }
  return means;
}

QString formatValue(double v) {
  return std::isfinite(v) ? QString::number(v, 'f', 4) : QStringLiteral("–");
}

}  // namespace

int64_t tailBegin(int64_t n_tokens, double fraction) {
  const auto n_tail =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n_tokens))));
  return std::max<int64_t>(0, n_tokens - n_tail);
}

CompareSummary computeCompareSummary(const CaptureFile& file, const CompareSummaryRequest& request) {
  CompareSummary summary;
  summary.request = request;
  const RunInfo a = file.run(request.runA.toStdString()), b = file.run(request.runB.toStdString());
  if (a.n_layer != b.n_layer || a.n_head != b.n_head || a.n_tokens != b.n_tokens)
    throw StoreError("runs " + a.name + " and " + b.name + " differ in heads or tokens");
  summary.n_tokens = a.n_tokens;
  summary.q0 = tailBegin(a.n_tokens, request.tailFraction);
  const std::string stat = request.stat.toStdString();
  const std::vector<double> meansA = tailMeans(file, a, stat, summary.q0),
                            meansB = tailMeans(file, b, stat, summary.q0);
  for (int64_t layer = 0; layer < a.n_layer; ++layer)
    for (int64_t head = 0; head < a.n_head; ++head) {
      const auto i = static_cast<std::size_t>(layer * a.n_head + head);
      summary.heads.push_back({static_cast<int>(layer), static_cast<int>(head), meansA[i], meansB[i]});
    }
  return summary;
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
    case Qt::TextAlignmentRole:
      return int(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::BackgroundRole:
      if (index.column() != DifferenceColumn || !std::isfinite(v) || m_largestChange <= 0) return {};
      return QBrush(divergingColor(v / m_largestChange));
    case Qt::ForegroundRole:
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
    return tr("Mean %1 over queries %2–%3 (the last %4%)")
        .arg(m_summary.request.stat)
        .arg(m_summary.q0)
        .arg(m_summary.n_tokens - 1)
        .arg(m_summary.request.tailFraction * 100, 0, 'g', 3);
  return {};
}

}  // namespace attnscope::gui
