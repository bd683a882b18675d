// Merging shard files into one sweep file: the headers must agree (sweepMismatch), records are written in
// cell order, one normalizer at a time, so the result equals record for record what one unsharded run writes.

#include <unistd.h>

#include <map>
#include <set>

#include "attnscope/untrusted_text.h"
#include "sweep_file_internal.h"

namespace attnscope {

SweepMergeReport mergeSweeps(const std::string& out, const std::vector<std::string>& shards) {
  if (shards.empty()) throw StoreError(out + ": no shard files to merge");
  std::vector<std::unique_ptr<SweepReader>> readers;
  for (const std::string& shard : shards) {
    if (shard == out) throw StoreError(out + ": the output is also one of the shards");
    readers.push_back(SweepReader::open(shard));
    const std::string mismatch = sweepMismatch(readers.front()->header(), readers.back()->header());
    if (!mismatch.empty())
      throw StoreError(shard + ": cannot be merged with " + shards.front() + ": " + mismatch);
  }
  SweepHeader header = readers.front()->header();
  header.shard = SweepShard{};  // the merged file stands for the whole grid
  const SweepGrid& grid = header.grid;

  SweepMergeReport report;
  std::set<int64_t> missing, duplicated;
  std::unique_ptr<SweepWriter> writer = sweep::openSweepWriter(out, header, false, false);
  try {
    for (int64_t normalizer = 0; normalizer < static_cast<int64_t>(grid.normalizers.size()); ++normalizer) {
      std::map<int64_t, std::pair<SweepRecord, size_t>>
          by_cell;  // cell -> (record, shard that held it first)
      for (size_t s = 0; s < readers.size(); ++s) {
        for (SweepRecord& record : readers[s]->records(normalizer)) {
          auto [it, inserted] = by_cell.try_emplace(record.cell, std::move(record), s);
          if (inserted) continue;
          if (!sameSweepRecord(it->second.first, record))
            throw StoreError(shards[s] + ": the record of cell " + std::to_string(record.cell) + " under " +
                             quoteForMessage(grid.normalizers[static_cast<size_t>(normalizer)]) +
                             " differs from the one in " + shards[it->second.second]);
          duplicated.insert(record.cell);
        }
      }
      for (int64_t cell = 0; cell < grid.cellCount(); ++cell)
        if (!by_cell.count(cell)) missing.insert(cell);
      for (auto& [cell, entry] : by_cell) {
        writer->append(entry.first);
        ++report.n_records;
      }
    }
    writer.reset();  // flushed and synced
  } catch (...) {
    writer.reset();
    ::unlink(out.c_str());  // created by this merge (the writer refuses an existing file)
    throw;
  }
  report.missing.assign(missing.begin(), missing.end());
  report.duplicated.assign(duplicated.begin(), duplicated.end());
  return report;
}

}  // namespace attnscope
