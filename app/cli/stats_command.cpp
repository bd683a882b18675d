// attnscope-cli stats: a summary of every run of a capture file, and the curves as CSV.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/analysis.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/statistics.h"
#include "attnscope/store.h"
#include "attnscope/untrusted_text.h"
#include "commands.h"

namespace attnscope::cli {
namespace {

bool hasStat(const RunInfo& run, const std::string& stat) {
  return std::find(run.stats.begin(), run.stats.end(), stat) != run.stats.end();
}

/// Prints a run's per-head summaries of the viewed statistics it has: each layer's mean over heads, and with
/// heads every head's value.
void printSummaries(const CaptureFile& file, const RunInfo& run, bool heads) {
  std::vector<HeadSummaries> summaries;
  for (const std::string& stat : viewedStatistics())
    if (hasStat(run, stat)) summaries.push_back(summarizeHeads(file, run.name, stat));
  if (summaries.empty()) return;
  std::printf("  per-head summary: mean over the last %lld of %lld queries (queries %lld-%lld",
              static_cast<long long>(summaries[0].q1 - summaries[0].q0), static_cast<long long>(run.n_tokens),
              static_cast<long long>(summaries[0].q0), static_cast<long long>(summaries[0].q1 - 1));
  if (hasStat(run, kStatTargetMass)) std::printf("; %s: those that see a target", kStatTargetMass);
  std::printf(")\n  %5s %5s", "layer", "head");
  for (const HeadSummaries& summary : summaries) std::printf(" %11s", summary.stat.c_str());
  std::printf("\n");
  for (int64_t l = 0; l < run.n_layer; ++l) {
    std::printf("  %5lld %5s", static_cast<long long>(l), "mean");
    for (const HeadSummaries& summary : summaries) std::printf(" %11.4f", layerMean(summary, l));
    std::printf("\n");
    if (!heads) continue;
    for (int64_t h = 0; h < run.n_head; ++h) {
      std::printf("  %5lld %5lld", static_cast<long long>(l), static_cast<long long>(h));
      for (const HeadSummaries& summary : summaries) std::printf(" %11.4f", summary.at(l, h));
      std::printf("\n");
    }
  }
}

/// Appends the theory curves at n = 1, 2, 4, ... up to n_max: the paper's Figure 1 closed forms (logits -2
/// with one +3) and Monte Carlo maxima for i.i.d. N(0, 1) logits (up to kMaxMonteCarloKeys), for softmax and
/// for SSMax with s.
int64_t writeTheory(std::ostream& csv, int64_t n_max, double s) {
  const std::vector<int64_t> ns = theoryContextSizes(n_max);
  std::vector<int64_t> sampled;
  std::copy_if(ns.begin(), ns.end(), std::back_inserter(sampled),
               [](int64_t n) { return n <= kMaxMonteCarloKeys; });
  const int samples = 200;
  const auto ssmax_multiplier = [s](int64_t n) { return s * std::log(static_cast<double>(n)); };
  auto mc_softmax = monteCarloMax(
      sampled, 1.0, [](int64_t) { return 1.0; }, samples);
  auto mc_ssmax = monteCarloMax(sampled, 1.0, ssmax_multiplier, samples);
  const std::string softmax = NormalizerSpec().text(), ssmax = ssmaxSpec(s).text();
  int64_t rows = 0;
  auto emit = [&](const std::string& run, const std::string& normalizer, int64_t n, double value, int count) {
    csv << run << ",\"" << normalizer << "\"," << kStatMaxProb << ",-1,-1," << n << ',' << n << ',' << n
        << ',' << value << ',' << value << ',' << value << ',' << value << ',' << count << '\n';
    ++rows;
  };
  for (std::size_t i = 0; i < ns.size(); ++i) {
    const double n = static_cast<double>(ns[i]);
    emit("theory_fig1", softmax, ns[i], theorySoftmaxMax(n), 1);
    emit("theory_fig1", ssmax, ns[i], theorySsmaxMax(n, s), 1);
    if (i >= sampled.size()) continue;
    emit("theory_gaussian", softmax, ns[i], mc_softmax[i], samples);
    emit("theory_gaussian", ssmax, ns[i], mc_ssmax[i], samples);
  }
  return rows;
}

/// Text from the file for the summary, escaped but not cut: a long model path is worth reading in full.
std::string shown(const std::string& text) {
  return escapeForMessage(text, std::string_view::npos);
}

}  // namespace

int runStats(const StatsOptions& options) {
  auto file = CaptureFile::open(options.file);
  auto runs = file->runs();
  std::printf("%s: %lld tokens, %zu run(s), model %s\n", options.file.c_str(),
              static_cast<long long>(file->nTokens()), runs.size(), shown(file->model().path).c_str());
  for (const RunInfo& run : runs) {
    // Names and paths come from the file: escaped, so they cannot drive the terminal.
    std::printf("\nrun %s  normalizer %s  %s  (%lld layers x %lld heads, %zu maps)\n",
                shown(run.name).c_str(), shown(run.normalizer).c_str(),
                run.complete ? "complete" : "INCOMPLETE", static_cast<long long>(run.n_layer),
                static_cast<long long>(run.n_head), run.maps.size());
    if (run.model)
      std::printf("  model %s (other weights than the file's model)\n", shown(run.model->path).c_str());
    if (!run.compute_dtype.empty())
      std::printf("  linear layers computed in %s\n", shown(run.compute_dtype).c_str());
    if (!run.complete) continue;
    printSummaries(*file, run, options.heads);
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
      const StatisticInfo* info = findStatistic(stat);
      if (info && !info->per_context) continue;  // argmax, n_keys: not a curve against n
      auto emit = [&](int64_t layer, int64_t head) {
        Curve curve = statCurve(*file, run.name, stat, layer, head, curve_options);
        for (const CurvePoint& p : curve.points) {
          csv << run.name << ',' << '"' << run.normalizer << '"' << ',' << stat << ',' << layer << ',' << head
              << ',' << p.n_lo << ',' << p.n_hi << ',' << p.n_center << ',' << p.mean << ',' << p.median
              << ',' << p.q10 << ',' << p.q90 << ',' << p.count << '\n';
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
  if (options.theory_s > 0) {
    // Up to the longest run: its length was checked against its stored datasets when the runs were read.
    int64_t n_max = 1;
    for (const RunInfo& run : runs) n_max = std::max(n_max, run.n_tokens);
    rows += writeTheory(csv, n_max, options.theory_s);
  }
  if (!csv.flush()) throw std::runtime_error(options.csv + ": write failed");
  std::printf("\nwrote %lld curve points to %s (layer/head -1: aggregated)\n", static_cast<long long>(rows),
              options.csv.c_str());
  return 0;
}

}  // namespace attnscope::cli
