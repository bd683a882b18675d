#include "curveseries.h"

#include <QObject>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "attnscope/normalizer_spec.h"
#include "attnscope/store.h"

namespace attnscope::widgets {

CurveSet computeCurves(const CaptureFile& file, const CurveRequest& request) {
  CurveSet set;
  set.request = request;
  const std::string stat = request.stat.toStdString();
  for (const QString& name : request.runs) {
    const RunInfo info = file.run(name.toStdString());
    if (std::find(info.stats.begin(), info.stats.end(), stat) == info.stats.end()) {
      set.missing << name;
      continue;
    }
    const int64_t layer = request.scope == CurveScope::AllLayers ? -1 : request.layer;
    const int64_t head = request.scope == CurveScope::Head ? request.head : -1;
    set.curves.push_back(statCurve(file, info.name, stat, layer, head));
    set.normalizers << QString::fromStdString(info.normalizer);
  }
  return set;
}

int64_t binQueries(const Curve& curve, const CurvePoint& point) {
  const int64_t heads = std::max<int64_t>(1, curve.n_heads);
  return (point.count + heads - 1) / heads;
}

bool isSparseBin(const Curve& curve, const CurvePoint& point, int min_queries) {
  return binQueries(curve, point) < min_queries;
}

double ssmaxScale(const QString& normalizer) {
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  try {
    const NormalizerSpec spec = parseNormalizer(normalizer.toStdString());
    if (spec.kind != NormalizerKind::Ssmax || spec.use_learned || spec.s.size() != 1) return kNone;
    return spec.s[0];
  } catch (const std::invalid_argument&) {
    return kNone;  // a spec from a file this version cannot read: no theory curve
  }
}

std::vector<std::pair<double, double>> theoryCurve(double n_max, double s, int points) {
  std::vector<std::pair<double, double>> curve;
  n_max = std::max(n_max, 2.0);
  for (int i = 0; i < points; ++i) {
    const double n = std::exp(std::log(n_max) * i / (points - 1));
    curve.emplace_back(n, std::isnan(s) ? theorySoftmaxMax(n) : theorySsmaxMax(n, s));
  }
  return curve;
}

CsvTable curvesTable(const CurveSet& set) {
  CsvTable table;
  table.header = QStringList{"run",      "normalizer", "stat",   "layer", "head", "n_lo", "n_hi",
                             "n_center", "mean",       "median", "q10",   "q90",  "count"};
  for (std::size_t i = 0; i < set.curves.size(); ++i) {
    const Curve& curve = set.curves[i];
    for (const CurvePoint& p : curve.points) {
      table.rows << QStringList{QString::fromStdString(curve.run),
                                set.normalizers.value(static_cast<int>(i)),
                                QString::fromStdString(curve.stat),
                                curve.layer < 0 ? QStringLiteral("all") : QString::number(curve.layer),
                                curve.head < 0 ? QStringLiteral("all") : QString::number(curve.head),
                                QString::number(p.n_lo),
                                QString::number(p.n_hi),
                                QString::number(p.n_center),
                                QString::number(p.mean),
                                QString::number(p.median),
                                QString::number(p.q10),
                                QString::number(p.q90),
                                QString::number(p.count)};
    }
  }
  return table;
}

}  // namespace attnscope::widgets
