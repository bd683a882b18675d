#pragma once
// The statistic catalogue: every per-query statistic a capture stores (one dataset [n_layer, n_head, T] each
// under /runs/<run>/stats), with its label, unit and kind. The one place statistic names are spelled; the
// capture, the store readers, the CLI and the widgets all take them from here. No torch, no Qt.

#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

// Dataset names, in the order a capture writes them.
inline constexpr char kStatMaxProb[] = "max_prob";        // largest probability of the row
inline constexpr char kStatArgmax[] = "argmax";           // key position of that probability
inline constexpr char kStatEntropy[] = "entropy";         // -Σ p ln p (nats)
inline constexpr char kStatSinkMass[] = "sink_mass";      // probability on the first token (attention sink)
inline constexpr char kStatTopkMass[] = "topk_mass";      // summed probability of the k largest keys
inline constexpr char kStatTargetMass[] = "target_mass";  // probability on the target token ranges
// Head types, per query i from its own row (no T×T map). NaN where undefined; summaries and curves skip NaN.
inline constexpr char kStatPrevTokenMass[] = "prev_token_mass";  // p on key i−1 (NaN at i = 0)
inline constexpr char kStatInductionMass[] = "induction_mass";   // p on key j+1, j < i the latest with
                                                                 // ids[j] == ids[i] (NaN: no such j, or
                                                                 // key j+1 outside the query's window)
inline constexpr char kStatLocalMass[] = "local_mass";  // p on keys i−W+1..i (W: run attr local_window)
inline constexpr char kStatMeanDistance[] = "mean_distance";  // Σ_j p_j (i − j), in tokens
inline constexpr char kStatMultiplier[] = "multiplier";       // the normalizer's logit multiplier m
inline constexpr char kStatNKeys[] = "n_keys";                // keys the query sees (the n of SSMax)

/// What the catalogue knows of one statistic.
struct StatisticInfo {
  std::string_view name;    // dataset name, e.g. "max_prob"
  std::string_view title;   // short name for menus: "Max attention"
  std::string_view label;   // axis label: "max attention probability"
  std::string_view unit;    // "probability", "nats", "key position", "keys", "tokens" or "" (a plain number)
  bool probability;         // a value in [0, 1]
  bool needs_targets;       // stored only when the capture has target token ranges
  bool per_context;         // meaningful against n: drawn as a curve, summarised per head
  bool may_be_nan = false;  // NaN at queries where it has no meaning; readers skip those queries
};

/// Every statistic, in the order a capture writes them.
const std::vector<StatisticInfo>& statisticCatalogue();

/// The catalogue entry of a name, or nullptr for a name the catalogue does not know (files from elsewhere).
const StatisticInfo* findStatistic(std::string_view name);

/// The statistics a capture stores: all of them, target_mass only with targets. Files written before a
/// statistic existed lack its dataset: readers treat it as absent (RunInfo::stats).
std::vector<std::string> capturedStatistics(bool with_targets);

/// The statistics the views offer to plot and summarise, in menu order: max_prob, entropy, target_mass,
/// sink_mass, then the head types prev_token_mass, induction_mass, local_mass, mean_distance.
std::vector<std::string> viewedStatistics();

/// The axis label of a statistic, or its name when the catalogue does not know it.
std::string statisticLabel(std::string_view name);

/// Whether a statistic is a probability (unknown names: no).
bool isProbabilityStatistic(std::string_view name);

}  // namespace attnscope
