// libFuzzer harness: a sweep file from anywhere, opened and read the way `attnscope-cli merge` and the GUI's
// sweep views do: the header, every normalizer's records, and every aggregate drawn from them (retrieval
// grids, needle scores at each length, each statistic's curve, the loss curve). A file the reader accepts
// must give records of the shapes sweep.h documents, so the aggregates never throw on it.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

#include "attnscope/sweep_analysis.h"
#include "attnscope/sweep_file.h"
#include "fuzz_support.h"

using namespace attnscope;

namespace {

void readEverything(const SweepReader& reader) {
  const SweepHeader& header = reader.header();
  const SweepGrid& grid = header.grid;
  const int64_t n_layer = header.model.n_layer, n_head = header.model.n_head;
  const SweepRecordShape shape = sweepRecordShape(grid, n_layer, n_head);
  SweepAggregateOptions options;
  options.resamples = 20;  // the bootstrap's cost is not what is fuzzed
  for (int64_t n = 0; n < static_cast<int64_t>(grid.normalizers.size()); ++n) {
    const std::vector<SweepRecord> records = reader.records(n);
    if (static_cast<int64_t>(records.size()) != reader.count(n)) fuzz::contractViolated("records != count");
    for (const SweepRecord& r : records)
      if (static_cast<int64_t>(r.stat_sums.size()) != shape.stat_sums ||
          static_cast<int64_t>(r.needle_scores.size()) != shape.needle_scores ||
          static_cast<int64_t>(r.loss_sums.size()) != shape.loss)
        fuzz::contractViolated("a record's sizes differ from sweepRecordShape");
    try {
      (void)retrievalGrid(grid, records, true, options);
      if (grid.mode == SweepMode::Needle)
        for (int64_t length : grid.lengths)
          (void)needleScoreGrid(grid, records, length, n_layer, n_head, options);
      for (const std::string& stat : grid.stats)
        (void)sweepStatCurve(grid, records, stat, -1, -1, n_layer, n_head, options);
      (void)sweepLossCurve(grid, records, options);
    } catch (const std::invalid_argument& error) {
      fuzz::contractViolated(
          (std::string("an aggregate refused records the reader accepted: ") + error.what()).c_str());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path =
      fuzz::writeScratchFile("sweep.h5", std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto reader = SweepReader::open(path);
    readEverything(*reader);
  } catch (const std::exception& error) {
    fuzz::noteRefusal(error);
  }
  return 0;
}
