#pragma once
// Small sweep files with known records, written through attnscope::store's SweepWriter, for the sweep view
// and export tests. Every value is a closed-form function of (normalizer, length, depth, prompt, layer, head,
// bin), so a test computes the means it expects without the code under test.

#include <QString>

#include <cstdint>
#include <vector>

#include "attnscope/sweep_file.h"

namespace attnscope::test {

/// The needle sweep: normalizers softmax and ssmax (s = 0.43), lengths 64, 128, 256, depths 0, 0.5, 1, two
/// prompts per cell, a model of 2 layers × 3 heads, statistics max_prob and entropy binned one per octave.
SweepHeader knownNeedleSweepHeader();
/// The documents sweep: softmax and ssmax, lengths 64 and 128, three documents each, loss buckets 0, 16,
/// 32, 64, 128, statistics max_prob and entropy.
SweepHeader knownDocumentsSweepHeader();

/// Whether a record is correct: softmax fails at depth 0.5 beyond 64 tokens, ssmax only its second prompt at
/// 256 tokens and depth 1.
bool knownCorrect(int normalizer, int length_index, int depth_index, int prompt);
/// Digit accuracy of a record: 1 when correct, else 0.25 · (prompt + 1).
double knownDigitAccuracy(int normalizer, int length_index, int depth_index, int prompt);
/// The needle score of a head: (1 + normalizer) · (layer · 3 + head + 1) / 20 / (length_index + 1), plus
/// 0.01 · prompt.
float knownNeedleScore(int normalizer, int length_index, int prompt, int layer, int head);
/// The per-prompt mean of a statistic in a bin: max_prob 0.9 / (bin + 1) + 0.05 · normalizer + 0.02 ·
/// prompt_ordinal (the record's index among the normalizer's records, so prompts differ); entropy bin / 4 for
/// every prompt (its band collapses onto the mean).
float knownStatMean(int normalizer, int stat, int layer, int head, int bin, int prompt_ordinal);
/// The per-prompt mean loss of a position bucket: 3 − 0.2 · bucket − 0.5 · normalizer + 0.1 · prompt.
double knownLoss(int normalizer, int bucket, int prompt);
/// Queries (or positions) of a prompt of length tokens in the n range [lo, hi): those with 1 <= n <= length.
int64_t knownCount(int64_t length, int64_t lo, int64_t hi);

/// Writes the sweep of header to path (replacing any file there): every record, or with n_cells >= 0 only
/// those of the first n_cells cells of each normalizer, as a killed sweep leaves them. Throws on failure.
void writeKnownSweep(const QString& path, const SweepHeader& header, int64_t n_cells = -1);

}  // namespace attnscope::test
