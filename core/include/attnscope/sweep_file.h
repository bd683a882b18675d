#pragma once
// Sweep files (HDF5): the grid, the model's identity and one record per (cell, normalizer), appended as each
// prompt finishes, so a killed sweep keeps every finished record and --resume skips them. Never T×T maps.
// Layout: README "Sweep files" (the README's h5py snippet is run by the tests). No torch, no Qt in this
// header.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attnscope/store.h"  // StoreError, CaptureModel
#include "attnscope/sweep.h"

namespace attnscope {

constexpr int kSweepSchemaVersion = 1;

// Bounds of what a sweep file may declare (README, "Sweep files"): the writer never makes a file beyond them
// and the reader refuses one before allocating anything. Model shapes keep to the capture bounds
// (kMaxCapture*).
constexpr int64_t kMaxSweepCells = int64_t{1} << 20;  // lengths × depths × prompts_per_cell
constexpr int64_t kMaxSweepAxis = 4096;               // lengths, and depths
constexpr int64_t kMaxSweepNormalizers = 256;
constexpr int64_t kMaxSweepStats = 64;
constexpr int64_t kMaxSweepBinsPerOctave = 64;
constexpr int64_t kMaxSweepLossEdges = int64_t{1} << 16;
constexpr int64_t kMaxSweepRecordValues = int64_t{1} << 26;  // stat_sums of one record: 256 MiB of float32
constexpr int64_t kMaxSweepGroupValues = int64_t{1} << 32;   // stat_sums of one normalizer: 16 GiB
constexpr int64_t kMaxSweepTextBytes = int64_t{1} << 16;     // one answer or generated text, a name or spec

/// Who a sweep's records describe: the model (config text, path, weights hash), its shape and tokenizer.
struct SweepModel {
  CaptureModel checkpoint;  // config_json, path, weights_hash
  int64_t n_layer = 0, n_head = 0;
  std::string tokenizer;  // Tokenizer::kind()
};

/// What a file holds besides its records: enough to refuse a resume or a merge that would mix sweeps.
struct SweepHeader {
  SweepGrid grid;
  SweepModel model;
  SweepShard shard;  // the part of the grid this file was written for ({0, 1}: all of it, e.g. merged)
};

/// Returns why two headers cannot be merged or resumed together ("" if they can): a different model, weights
/// hash, normalizer list or grid. Shards are not compared.
std::string sweepMismatch(const SweepHeader& a, const SweepHeader& b);

/// A sweep file open for appending records. Each append is flushed before it returns: a writer killed at
/// any point leaves every earlier record readable.
class SweepWriter {
 public:
  /// Creates path, or with resume opens the existing file (creating it when there is none yet) and checks its
  /// header against this one, shard included (throws StoreError naming the first difference). Throws
  /// StoreError when path exists and resume is false, or another process is writing it.
  static std::unique_ptr<SweepWriter> open(const std::string& path, const SweepHeader& header, bool resume);
  virtual ~SweepWriter();
  /// Returns whether the file already holds the record of (cell, normalizer).
  virtual bool has(int64_t cell, int64_t normalizer) const = 0;
  /// Appends one record and flushes it. Throws StoreError for a record that does not fit the header: sizes
  /// other than sweepRecordShape, a cell outside the shard or already stored, a seed, depth or prompt index
  /// not the cell's, a needle range outside the prompt.
  virtual void append(const SweepRecord& record) = 0;
};

/// A sweep file open for reading. Trusts nothing in it: sizes are checked before anything is allocated and
/// every problem is a one-line StoreError naming the file.
class SweepReader {
 public:
  static std::unique_ptr<SweepReader> open(const std::string& path);
  virtual ~SweepReader();
  virtual const std::string& path() const = 0;
  virtual const SweepHeader& header() const = 0;
  /// Returns how many records one normalizer (index into grid.normalizers) has.
  virtual int64_t count(int64_t normalizer) const = 0;
  /// Returns every record of one normalizer (index into grid.normalizers), ordered by cell.
  virtual std::vector<SweepRecord> records(int64_t normalizer) const = 0;
};

/// What a merge found besides the records it wrote.
struct SweepMergeReport {
  int64_t n_records = 0;            // records written
  std::vector<int64_t> missing;     // cells some normalizer has no record of
  std::vector<int64_t> duplicated;  // cells more than one shard holds, with equal records (kept once)
};

/// Joins shard files into out (created; must not exist). Throws StoreError when the shards disagree on the
/// model, weights hash, normalizers or grid, or when two shards hold different records for one cell. The
/// merged file equals, record for record, the file an unsharded run writes.
SweepMergeReport mergeSweeps(const std::string& out, const std::vector<std::string>& shards);

/// Returns whether a file is a sweep file (its root says so) rather than a capture file.
bool isSweepFile(const std::string& path);

}  // namespace attnscope
