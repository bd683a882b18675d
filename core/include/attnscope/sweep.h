#pragma once
// Sweeps: one question asked of a model over many prompts (the SSMax paper's figures are all averages over
// prompts). A sweep is a grid of cells — length × depth × prompt index — run once per normalizer; each (cell,
// normalizer) leaves one record. Records are the unit of storage, sharding, resuming and merging: a shard
// owns a deterministic subset of the cells, a resumed sweep skips the records already stored, and shards
// merge record for record into what the unsharded run writes. Aggregates (means, bootstrap intervals) are
// computed from records when read (sweep_analysis.h), never stored. No torch, no Qt, no HDF5 in this header.

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

/// What each prompt of a sweep asks.
enum class SweepMode {
  Needle,     // needle-in-a-haystack retrieval by greedy generation, and per-head needle scores
  Documents,  // held-out text cut at each length: loss by position, per-head statistics binned by n
};

/// Returns "needle" or "documents".
const char* sweepModeName(SweepMode mode);
/// Parses "needle" or "documents"; throws std::invalid_argument.
SweepMode parseSweepMode(const std::string& text);

/// Everything that decides which prompts a sweep runs and what it records. Two sweeps (or shards) with equal
/// grids and equal model identity have equal records for equal cells, whatever machine ran them.
struct SweepGrid {
  SweepMode mode = SweepMode::Needle;
  std::vector<std::string> normalizers;  // canonical normalizer specs, one record per cell each
  std::vector<int64_t> lengths;          // prompt lengths in tokens of the model's tokenizer
  std::vector<double> depths;            // needle depth in [0, 1] of the haystack; documents: {0}
  int64_t prompts_per_cell = 1;          // prompts per (length, depth)
  uint64_t seed = 1234;                  // draws haystack offsets and needles, per cell (sweepCellSeed)
  double distractors = 0;                // other cities' needle sentences per 1,000 tokens (needle mode)
  int64_t answer_tokens = 0;        // greedy steps generated per needle prompt (0: enough for the answer)
  std::string haystack;             // where the text came from (path as given), for the record
  std::string haystack_hash;        // content hash of the text the prompts are cut from
  int bins_per_octave = 1;          // statistics binned by n: n in [2^(i/b), 2^((i+1)/b))
  std::vector<std::string> stats;   // statistics binned per head (names from attnscope/statistics.h)
  std::vector<int64_t> loss_edges;  // position-bucket edges of the loss, over [0, max length]

  int64_t cellCount() const {
    return static_cast<int64_t>(lengths.size() * depths.size()) * prompts_per_cell;
  }
};

/// One cell of the grid; index = (length_index · n_depths + depth_index) · prompts_per_cell + prompt_index.
struct SweepCell {
  int64_t index = 0;
  int64_t length_index = 0, depth_index = 0, prompt_index = 0;
};

/// Returns the cell with this index (0 <= index < grid.cellCount()).
SweepCell sweepCell(const SweepGrid& grid, int64_t index);
/// Returns the seed of a cell's prompt: a function of the grid seed, the length, the depth and the prompt
/// index only, so adding lengths or depths leaves the prompts of the others unchanged.
uint64_t sweepCellSeed(const SweepGrid& grid, const SweepCell& cell);

/// A part of the grid: shard k of n (0 <= k < n) owns the cells whose index % n == k. {0, 1} is the whole
/// grid.
struct SweepShard {
  int64_t k = 0, n = 1;
};
/// Parses "K/N" (0 <= K < N, N >= 1); throws std::invalid_argument with a one-line message.
SweepShard parseSweepShard(const std::string& text);
/// Returns the cell indices shard owns, ascending.
std::vector<int64_t> shardCells(const SweepGrid& grid, const SweepShard& shard);

/// One prompt run under one normalizer.
struct SweepRecord {
  int64_t cell = 0;        // SweepCell::index
  int64_t normalizer = 0;  // index into SweepGrid::normalizers
  int64_t length = 0;      // tokens in the prompt
  double depth = 0;        // the grid's depth of the cell (documents: the grid's only depth)
  uint64_t seed = 0;       // sweepCellSeed
  int64_t prompt_index = 0;

  // Needle mode.
  int64_t needle_begin = 0, needle_end = 0;  // token range [begin, end) of the needle sentence in the prompt
  std::string answer;                        // the expected continuation (the digits)
  std::string generated;                     // the greedy continuation, decoded
  bool correct = false;                      // the generated text starts with the answer
  double digit_accuracy = 0;                 // share of the answer's digits generated at their place
  std::vector<float> needle_scores;          // [n_layer, n_head]: attention mass from the position that
                                             // generates the first answer token onto the needle tokens

  // Both modes: per-head statistics binned by n, summed over the queries of each bin.
  std::vector<float> stat_sums;      // [n_stats, n_layer, n_head, n_bins]
  std::vector<int32_t> stat_counts;  // [n_layer, n_bins] queries per bin (windows make it per layer)

  // Documents mode: next-token loss (nats) summed per position bucket of SweepGrid::loss_edges.
  std::vector<double> loss_sums;     // [n_buckets]
  std::vector<int64_t> loss_counts;  // [n_buckets]
};

/// Returns whether two records are equal bit for bit (floats compared by their bits: NaN equals NaN, -0 does
/// not equal +0): what "a merged sweep equals the unsharded run record for record" means.
bool sameSweepRecord(const SweepRecord& a, const SweepRecord& b);

/// The sizes every record of a sweep has (SweepWriter::append refuses others), for a model of n_layer layers
/// of n_head heads. needle_scores: n_layer · n_head in needle mode, else 0; stat_sums: n_stats · n_layer ·
/// n_head · n_bins and stat_counts: n_layer · n_bins, where n_bins = sweepBinCount(longest length,
/// bins_per_octave) when the grid bins statistics, else 0; loss_sums and loss_counts: sweepBucketCount in
/// documents mode, else 0.
struct SweepRecordShape {
  int64_t n_bins = 0;
  int64_t needle_scores = 0, stat_sums = 0, stat_counts = 0, loss = 0;
};
SweepRecordShape sweepRecordShape(const SweepGrid& grid, int64_t n_layer, int64_t n_head);

/// Returns the longest length of the grid (0 when it has none).
int64_t sweepMaxLength(const SweepGrid& grid);
/// Returns the number of loss buckets: loss_edges.size() - 1 (0 with fewer than two edges).
int64_t sweepBucketCount(const SweepGrid& grid);

/// Returns the number of bins of n for prompts up to max_length under bins_per_octave.
int64_t sweepBinCount(int64_t max_length, int bins_per_octave);
/// Returns the bin of n (n >= 1): floor(log2(n) · bins_per_octave), powers of two exactly (as analysis.h
/// bins).
int64_t sweepBinOf(int64_t n, int bins_per_octave);

}  // namespace attnscope
