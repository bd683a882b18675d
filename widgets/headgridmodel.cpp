#include "headgridmodel.h"

#include <QBrush>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnscope/analysis.h"
#include "attnscope/store.h"
#include "colormaps.h"

namespace attnscope::widgets {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

QString headGridTitle(const HeadGridRequest& request) {
  return QObject::tr("%1, %2").arg(statisticTitle(request.stat), summaryDescription(request.stat));
}

QCPColorGradient headGridGradient(const HeadGridValues& values) {
  return values.request.difference ? divergingGradient() : sequentialGradient(savedColorMap());
}

QString headGridLegendLabel(const HeadGridValues& values) {
  const QString label = statisticAxisLabel(values.request.stat);
  if (!values.request.difference) return label;
  return QObject::tr("Δ %1 (%2 − %3)").arg(label, values.request.run, values.request.compareRun);
}

HeadGridValues computeHeadGrid(const CaptureFile& file, const HeadGridRequest& request) {
  HeadGridValues result;
  result.request = request;
  const RunInfo info = file.run(request.run.toStdString());
  result.n_layer = static_cast<int>(info.n_layer);
  result.n_head = static_cast<int>(info.n_head);
  const std::string stat = request.stat.toStdString();
  result.values = summarizeHeads(file, info.name, stat).values;
  const bool difference = request.difference && !request.compareRun.isEmpty();
  result.request.difference = difference;
  if (difference) {
    const RunInfo other = file.run(request.compareRun.toStdString());
    if (other.n_layer != info.n_layer || other.n_head != info.n_head)
      throw StoreError("runs " + info.name + " and " + other.name + " have different numbers of heads");
    const std::vector<double> base = summarizeHeads(file, other.name, stat).values;
    for (std::size_t i = 0; i < result.values.size(); ++i) result.values[i] -= base[i];
  }
  double top = 0;
  for (double v : result.values)
    if (std::isfinite(v)) top = std::max(top, std::abs(v));
  if (difference) {
    result.lo = -std::max(top, 1e-6), result.hi = std::max(top, 1e-6);
  } else if (statisticIsProbability(request.stat)) {
    result.lo = 0, result.hi = 1;  // probabilities and masses
  } else {
    result.lo = 0, result.hi = std::max(top, 1e-6);
  }
  return result;
}

HeadGridModel::HeadGridModel(QObject* parent) : QAbstractTableModel(parent) {}

void HeadGridModel::setValues(const HeadGridValues& values) {
  beginResetModel();
  m_values = values;
  m_gradient = headGridGradient(values);
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
      QString what = headGridTitle(m_values.request);
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
  // The legend's gradient and range: a cell and its place on the scale are one colour.
  return QColor::fromRgb(m_gradient.color(value, QCPRange(m_values.lo, m_values.hi)));
}

}  // namespace attnscope::widgets
