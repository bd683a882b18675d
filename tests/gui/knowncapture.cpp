#include "knowncapture.h"

#include <QFile>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attnscope/store.h"

namespace attnscope::test {

float knownMapValue(int query, int key, int n_tokens) {
  return key <= query ? static_cast<float>(query + key) / static_cast<float>(2 * (n_tokens - 1)) : 0.0f;
}

float knownScoreValue(int query, int key) {
  return key <= query ? 2.0f - 0.5f * static_cast<float>(query - key)
                      : -std::numeric_limits<float>::infinity();
}

float knownStatValue(int run, const QString& stat, int layer, int head, int query) {
  if (stat == QLatin1String("n_keys")) return static_cast<float>(query + 1);
  if (stat == QLatin1String("max_prob"))
    return run == 0 ? 0.9f / (1.0f + 0.1f * query * (head + 1)) - 0.1f * layer
                    : 0.95f - 0.01f * head - 0.05f * layer;
  if (stat == QLatin1String("entropy"))
    return std::log(query + 1.0f) * (0.5f + 0.1f * head + (run == 0 ? 0.2f : 0.0f));
  if (stat == QLatin1String("target_mass"))
    return run == 0 ? 0.3f + 0.05f * head : std::numeric_limits<float>::quiet_NaN();
  if (stat == QLatin1String("induction_mass"))  // undefined (NaN) for the first two queries
    return query < 2 ? std::numeric_limits<float>::quiet_NaN()
                     : 0.2f * head + 0.3f * layer + 0.1f * (1 - run);
  return 0;
}

QString knownToken(int i) {
  static const char* const words[] = {"The", " cat", " sat", " on", " the", " mat", ".", "\n"};
  return QString::fromUtf8(words[i % 8]) + (i >= 8 ? QString::number(i / 8) : QString());
}

void writeKnownCapture(const QString& path, const KnownCaptureOptions& options) {
  QFile::remove(path);
  const int T = options.n_tokens;
  CaptureTokens tokens;
  for (int i = 0; i < T; ++i) {
    tokens.ids.push_back(i);
    tokens.text.push_back(knownToken(i).toStdString());
  }
  CaptureModel model{"{}", "known", "0"};
  auto file = CaptureFile::create(path.toStdString(), model, tokens);
  const char* const names[] = {"softmax", "ssmax"};
  const char* const normalizers[] = {"softmax", "ssmax:s=0.5"};
  for (int run = 0; run < 2; ++run) {
    RunSpec spec;
    spec.name = names[run];
    spec.normalizer = normalizers[run];
    spec.n_layer = options.n_layer;
    spec.n_head = options.n_head;
    spec.n_tokens = T;
    spec.stats = {"max_prob", "entropy", "induction_mass", "n_keys"};
    if (run == 0) {
      spec.stats.push_back("target_mass");
      spec.targets = options.targets;
    }
    for (int layer = 0; layer < options.n_layer; ++layer) {
      MapRequest map{"blocks." + std::to_string(layer) + ".attn.hook_pattern", layer, {}};
      for (int head = 0; head < options.n_head; ++head) {
        const std::pair<int, int> key{layer, head};
        const auto& skipped = options.heads_without_map;
        if (std::find(skipped.begin(), skipped.end(), key) == skipped.end()) map.heads.push_back(head);
      }
      if (options.patterns) spec.maps.push_back(map);
      if (options.scores) {
        map.hook = "blocks." + std::to_string(layer) + ".attn.hook_scores";
        spec.maps.push_back(map);
      }
    }
    // Queries written per layer: all, or as far as a cancelled capture of run 1 came.
    const bool cancelled = run == 1 && options.computed_layers >= 0;
    const auto written = [&](int layer) {
      if (!cancelled || layer < options.computed_layers) return T;
      return layer == options.computed_layers ? options.partial_queries : 0;
    };
    RunWriter writer = file->beginRun(spec);
    for (const std::string& stat : spec.stats)
      for (int layer = 0; layer < options.n_layer; ++layer) {
        if (written(layer) == 0) continue;
        std::vector<float> values;  // [n_head, written]
        for (int head = 0; head < options.n_head; ++head)
          for (int q = 0; q < written(layer); ++q)
            values.push_back(knownStatValue(run, QString::fromStdString(stat), layer, head, q));
        writer.writeStat(stat, layer, 0, written(layer), values.data());
      }
    for (const MapRequest& request : spec.maps)
      for (int64_t head : request.heads) {
        const int layer = static_cast<int>(request.layer), rows = written(layer);
        const bool scores = request.hook.find("hook_scores") != std::string::npos;
        std::vector<float> map;  // [rows, T]
        for (int q = 0; q < rows; ++q)
          for (int k = 0; k < T; ++k)
            map.push_back(scores ? (options.score_value
                                        ? options.score_value(layer, static_cast<int>(head), q, k)
                                        : knownScoreValue(q, k))
                          : run == 1 && options.compare_map_value
                              ? options.compare_map_value(layer, static_cast<int>(head), q, k)
                          : options.map_value ? options.map_value(layer, static_cast<int>(head), q, k)
                                              : knownMapValue(q, k, T));
        if (rows > 0) writer.writeMapBlock(request.hook, head, 0, rows, 0, T, map.data());
      }
    if (cancelled) {
      writer.flush();  // what a cancelled capture leaves: written data on disk, complete = 0
      continue;
    }
    writer.finish();
  }
}

}  // namespace attnscope::test
