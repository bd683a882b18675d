#include "headgridmodel.h"

#include <QBrush>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/store.h"
#include "colormaps.h"

namespace attnscope::gui {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char* statName(HeadStatistic statistic) {
  switch (statistic) {
    case HeadStatistic::MaxAtLastQuery:
      return "max_prob";
    case HeadStatistic::MeanEntropy:
      return "entropy";
    case HeadStatistic::MeanTargetMass:
      return "target_mass";
  }
  return "max_prob";
}

/// One run's statistic reduced per head: [n_layer, n_head].
std::vector<double> reduceRun(const CaptureFile& file, const std::string& run, HeadStatistic statistic) {
  const RunInfo info = file.run(run);
  std::vector<double> out(static_cast<std::size_t>(info.n_layer * info.n_head), kNaN);
  const std::string stat = statName(statistic);
  if (std::find(info.stats.begin(), info.stats.end(), stat) == info.stats.end()) return out;
  const int64_t n_tokens = info.n_tokens;
  for (int64_t layer = 0; layer < info.n_layer; ++layer) {
    const std::vector<float> values = file.readStat(run, stat, layer);  // [n_head, T]
    for (int64_t head = 0; head < info.n_head; ++head) {
      const float* row = values.data() + head * n_tokens;
      double result = kNaN;
      if (statistic == HeadStatistic::MaxAtLastQuery) {
        if (n_tokens > 0) result = row[n_tokens - 1];
      } else {
        double sum = 0;
        int64_t count = 0;
        for (int64_t q = 0; q < n_tokens; ++q)
          if (std::isfinite(row[q])) sum += row[q], ++count;
        if (count > 0) result = sum / static_cast<double>(count);
      }
      out[static_cast<std::size_t>(layer * info.n_head + head)] = result;
    }
  }
  return out;
}

}  // namespace

QString headStatisticName(HeadStatistic statistic) {
  switch (statistic) {
    case HeadStatistic::MaxAtLastQuery:
      return QObject::tr("Max attention, last query");
    case HeadStatistic::MeanEntropy:
      return QObject::tr("Mean entropy");
    case HeadStatistic::MeanTargetMass:
      return QObject::tr("Mean target mass");
  }
  return {};
}

HeadGridValues computeHeadGrid(const CaptureFile& file, const HeadGridRequest& request) {
  HeadGridValues result;
  result.request = request;
  const RunInfo info = file.run(request.run.toStdString());
  result.n_layer = static_cast<int>(info.n_layer);
  result.n_head = static_cast<int>(info.n_head);
  result.values = reduceRun(file, info.name, request.statistic);
  const bool difference = request.difference && !request.compareRun.isEmpty();
  result.request.difference = difference;
  if (difference) {
    const RunInfo other = file.run(request.compareRun.toStdString());
    if (other.n_layer != info.n_layer || other.n_head != info.n_head)
      throw StoreError("runs " + info.name + " and " + other.name + " have different numbers of heads");
    const std::vector<double> base = reduceRun(file, other.name, request.statistic);
    for (std::size_t i = 0; i < result.values.size(); ++i) result.values[i] -= base[i];
  }
  double top = 0;
  for (double v : result.values)
    if (std::isfinite(v)) top = std::max(top, std::abs(v));
  if (difference) {
    result.lo = -std::max(top, 1e-6), result.hi = std::max(top, 1e-6);
  } else if (request.statistic == HeadStatistic::MeanEntropy) {
    result.lo = 0, result.hi = std::max(top, 1e-6);
  } else {
    result.lo = 0, result.hi = 1;  // probabilities and masses
  }
  return result;
}

HeadGridModel::HeadGridModel(QObject* parent) : QAbstractTableModel(parent) {}

void HeadGridModel::setValues(const HeadGridValues& values) {
  beginResetModel();
  m_values = values;
  endResetModel();
}

void HeadGridModel::clear() {
  setValues({});
}

double HeadGridModel::value(int layer, int head) const {
  if (layer < 0 || layer >= m_values.n_layer || head < 0 || head >= m_values.n_head) return kNaN;
  return m_values.values[static_cast<std::size_t>(layer * m_values.n_head + head)];
}

int HeadGridModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : m_values.n_layer;
}

int HeadGridModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : m_values.n_head;
}

QVariant HeadGridModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
  const double v = value(index.row(), index.column());
  switch (role) {
    case Qt::DisplayRole:
      return std::isfinite(v) ? QString::number(v, 'f', 2) : QStringLiteral("–");
    case ValueRole:
      return v;
    case Qt::BackgroundRole:
      return QBrush(cellColor(v));
    case Qt::ForegroundRole:
      return QBrush(textColorOn(cellColor(v)));
    case Qt::TextAlignmentRole:
      return int(Qt::AlignCenter);
    case Qt::ToolTipRole: {
      QString what = headStatisticName(m_values.request.statistic);
      if (m_values.request.difference)
        what = tr("%1: %2 − %3").arg(what, m_values.request.run, m_values.request.compareRun);
      return tr("layer %1, head %2\n%3 = %4")
          .arg(index.row())
          .arg(index.column())
          .arg(what, std::isfinite(v) ? QString::number(v, 'g', 4) : tr("not captured"));
    }
    default:
      return {};
  }
}

QVariant HeadGridModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role == Qt::DisplayRole)
    return orientation == Qt::Horizontal ? tr("H%1").arg(section) : tr("L%1").arg(section);
  if (role == Qt::ToolTipRole)
    return orientation == Qt::Horizontal ? tr("head %1").arg(section) : tr("layer %1").arg(section);
  return {};
}

QColor HeadGridModel::cellColor(double value) const {
  if (!std::isfinite(value)) return QColor(Qt::lightGray);
  if (m_values.request.difference) return divergingColor(value / m_values.hi);
  return viridisColor((value - m_values.lo) / (m_values.hi - m_values.lo));
}

}  // namespace attnscope::gui
