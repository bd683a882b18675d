#pragma once
// A tiny capture with known values, written through attnscope::store's RunWriter, for the widget tests.
// Runs "softmax" (normalizer "softmax", with targets and target_mass) and "ssmax" ("ssmax:s=0.5", no
// target_mass).

#include <QString>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace attnscope::test {

struct KnownCaptureOptions {
  int n_tokens = 8;
  int n_layer = 2;
  int n_head = 3;
  /// Map value of a head at (query, key); empty: knownMapValue for every head.
  std::function<float(int layer, int head, int query, int key)> map_value{};
  /// (layer, head) pairs whose map is not stored.
  std::vector<std::pair<int, int>> heads_without_map{};
  /// The target token ranges of run 0 (" sat on"), whose target_mass every query after them sees.
  std::vector<std::pair<int64_t, int64_t>> targets{{2, 4}};
  // Fields below were added later: positional initialisers in tests stop at targets.
  /// Map value of run 1 (ssmax); empty: as run 0.
  std::function<float(int layer, int head, int query, int key)> compare_map_value{};
  /// Also store every stored head's pre-softmax scores (hook_scores), knownScoreValue or score_value.
  bool scores = false;
  /// Store the probabilities (hook_pattern) of the stored heads; false with scores: scores only.
  bool patterns = true;
  std::function<float(int layer, int head, int query, int key)> score_value{};
  /// >= 0: run 1 (ssmax) is left as a cancelled capture leaves it: layers [0, computed_layers) written, then
  /// queries [0, partial_queries) of the next layer, nothing after, and the run never marked complete.
  int computed_layers = -1;
  int partial_queries = 0;
};

/// The score of every head at (query, key): 2 − |q − k| / 2 on and below the diagonal, else −inf (masked).
float knownScoreValue(int query, int key);

/// The map value of every head at (query, key): (q + k) / (2 (T − 1)) on and below the diagonal, else 0.
float knownMapValue(int query, int key, int n_tokens);
/// Stat value of run 0 (softmax) or 1 (ssmax) at (layer, head, query); NaN for target_mass of run 1 and for
/// induction_mass of queries 0 and 1.
float knownStatValue(int run, const QString& stat, int layer, int head, int query);
/// Token i's text.
QString knownToken(int i);

/// Writes the capture to path (replacing any file there). Throws on failure.
void writeKnownCapture(const QString& path, const KnownCaptureOptions& options = {});

}  // namespace attnscope::test
