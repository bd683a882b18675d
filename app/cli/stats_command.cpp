// attnscope-cli stats: a summary of every run of a capture file, and the curves as CSV.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/store.h"
#include "commands.h"

namespace attnscope::cli {
namespace {

/// Mean of a stat over the last 10% of query positions of one layer (all heads): the long-context end.
double tailMean(const CaptureFile& file, const RunInfo& run, const std::string& stat, int64_t layer) {
  auto values = file.readStat(run.name, stat, layer);  // [n_head, T]
  const int64_t T = run.n_tokens, from = T - std::max<int64_t>(1, T / 10);
  double sum = 0;
  int64_t count = 0;
  for (int64_t h = 0; h < run.n_head; ++h)
    for (int64_t t = from; t < T; ++t) {
      float v = values[h * T + t];
      if (std::isfinite(v)) {
        sum += v;
        ++count;
      }
    }
  return count ? sum / static_cast<double>(count) : NAN;
}

bool hasStat(const RunInfo& run, const std::string& stat) {
  return std::find(run.stats.begin(), run.stats.end(), stat) != run.stats.end();
}

/// Appends the theory curves at n = 1, 2, 4, ... up to T: the paper's Figure 1 closed forms (logits -2 with one
/// +3) and Monte Carlo maxima for i.i.d. N(0, 1) logits, for softmax and for SSMax with s.
int64_t writeTheory(std::ostream& csv, int64_t n_tokens, double s) {
  std::vector<int64_t> ns;
  for (int64_t n = 1; n <= std::max<int64_t>(1, n_tokens); n *= 2) ns.push_back(n);
  const int samples = 200;
  auto mc_softmax = monteCarloMax(ns, 1.0, [](int64_t) { return 1.0; }, samples);
  auto mc_ssmax = monteCarloMax(ns, 1.0, [s](int64_t n) { return s * std::log(static_cast<double>(n)); }, samples);
  const std::string ssmax = "ssmax:s=" + std::to_string(s);
  int64_t rows = 0;
  auto emit = [&](const std::string& run, const std::string& normalizer, int64_t n, double value, int count) {
    csv << run << ",\"" << normalizer << "\",max_prob,-1,-1," << n << ',' << n << ',' << n << ',' << value << ','
        << value << ',' << value << ',' << value << ',' << count << '\n';
    ++rows;
  };
  for (std::size_t i = 0; i < ns.size(); ++i) {
    const double n = static_cast<double>(ns[i]);
    emit("theory_fig1", "softmax", ns[i], theorySoftmaxMax(n), 1);
    emit("theory_fig1", ssmax, ns[i], theorySsmaxMax(n, s), 1);
    emit("theory_gaussian", "softmax", ns[i], mc_softmax[i], samples);
    emit("theory_gaussian", ssmax, ns[i], mc_ssmax[i], samples);
  }
  return rows;
}

}  // namespace

int runStats(const StatsOptions& options) {
  auto file = CaptureFile::open(options.file);
  auto runs = file->runs();
  std::printf("%s: %lld tokens, %zu run(s), model %s\n", options.file.c_str(),
              static_cast<long long>(file->nTokens()), runs.size(), file->model().path.c_str());
  for (const RunInfo& run : runs) {
    std::printf("\nrun %s  normalizer %s  %s  (%lld layers x %lld heads, %zu maps)\n", run.name.c_str(),
                run.normalizer.c_str(), run.complete ? "complete" : "INCOMPLETE",
                static_cast<long long>(run.n_layer), static_cast<long long>(run.n_head), run.maps.size());
    if (run.model) std::printf("  model %s (other weights than the file's model)\n", run.model->path.c_str());
    if (!run.complete) continue;
    std::printf("  last 10%% of queries, mean over heads:\n  %5s %10s %10s %10s", "layer", "max_prob", "entropy",
                "sink_mass");
    const bool targets = hasStat(run, "target_mass");
    if (targets) std::printf(" %11s", "target_mass");
    std::printf("\n");
    for (int64_t l = 0; l < run.n_layer; ++l) {
      std::printf("  %5lld %10.4f %10.4f %10.4f", static_cast<long long>(l), tailMean(*file, run, "max_prob", l),
                  tailMean(*file, run, "entropy", l), tailMean(*file, run, "sink_mass", l));
      if (targets) std::printf(" %11.4f", tailMean(*file, run, "target_mass", l));
      std::printf("\n");
    }
  }

  if (options.csv.empty()) return 0;
  std::ofstream csv(options.csv);
  if (!csv) throw std::runtime_error(options.csv + ": cannot write");
  csv << "run,normalizer,stat,layer,head,n_lo,n_hi,n_center,mean,median,q10,q90,count\n";
  CurveOptions curve_options;
  curve_options.bins_per_octave = options.bins_per_octave;
  int64_t rows = 0;
  for (const RunInfo& run : runs) {
    if (!run.complete) continue;
    for (const std::string& stat : run.stats) {
      if (stat == "n_keys" || stat == "argmax") continue;
      auto emit = [&](int64_t layer, int64_t head) {
        Curve curve = statCurve(*file, run.name, stat, layer, head, curve_options);
        for (const CurvePoint& p : curve.points) {
          csv << run.name << ',' << '"' << run.normalizer << '"' << ',' << stat << ',' << layer << ',' << head << ','
              << p.n_lo << ',' << p.n_hi << ',' << p.n_center << ',' << p.mean << ',' << p.median << ',' << p.q10
              << ',' << p.q90 << ',' << p.count << '\n';
          ++rows;
        }
      };
      emit(-1, -1);
      for (int64_t l = 0; l < run.n_layer; ++l) {
        emit(l, -1);
        for (int64_t h = 0; h < run.n_head; ++h) emit(l, h);
      }
    }
  }
  if (options.theory_s > 0) rows += writeTheory(csv, file->nTokens(), options.theory_s);
  if (!csv.flush()) throw std::runtime_error(options.csv + ": write failed");
  std::printf("\nwrote %lld curve points to %s (layer/head -1: aggregated)\n", static_cast<long long>(rows),
              options.csv.c_str());
  return 0;
}

}  // namespace attnscope::cli
