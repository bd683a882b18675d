#pragma once
// Aggregates of sweep records, computed when read so that shards merge exactly: means over prompts with
// percentile-bootstrap confidence intervals (resampling prompts, a fixed seed, so every view and export of
// the same file shows the same interval). No torch, no Qt.

#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/sweep.h"

namespace attnscope {

/// A mean over prompts and its confidence interval.
struct SweepEstimate {
  double mean = 0;
  double lo = 0,
         hi = 0;      // bootstrap interval at SweepAggregateOptions::confidence; equal to mean for one value
  int64_t count = 0;  // values the mean is over (prompts)
};

struct SweepAggregateOptions {
  double confidence = 0.95;
  int64_t resamples = 1000;
  uint64_t seed = 7;
};

/// Returns the bootstrap estimate of the mean of values (NaN mean and interval when empty).
SweepEstimate bootstrapMean(const std::vector<double>& values, const SweepAggregateOptions& options = {});

/// Retrieval accuracy of one normalizer's records: one estimate per (length, depth) of the grid,
/// [n_lengths · n_depths], row-major by length. exact: share correct; else mean digit accuracy.
std::vector<SweepEstimate> retrievalGrid(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                         bool exact = true, const SweepAggregateOptions& options = {});

/// Retrieval accuracy of one normalizer's records per length, every depth together: [n_lengths], the
/// interval from resampling the length's prompts. exact: share correct; else mean digit accuracy.
std::vector<SweepEstimate> retrievalByLength(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                             bool exact = true, const SweepAggregateOptions& options = {});
/// Mean needle score per head over the records of one length (all depths): [n_layer · n_head].
std::vector<SweepEstimate> needleScoreGrid(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                           int64_t length, int64_t n_layer, int64_t n_head,
                                           const SweepAggregateOptions& options = {});

/// One point of a binned curve: the bin's n range (or the loss bucket's positions) and the estimate over
/// prompts of the per-prompt bin means.
struct SweepCurvePoint {
  double n_lo = 0, n_hi = 0;
  SweepEstimate value;
};

/// A statistic against n for one head, one layer (layer >= 0, head = -1: mean over its heads) or the whole
/// model (both -1: mean over every head of the layers with queries in the bin). Per prompt a head's bin mean
/// is stat_sums / stat_counts; the estimate is over prompts of those means averaged over the chosen heads.
/// Bins no record has a query in are left out. Throws std::invalid_argument (unknown stat, bad layer/head,
/// records of other shapes).
std::vector<SweepCurvePoint> sweepStatCurve(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                            const std::string& stat, int64_t layer, int64_t head,
                                            int64_t n_layer, int64_t n_head,
                                            const SweepAggregateOptions& options = {});

/// Loss by position bucket (documents mode): per bucket the estimate over prompts of their mean loss.
std::vector<SweepCurvePoint> sweepLossCurve(const SweepGrid& grid, const std::vector<SweepRecord>& records,
                                            const SweepAggregateOptions& options = {});

}  // namespace attnscope
