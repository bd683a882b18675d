#include "knownsweep.h"

#include <QFile>

#include <algorithm>
#include <cmath>

#include "attnscope/normalizer_spec.h"

namespace attnscope::test {
namespace {

SweepHeader baseHeader(SweepMode mode) {
  SweepHeader header;
  header.grid.mode = mode;
  for (const char* spec : {"softmax", "ssmax:s=0.43"})
    header.grid.normalizers.push_back(parseNormalizer(spec).text());
  header.grid.bins_per_octave = 1;
  header.grid.stats = {"max_prob", "entropy"};
  header.grid.haystack = "known";
  header.grid.haystack_hash = "0123456789abcdef";
  header.model.checkpoint.config_json = R"({"model_type": "llama", "num_hidden_layers": 2})";
  header.model.checkpoint.path = "/models/known-llama";
  header.model.checkpoint.weights_hash = "feedfacefeedface";
  header.model.n_layer = 2;
  header.model.n_head = 3;
  header.model.tokenizer = "gpt2";
  return header;
}

}  // namespace

SweepHeader knownNeedleSweepHeader() {
  SweepHeader header = baseHeader(SweepMode::Needle);
  header.grid.lengths = {64, 128, 256};
  header.grid.depths = {0, 0.5, 1};
  header.grid.prompts_per_cell = 2;
  return header;
}

SweepHeader knownDocumentsSweepHeader() {
  SweepHeader header = baseHeader(SweepMode::Documents);
  header.grid.lengths = {64, 128};
  header.grid.depths = {0};
  header.grid.prompts_per_cell = 3;
  header.grid.loss_edges = {0, 16, 32, 64, 128};
  return header;
}

bool knownCorrect(int normalizer, int length_index, int depth_index, int prompt) {
  if (normalizer == 0) return !(depth_index == 1 && length_index > 0);
  return !(length_index == 2 && depth_index == 2 && prompt == 1);
}

double knownDigitAccuracy(int normalizer, int length_index, int depth_index, int prompt) {
  return knownCorrect(normalizer, length_index, depth_index, prompt) ? 1.0 : 0.25 * (prompt + 1);
}

float knownNeedleScore(int normalizer, int length_index, int prompt, int layer, int head) {
  return static_cast<float>((1 + normalizer) * (layer * 3 + head + 1) / 20.0 / (length_index + 1) +
                            0.01 * prompt);
}

float knownStatMean(int normalizer, int stat, int /*layer*/, int head, int bin, int prompt_ordinal) {
  if (stat == 1) return static_cast<float>(bin / 4.0);
  return static_cast<float>(0.9 / (bin + 1) + 0.05 * normalizer + 0.02 * prompt_ordinal + 0.001 * head);
}

double knownLoss(int normalizer, int bucket, int prompt) {
  return 3 - 0.2 * bucket - 0.5 * normalizer + 0.1 * prompt;
}

int64_t knownCount(int64_t length, int64_t lo, int64_t hi) {
  return std::max<int64_t>(0, std::min(hi, length + 1) - std::max<int64_t>(lo, 1));
}

void writeKnownSweep(const QString& path, const SweepHeader& header, int64_t n_cells) {
  QFile::remove(path);
  const SweepGrid& grid = header.grid;
  const int n_layer = static_cast<int>(header.model.n_layer), n_head = static_cast<int>(header.model.n_head);
  const int64_t n_bins = sweepBinCount(grid.lengths.back(), grid.bins_per_octave);
  const int n_stats = static_cast<int>(grid.stats.size());
  const auto writer = SweepWriter::open(path.toStdString(), header, false);
  for (int normalizer = 0; normalizer < static_cast<int>(grid.normalizers.size()); ++normalizer) {
    int ordinal = 0;
    const int64_t n_written = n_cells < 0 ? grid.cellCount() : std::min(n_cells, grid.cellCount());
    for (int64_t index = 0; index < n_written; ++index, ++ordinal) {
      const SweepCell cell = sweepCell(grid, index);
      const int li = static_cast<int>(cell.length_index), di = static_cast<int>(cell.depth_index);
      const int prompt = static_cast<int>(cell.prompt_index);
      SweepRecord r;
      r.cell = index;
      r.normalizer = normalizer;
      r.length = grid.lengths[cell.length_index];
      r.depth = grid.depths[cell.depth_index];
      r.seed = sweepCellSeed(grid, cell);
      r.prompt_index = prompt;
      if (grid.mode == SweepMode::Needle) {
        r.needle_begin = r.length / 2;
        r.needle_end = r.needle_begin + 8;
        r.answer = "4821";
        r.correct = knownCorrect(normalizer, li, di, prompt);
        r.generated = r.correct ? "4821" : "4000";
        r.digit_accuracy = knownDigitAccuracy(normalizer, li, di, prompt);
        for (int layer = 0; layer < n_layer; ++layer)
          for (int head = 0; head < n_head; ++head)
            r.needle_scores.push_back(knownNeedleScore(normalizer, li, prompt, layer, head));
      } else {
        for (std::size_t b = 0; b + 1 < grid.loss_edges.size(); ++b) {
          // Positions are 0-based here: bucket [lo, hi) holds the positions of the document below hi.
          const int64_t count =
              std::max<int64_t>(0, std::min(grid.loss_edges[b + 1], r.length) - grid.loss_edges[b]);
          r.loss_counts.push_back(count);
          r.loss_sums.push_back(count * knownLoss(normalizer, static_cast<int>(b), prompt));
        }
      }
      r.stat_counts.assign(static_cast<std::size_t>(n_layer * n_bins), 0);
      r.stat_sums.assign(static_cast<std::size_t>(n_stats * n_layer * n_head * n_bins), 0.0f);
      for (int layer = 0; layer < n_layer; ++layer)
        for (int64_t bin = 0; bin < n_bins; ++bin) {
          const int64_t lo = int64_t{1} << bin, hi = int64_t{1} << (bin + 1);
          const int64_t count = knownCount(r.length, lo, hi);
          r.stat_counts[static_cast<std::size_t>(layer * n_bins + bin)] = static_cast<int32_t>(count);
          for (int stat = 0; stat < n_stats; ++stat)
            for (int head = 0; head < n_head; ++head)
              r.stat_sums[static_cast<std::size_t>(((stat * n_layer + layer) * n_head + head) * n_bins +
                                                   bin)] =
                  static_cast<float>(count) *
                  knownStatMean(normalizer, stat, layer, head, static_cast<int>(bin), ordinal);
        }
      writer->append(r);
    }
  }
}

}  // namespace attnscope::test
