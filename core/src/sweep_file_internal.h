#pragma once
// Internals of sweep files (sweep_file.cpp: schema and header; sweep_writer.cpp; sweep_reader.cpp;
// sweep_merge.cpp). Built on the capture store's HDF5 helpers (store_internal.h). Private to the store.

#include <string>
#include <vector>

#include "attnscope/sweep_file.h"
#include "store_internal.h"

namespace attnscope::sweep {

constexpr char kSweepKind[] = "attnscope sweep";  // the root's kind attribute

/// The datasets of a normalizer group, in this order; one row per record.
enum Column {
  kCell,
  kLength,
  kDepth,
  kSeed,
  kPromptIndex,
  kNeedle,  // [2]: needle_begin, needle_end
  kAnswer,
  kGenerated,
  kCorrect,
  kDigitAccuracy,
  kNeedleScores,  // [n_layer, n_head]
  kStatSums,      // [n_stats, n_layer, n_head, n_bins]
  kStatCounts,    // [n_layer, n_bins]
  kLossSums,      // [n_buckets]
  kLossCounts,    // [n_buckets]
  kColumnCount
};

struct SweepColumn {
  const char* name;
  hid_t file_type;    // the type written
  hid_t memory_type;  // the type read and written in memory (HDF5 converts other stored types of the class)
  H5T_class_t type_class;
  std::vector<hsize_t> row;  // dims of one row (empty: a scalar per row)
  hsize_t rowValues() const;
};

/// The layout of a sweep's normalizer groups: every dataset is [rows, row...] with rows = the cells of the
/// file's shard, allocated when the file is created; the group's n_records attribute says how many rows are
/// records.
struct SweepSchema {
  store::TypeHandle utf8 = store::makeUtf8StringType();
  SweepRecordShape shape;
  int64_t rows = 0;
  std::vector<SweepColumn> columns;  // [kColumnCount]
};
SweepSchema makeSweepSchema(const SweepHeader& header);

/// Checks a header against the bounds of sweep_file.h; throws StoreError (refusing: RefusedCapture) naming
/// the first problem.
void checkSweepHeader(const SweepHeader& header, const std::string& where, bool refusing);
/// Writes the root, /model and /grid attributes and every normalizer group with its datasets (the root's
/// schema_version last, after a flush, so a file cut short is not a sweep).
void writeSweepSkeleton(const store::FileState& state, const SweepHeader& header);
/// Opens state.path (writable per state.writable) and reads its header, checked. Throws StoreError.
SweepHeader openSweepFile(store::FileState& state);

/// "normalizers/<index>", the group of one normalizer's records.
std::string normalizerGroupPath(int64_t normalizer);
/// Checks a normalizer group's attributes and datasets against the schema; returns its n_records.
int64_t checkNormalizerGroup(const store::FileState& state, const SweepHeader& header,
                             const SweepSchema& schema, int64_t normalizer);
/// Reads the first n_records rows of a normalizer group (checked by checkNormalizerGroup) as records, in
/// row order, each checked against the header (cell of the shard, its seed, depth and prompt index, needle
/// range, text sizes).
std::vector<SweepRecord> readNormalizerRecords(const store::FileState& state, const SweepHeader& header,
                                               const SweepSchema& schema, int64_t normalizer,
                                               int64_t n_records);
/// Throws (StoreError, or RefusedCapture when refusing) when record disagrees with the header: sizes, cell,
/// seed, depth, prompt index, needle range.
void checkRecord(const SweepHeader& header, const SweepRecordShape& shape, const SweepRecord& record,
                 const std::string& where, bool refusing);

/// A writer whose appends are made durable (fsync) one by one, or (merging) only when it is closed.
std::unique_ptr<SweepWriter> openSweepWriter(const std::string& path, const SweepHeader& header, bool resume,
                                             bool sync_each_append);

}  // namespace attnscope::sweep
