#pragma once
// The data behind the context-size figure: one binned curve per run (statistic vs n) for a head, a layer or
// the whole model, plus the paper's theory curves. Computed off the GUI thread.

#include <QString>
#include <QStringList>

#include <string>
#include <vector>

#include "attnscope/analysis.h"
#include "plotexport.h"
#include "statisticnames.h"

namespace attnscope::widgets {

enum class CurveScope { Head, Layer, AllLayers };

struct CurveRequest {
  QStringList runs;  // overlaid, in this order
  QString stat = defaultStatistic();
  CurveScope scope = CurveScope::Head;
  int layer = 0, head = 0;  // the head (Head) or layer (Layer) to summarise
};

struct CurveSet {
  CurveRequest request;
  std::vector<Curve> curves;  // one per run that has the statistic
  QStringList normalizers;    // spec of each curve's run
  QStringList missing;        // runs without the statistic
};

/// Bins with fewer queries than this (per head) are sparse unless the user sets another minimum: a bin of one
/// query is one sample, and its median is no curve.
constexpr int kDefaultMinBinQueries = 32;

/// The queries of one head in a bin: its values over the heads pooled (count / n_heads, rounded up).
int64_t binQueries(const Curve& curve, const CurvePoint& point);

/// Whether a bin holds fewer than min_queries queries per head (binQueries).
bool isSparseBin(const Curve& curve, const CurvePoint& point, int min_queries);

/// Reads and bins the statistic of every requested run. Throws StoreError. Safe off the GUI thread.
CurveSet computeCurves(const CaptureFile& file, const CurveRequest& request);

/// The SSMax scale s of a normalizer spec with one global value ("ssmax:s=0.43", "ssmax:ctx=256" → 1/ln 256),
/// or NaN (softmax, per-head values, learned s).
double ssmaxScale(const QString& normalizer);

/// Points of a theory curve at log-spaced n in [1, n_max]: softmax (s = NaN) or SSMax with scale s.
std::vector<std::pair<double, double>> theoryCurve(double n_max, double s, int points = 64);

/// One row per run and bin: run, normalizer, stat, layer, head, n_lo, n_hi, n_center, mean, median, q10, q90,
/// count.
CsvTable curvesTable(const CurveSet& set);

}  // namespace attnscope::widgets
