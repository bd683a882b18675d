// attnscope-cli merge: joins the shard files of a sweep (e.g. the tasks of a Slurm array) into one sweep
// file, refusing shards of different sweeps, and reports the cells no shard holds and those held twice.

#include <cstdio>
#include <string>
#include <vector>

#include "attnscope/sweep_file.h"
#include "commands.h"

namespace attnscope::cli {

namespace {

/// "3 cells: 4 (length 1024, depth 0.5, prompt 0), ..." with at most `shown` cells spelled out.
std::string describeCells(const SweepGrid& grid, const std::vector<int64_t>& cells, size_t shown = 10) {
  std::string text = std::to_string(cells.size()) + (cells.size() == 1 ? " cell" : " cells");
  for (size_t i = 0; i < cells.size() && i < shown; ++i) {
    const SweepCell cell = sweepCell(grid, cells[i]);
    char depth[32];
    std::snprintf(depth, sizeof depth, "%g", grid.depths[static_cast<size_t>(cell.depth_index)]);
    text += (i ? ", " : ": ") + std::to_string(cells[i]) + " (length " +
            std::to_string(grid.lengths[static_cast<size_t>(cell.length_index)]) + ", depth " + depth +
            ", prompt " + std::to_string(cell.prompt_index) + ")";
  }
  if (cells.size() > shown) text += ", ...";
  return text;
}

}  // namespace

int runMerge(const MergeOptions& options) {
  const SweepMergeReport report = mergeSweeps(options.out, options.shards);
  const SweepGrid grid = SweepReader::open(options.out)->header().grid;
  std::printf("merged %zu shard files into %s: %lld records (%lld cells x %zu normalizers)\n",
              options.shards.size(), options.out.c_str(), static_cast<long long>(report.n_records),
              static_cast<long long>(grid.cellCount()), grid.normalizers.size());
  std::printf("missing: %s\n", report.missing.empty() ? "none" : describeCells(grid, report.missing).c_str());
  std::printf("duplicated (equal records, kept once): %s\n",
              report.duplicated.empty() ? "none" : describeCells(grid, report.duplicated).c_str());
  if (!report.missing.empty())
    std::fprintf(stderr,
                 "attnscope-cli: warning: %zu cells lack a record under some normalizer; run their shards "
                 "again with --resume and merge again\n",
                 report.missing.size());
  return 0;
}

}  // namespace attnscope::cli
