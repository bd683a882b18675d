#include "attnscope/statistics.h"

#include <algorithm>

namespace attnscope {

const std::vector<StatisticInfo>& statisticCatalogue() {
  static const std::vector<StatisticInfo> catalogue = {
      {kStatMaxProb, "Max attention", "max attention probability", "probability", true, false, true},
      {kStatArgmax, "Argmax key", "key position of the max attention", "key position", false, false, false},
      {kStatEntropy, "Entropy", "attention entropy (nats)", "nats", false, false, true},
      {kStatSinkMass, "Sink mass", "attention mass on the first token", "probability", true, false, true},
      {kStatTopkMass, "Top-k mass", "top-k attention mass", "probability", true, false, true},
      {kStatTargetMass, "Target mass", "attention mass on target tokens", "probability", true, true, true},
      {kStatPrevTokenMass, "Previous-token mass", "attention mass on the previous token", "probability", true,
       false, true, true},
      {kStatInductionMass, "Induction mass", "attention mass on the token after the previous occurrence",
       "probability", true, false, true, true},
      {kStatLocalMass, "Local mass", "attention mass on the last W keys", "probability", true, false, true},
      {kStatMeanDistance, "Mean distance", "mean attention distance (tokens)", "tokens", false, false, true},
      {kStatMultiplier, "Multiplier", "logit multiplier m of the normalizer", "", false, false, true},
      {kStatNKeys, "Keys seen", "keys the query sees (n)", "keys", false, false, false},
  };
  return catalogue;
}

const StatisticInfo* findStatistic(std::string_view name) {
  const auto& catalogue = statisticCatalogue();
  auto it = std::find_if(catalogue.begin(), catalogue.end(),
                         [name](const StatisticInfo& info) { return info.name == name; });
  return it == catalogue.end() ? nullptr : &*it;
}

std::vector<std::string> capturedStatistics(bool with_targets) {
  std::vector<std::string> names;
  for (const StatisticInfo& info : statisticCatalogue())
    if (with_targets || !info.needs_targets) names.emplace_back(info.name);
  return names;
}

std::vector<std::string> viewedStatistics() {
  return {kStatMaxProb,       kStatEntropy,       kStatTargetMass, kStatSinkMass,
          kStatPrevTokenMass, kStatInductionMass, kStatLocalMass,  kStatMeanDistance};
}

std::string statisticLabel(std::string_view name) {
  const StatisticInfo* info = findStatistic(name);
  return std::string(info ? info->label : name);
}

bool isProbabilityStatistic(std::string_view name) {
  const StatisticInfo* info = findStatistic(name);
  return info && info->probability;
}

}  // namespace attnscope
