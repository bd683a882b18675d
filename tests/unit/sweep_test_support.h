#pragma once
// Helpers shared by the sweep tests (test_sweep_file, test_sweep_file_malformed): a small grid and model,
// deterministic records of every shape, record comparison, and writing a whole sweep or shard.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "attnscope/sweep_file.h"
#include "store_test_support.h"

namespace attnscope::test {

/// A needle (or documents) sweep of 2 lengths × 3 depths × 2 prompts under 2 normalizers, 2 binned
/// statistics, on a model of 2 layers × 3 heads.
inline SweepHeader makeSweepHeader(SweepMode mode = SweepMode::Needle, SweepShard shard = {}) {
  SweepHeader header;
  SweepGrid& grid = header.grid;
  grid.mode = mode;
  grid.normalizers = {"softmax", "ssmax:s=0.3"};
  grid.lengths = {16, 40};
  grid.depths = mode == SweepMode::Needle ? std::vector<double>{0.0, 0.5, 1.0} : std::vector<double>{0.0};
  grid.prompts_per_cell = 2;
  grid.seed = 0xfedcba9876543210ull;  // above 2^63: stored as uint64
  grid.distractors = 1.5;
  grid.haystack = "/usr/share/games/fortunes";
  grid.haystack_hash = "0123456789abcdef";
  grid.bins_per_octave = 2;
  grid.stats = {"max_prob", "entropy"};
  if (mode == SweepMode::Documents) grid.loss_edges = {0, 8, 20, 40};
  header.model.checkpoint = kModel;
  header.model.n_layer = 2;
  header.model.n_head = 3;
  header.model.tokenizer = "bytes";
  header.shard = shard;
  return header;
}

/// The record a sweep would write for (cell, normalizer): fields from the cell, the rest pseudo-random but a
/// function of (cell, normalizer) only, with a -0.0 and non-ASCII text among them.
inline SweepRecord makeSweepRecord(const SweepHeader& header, int64_t cell_index, int64_t normalizer) {
  const SweepGrid& grid = header.grid;
  const SweepCell cell = sweepCell(grid, cell_index);
  const SweepRecordShape shape = sweepRecordShape(grid, header.model.n_layer, header.model.n_head);
  std::mt19937 rng(static_cast<unsigned>(cell_index * 131 + normalizer * 7 + 1));
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  SweepRecord r;
  r.cell = cell_index;
  r.normalizer = normalizer;
  r.length = grid.lengths[static_cast<size_t>(cell.length_index)];
  r.depth = grid.depths[static_cast<size_t>(cell.depth_index)];
  r.seed = sweepCellSeed(grid, cell);
  r.prompt_index = cell.prompt_index;
  if (grid.mode == SweepMode::Needle) {
    r.needle_begin = static_cast<int64_t>(static_cast<double>(r.length - 4) * r.depth);
    r.needle_end = r.needle_begin + 4;
    r.answer = std::to_string(1000 + cell_index * 37);
    r.generated = (cell_index + normalizer) % 3 == 0 ? r.answer : r.answer.substr(0, 2) + "\xc3\xbc";  // ü
    r.correct = r.generated == r.answer;
    r.digit_accuracy = r.correct ? 1.0 : 0.5;
  }
  for (int64_t i = 0; i < shape.needle_scores; ++i) r.needle_scores.push_back(unit(rng));
  if (!r.needle_scores.empty() && cell_index == 0) r.needle_scores[0] = -0.0f;
  // stat_sums [n_stats, n_layer, n_head, n_bins] of probabilities: at most the bin's count [n_layer, n_bins].
  for (int64_t i = 0; i < shape.stat_counts; ++i) r.stat_counts.push_back(static_cast<int32_t>(rng() % 20));
  const int64_t n_head = header.model.n_head, n_bins = shape.n_bins, layer_values = n_head * n_bins;
  for (int64_t i = 0; i < shape.stat_sums; ++i) {
    const int64_t layer = i / layer_values % header.model.n_layer, bin = i % n_bins;
    r.stat_sums.push_back(unit(rng) *
                          static_cast<float>(r.stat_counts[static_cast<size_t>(layer * n_bins + bin)]));
  }
  for (int64_t i = 0; i < shape.loss; ++i) {
    r.loss_counts.push_back(static_cast<int64_t>(rng() % 30) + 1);
    r.loss_sums.push_back(static_cast<double>(unit(rng)) * static_cast<double>(r.loss_counts.back()));
  }
  return r;
}

/// Appends the records of the header's shard for every normalizer, cell by cell (as a sweep runs).
inline void writeSweep(const std::string& path, const SweepHeader& header) {
  auto writer = SweepWriter::open(path, header, false);
  for (int64_t cell : shardCells(header.grid, header.shard))
    for (int64_t n = 0; n < static_cast<int64_t>(header.grid.normalizers.size()); ++n)
      writer->append(makeSweepRecord(header, cell, n));
}

/// Every record of a file, all normalizers, in (normalizer, cell) order.
inline std::vector<SweepRecord> allRecords(const SweepReader& reader) {
  std::vector<SweepRecord> all;
  for (int64_t n = 0; n < static_cast<int64_t>(reader.header().grid.normalizers.size()); ++n)
    for (SweepRecord& r : reader.records(n)) all.push_back(std::move(r));
  return all;
}

/// Whether two record lists are equal bit for bit, naming the first difference.
inline ::testing::AssertionResult sameRecords(const std::vector<SweepRecord>& actual,
                                              const std::vector<SweepRecord>& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << actual.size() << " records, expected " << expected.size();
  for (size_t i = 0; i < actual.size(); ++i)
    if (!sameSweepRecord(actual[i], expected[i]))
      return ::testing::AssertionFailure() << "record " << i << " (cell " << actual[i].cell << ", normalizer "
                                           << actual[i].normalizer << ") differs";
  return ::testing::AssertionSuccess();
}

/// The records makeSweepRecord gives for the given cells, all normalizers, in (normalizer, cell) order.
inline std::vector<SweepRecord> expectedRecords(const SweepHeader& header,
                                                const std::vector<int64_t>& cells) {
  std::vector<SweepRecord> all;
  for (int64_t n = 0; n < static_cast<int64_t>(header.grid.normalizers.size()); ++n)
    for (int64_t cell : cells) all.push_back(makeSweepRecord(header, cell, n));
  return all;
}

}  // namespace attnscope::test
