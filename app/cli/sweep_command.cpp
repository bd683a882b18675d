// attnscope-cli sweep: the command line's SweepRequest, run by attnscope::runSweep with a progress line on
// stderr; SIGINT and SIGTERM cancel between prompts, keeping every finished record. Ends with a summary of
// the sweep file (sweep_analysis.h).

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "attnscope/normalizer_spec.h"
#include "attnscope/statistics.h"
#include "attnscope/sweep_analysis.h"
#include "attnscope/sweep_file.h"
#include "commands.h"

namespace attnscope::cli {
namespace {

/// The normalizer as the summary names it: its spec with numbers rounded ("ssmax:s=0.18"); the file keeps
/// them exact.
std::string nameOf(const SweepGrid& grid, std::size_t k) {
  try {
    return parseNormalizer(grid.normalizers[k]).label();
  } catch (const std::exception&) {
    return grid.normalizers[k];
  }
}

/// The width of the normalizer column: the longest name (at least "normalizer").
int nameWidth(const SweepGrid& grid) {
  std::size_t width = 10;
  for (std::size_t k = 0; k < grid.normalizers.size(); ++k) width = std::max(width, nameOf(grid, k).size());
  return static_cast<int>(width);
}

/// Formats a share with its 95% interval: "100% [96-100] n=100".
std::string shareText(const SweepEstimate& e) {
  if (e.count == 0) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.0f%% [%.0f-%.0f]", 100.0 * e.mean, 100.0 * e.lo, 100.0 * e.hi);
  return text;
}

/// Retrieval (share of exact matches, 95% bootstrap interval over prompts) per normalizer and length, every
/// depth together.
void printRetrieval(const SweepReader& reader) {
  const SweepGrid& grid = reader.header().grid;
  const int width = nameWidth(grid);
  std::printf(
      "retrieval (exact match of the answer, 95%% interval over prompts; rows: normalizer, columns: length "
      "in "
      "tokens):\n  %-*s",
      width, "normalizer");
  for (int64_t length : grid.lengths) std::printf(" %15lld", static_cast<long long>(length));
  std::printf("\n");
  int64_t most = 0;
  for (std::size_t k = 0; k < grid.normalizers.size(); ++k) {
    std::printf("  %-*s", width, nameOf(grid, k).c_str());
    for (const SweepEstimate& e : retrievalByLength(grid, reader.records(static_cast<int64_t>(k)))) {
      std::printf(" %15s", shareText(e).c_str());
      most = std::max(most, e.count);
    }
    std::printf("\n");
  }
  std::printf("  (up to %lld prompts per length)\n", static_cast<long long>(most));
}

/// The mean over every head of each query's largest attention weight, by the keys n it sees (the paper's
/// Figure 1 measured on the sweep's prompts), one row per normalizer.
void printMaxAttention(const SweepReader& reader) {
  const SweepHeader& header = reader.header();
  const SweepGrid& grid = header.grid;
  if (std::find(grid.stats.begin(), grid.stats.end(), kStatMaxProb) == grid.stats.end()) return;
  std::printf("largest attention weight (%s, mean over heads and prompts) by keys seen n:\n", kStatMaxProb);
  for (std::size_t k = 0; k < grid.normalizers.size(); ++k) {
    const std::vector<SweepCurvePoint> curve =
        sweepStatCurve(grid, reader.records(static_cast<int64_t>(k)), kStatMaxProb, -1, -1,
                       header.model.n_layer, header.model.n_head);
    std::printf("  %-*s", nameWidth(grid), nameOf(grid, k).c_str());
    // Every other octave keeps the line short; the GUI and the CSV export have every bin.
    for (std::size_t i = 0; i < curve.size(); ++i) {
      const SweepCurvePoint& p = curve[i];
      const double octave = std::log2(p.n_lo), fraction = octave - std::round(octave);
      if (p.n_lo < 16 || (i + 1 < curve.size() && std::abs(fraction) > 1e-9)) continue;
      std::printf(" n>=%.0f: %.3f", p.n_lo, p.value.mean);
    }
    std::printf("\n");
  }
}

/// The heads with the highest mean needle score per normalizer and length (the paper's Figure 7).
void printNeedleHeads(const SweepReader& reader) {
  const SweepHeader& header = reader.header();
  const int64_t n_layer = header.model.n_layer, n_head = header.model.n_head;
  std::printf("needle score (attention of the answer position on the needle), top heads per length:\n");
  for (std::size_t k = 0; k < header.grid.normalizers.size(); ++k) {
    const std::vector<SweepRecord> records = reader.records(static_cast<int64_t>(k));
    for (int64_t length : header.grid.lengths) {
      const std::vector<SweepEstimate> heads = needleScoreGrid(header.grid, records, length, n_layer, n_head);
      std::vector<int64_t> order(heads.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
      // Heads without records (another shard's lengths) have NaN means: they sort last and are not printed.
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return !std::isnan(heads[a].mean) && (std::isnan(heads[b].mean) || heads[a].mean > heads[b].mean);
      });
      if (order.empty() || heads[order[0]].count == 0) continue;
      std::printf("  %-*s %8lld ", nameWidth(header.grid), nameOf(header.grid, k).c_str(),
                  static_cast<long long>(length));
      for (std::size_t i = 0; i < std::min<std::size_t>(3, order.size()); ++i)
        std::printf(" L%lld.H%lld %.3f", static_cast<long long>(order[i] / n_head),
                    static_cast<long long>(order[i] % n_head), heads[order[i]].mean);
      std::printf("\n");
    }
  }
}

/// Loss per position bucket per normalizer.
void printLoss(const SweepReader& reader) {
  const SweepGrid& grid = reader.header().grid;
  std::printf("loss per position (nats/token, mean over documents; rows: normalizer, columns: positions):\n");
  const int width = nameWidth(grid);
  std::printf("  %-*s", width, "normalizer");
  for (std::size_t b = 0; b + 1 < grid.loss_edges.size(); ++b) {
    const std::string range =
        std::to_string(grid.loss_edges[b]) + "-" + std::to_string(grid.loss_edges[b + 1] - 1);
    std::printf(" %11s", range.c_str());
  }
  std::printf("\n");
  for (std::size_t k = 0; k < grid.normalizers.size(); ++k) {
    std::printf("  %-*s", width, nameOf(grid, k).c_str());
    for (const SweepCurvePoint& p : sweepLossCurve(grid, reader.records(static_cast<int64_t>(k))))
      std::printf(" %11.4f", p.value.mean);
    std::printf("\n");
  }
}

}  // namespace

int runSweep(const SweepOptions& options) {
  SweepRequest request = options.request;
  request.dtype = parseComputeDtype(options.dtype);
  request.mode = options.documents ? SweepMode::Documents : SweepMode::Needle;
  if (!options.shard.empty()) request.shard = parseSweepShard(options.shard);
  const StopSignals stop;

  const bool terminal = ::isatty(STDERR_FILENO);
  double last_line = -1e9;
  auto progress = [&](const SweepProgress& p) {
    // A live line on a terminal; in logs the first prompt, then one line every 10 s, and the last.
    if (!terminal && p.done != p.total && p.seconds - last_line < 10 && last_line > -1e9) return;
    last_line = p.seconds;
    std::fprintf(stderr, "%sprompts %lld/%lld (%lld already stored), %s elapsed, ETA %s; %s%s",
                 terminal ? "\r\033[K" : "", static_cast<long long>(p.done), static_cast<long long>(p.total),
                 static_cast<long long>(p.skipped), formatDuration(p.seconds).c_str(),
                 formatDuration(p.eta_seconds).c_str(), p.last.c_str(),
                 terminal && p.done != p.total ? "" : "\n");
  };
  const SweepResult result = attnscope::runSweep(request, progress, [&] { return stop.requested(); });
  if (terminal && result.cancelled) std::fprintf(stderr, "\n");
  std::printf(
      "%s: %lld record(s) written, %lld already stored, %lld of this shard's %lld done%s\n",
      result.path.c_str(), static_cast<long long>(result.n_written), static_cast<long long>(result.n_skipped),
      static_cast<long long>(result.n_written + result.n_skipped), static_cast<long long>(result.n_total),
      result.cancelled ? " (cancelled: --resume continues)" : "");
  const auto reader = SweepReader::open(result.path);
  if (reader->header().grid.mode == SweepMode::Needle) {
    printRetrieval(*reader);
    printNeedleHeads(*reader);
    printMaxAttention(*reader);
  } else {
    printLoss(*reader);
  }
  return result.cancelled ? 130 : 0;
}

}  // namespace attnscope::cli
