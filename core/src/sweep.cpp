// Sweep grids: mode names, cells, their seeds, shards, record shapes and the bins of n.

#include "attnscope/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace attnscope {

const char* sweepModeName(SweepMode mode) {
  return mode == SweepMode::Needle ? "needle" : "documents";
}

SweepMode parseSweepMode(const std::string& text) {
  if (text == "needle") return SweepMode::Needle;
  if (text == "documents") return SweepMode::Documents;
  throw std::invalid_argument("unknown sweep mode '" + text + "' (needle or documents)");
}

SweepCell sweepCell(const SweepGrid& grid, int64_t index) {
  const int64_t n_depths = static_cast<int64_t>(grid.depths.size());
  if (index < 0 || index >= grid.cellCount() || n_depths == 0 || grid.prompts_per_cell < 1)
    throw std::invalid_argument("sweep cell " + std::to_string(index) + " is outside the grid's " +
                                std::to_string(grid.cellCount()) + " cells");
  SweepCell cell;
  cell.index = index;
  cell.prompt_index = index % grid.prompts_per_cell;
  const int64_t rest = index / grid.prompts_per_cell;
  cell.depth_index = rest % n_depths;
  cell.length_index = rest / n_depths;
  return cell;
}

namespace {

/// splitmix64's finalizer: a bijection of 64-bit words that mixes every input bit into every output bit.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t sweepCellSeed(const SweepGrid& grid, const SweepCell& cell) {
  // The values, not their indices, so that inserting a length or a depth changes no other cell's prompt.
  const uint64_t length = static_cast<uint64_t>(grid.lengths.at(static_cast<size_t>(cell.length_index)));
  double depth = grid.depths.at(static_cast<size_t>(cell.depth_index));
  if (depth == 0) depth = 0;  // -0.0 and 0.0 are one depth
  uint64_t depth_bits;
  std::memcpy(&depth_bits, &depth, sizeof depth_bits);
  uint64_t h = mix64(grid.seed);
  h = mix64(h ^ length);
  h = mix64(h ^ depth_bits);
  return mix64(h ^ static_cast<uint64_t>(cell.prompt_index));
}

SweepShard parseSweepShard(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("invalid shard '" + text + "': " + why);
  };
  const size_t slash = text.find('/');
  if (slash == std::string::npos) throw bad("expected K/N, e.g. 0/4");
  const auto number = [&](const std::string& digits, const char* what) {
    if (digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw bad(std::string(what) + " is not a whole number below 10^9");
    return static_cast<int64_t>(std::stoll(digits));
  };
  SweepShard shard;
  shard.k = number(text.substr(0, slash), "K");
  shard.n = number(text.substr(slash + 1), "N");
  if (shard.n < 1) throw bad("N must be at least 1");
  if (shard.k >= shard.n) throw bad("K counts from 0 and must be below N");
  return shard;
}

std::vector<int64_t> shardCells(const SweepGrid& grid, const SweepShard& shard) {
  if (shard.n < 1 || shard.k < 0 || shard.k >= shard.n)
    throw std::invalid_argument("invalid shard " + std::to_string(shard.k) + "/" + std::to_string(shard.n));
  std::vector<int64_t> cells;
  for (int64_t cell = shard.k; cell < grid.cellCount(); cell += shard.n) cells.push_back(cell);
  return cells;
}

int64_t sweepMaxLength(const SweepGrid& grid) {
  return grid.lengths.empty() ? 0 : *std::max_element(grid.lengths.begin(), grid.lengths.end());
}

int64_t sweepBucketCount(const SweepGrid& grid) {
  return grid.loss_edges.size() < 2 ? 0 : static_cast<int64_t>(grid.loss_edges.size()) - 1;
}

SweepRecordShape sweepRecordShape(const SweepGrid& grid, int64_t n_layer, int64_t n_head) {
  SweepRecordShape shape;
  const int64_t n_stats = static_cast<int64_t>(grid.stats.size());
  shape.n_bins = n_stats > 0 ? sweepBinCount(sweepMaxLength(grid), grid.bins_per_octave) : 0;
  shape.needle_scores = grid.mode == SweepMode::Needle ? n_layer * n_head : 0;
  shape.stat_sums = n_stats * n_layer * n_head * shape.n_bins;
  shape.stat_counts = n_layer * shape.n_bins;
  shape.loss = grid.mode == SweepMode::Documents ? sweepBucketCount(grid) : 0;
  return shape;
}

namespace {

template <typename T>
bool sameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool sameBits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

bool sameSweepRecord(const SweepRecord& a, const SweepRecord& b) {
  return a.cell == b.cell && a.normalizer == b.normalizer && a.length == b.length &&
         sameBits(a.depth, b.depth) && a.seed == b.seed && a.prompt_index == b.prompt_index &&
         a.needle_begin == b.needle_begin && a.needle_end == b.needle_end && a.answer == b.answer &&
         a.generated == b.generated && a.correct == b.correct &&
         sameBits(a.digit_accuracy, b.digit_accuracy) && sameBits(a.needle_scores, b.needle_scores) &&
         sameBits(a.stat_sums, b.stat_sums) && sameBits(a.stat_counts, b.stat_counts) &&
         sameBits(a.loss_sums, b.loss_sums) && sameBits(a.loss_counts, b.loss_counts);
}

int64_t sweepBinOf(int64_t n, int bins_per_octave) {
  if (n < 1) throw std::invalid_argument("sweep bins start at n = 1, not " + std::to_string(n));
  // The epsilon keeps exact powers of two in their own bin despite log2 rounding (as analysis.h bins).
  return static_cast<int64_t>(
      std::floor(std::log2(static_cast<double>(n)) * std::max(1, bins_per_octave) + 1e-9));
}

int64_t sweepBinCount(int64_t max_length, int bins_per_octave) {
  return max_length < 1 ? 0 : sweepBinOf(max_length, bins_per_octave) + 1;
}

}  // namespace attnscope
