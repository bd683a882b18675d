#pragma once
// Prompts: token ids given directly, or text (inline or from a file) through a model directory's tokenizer.
// Shared by the CLI and the desktop application. No torch, no Qt.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

/// Where a prompt's tokens come from: exactly one of ids, text, a text file or an induction prompt.
struct PromptSource {
  std::vector<int64_t> ids;
  std::string text;
  std::string file;
  std::string induction;  // "R[:SEED]": R random token ids, then the same R again (inductionPromptIds)
};

/// The repeated-random-tokens prompt that reveals induction heads: R distinct ids drawn uniformly from
/// [0, vocab_size) (with repeats only when R > vocab_size) by a seeded mt19937_64, then the same R ids again,
/// [2R]. In the second half, query R + t has its earlier occurrence at t, so its induction key is t + 1.
std::vector<int64_t> inductionPromptIds(int64_t length, uint64_t seed, int64_t vocab_size);

/// Parses "R[:SEED]" (SEED default 0) into (R, SEED). Throws std::invalid_argument naming the text.
std::pair<int64_t, uint64_t> parseInductionPrompt(const std::string& text);

struct PromptTokens {
  std::vector<int64_t> ids;
  std::vector<std::string> display;  // a readable label per token (the id itself when there is no tokenizer)
};

/// Tokenizes a prompt for a model directory; ids need no tokenizer (labels come from one when present). An
/// induction prompt draws from the smaller of the tokenizer's vocabulary and model_vocab_size (config.json's
/// vocab_size; 0: unknown), and needs at least one of them. Throws std::invalid_argument (not exactly one
/// source, no tokens, a bad induction spec), std::runtime_error (unreadable file), TokenizerError.
PromptTokens promptTokens(const PromptSource& prompt, const std::string& model_dir,
                          int64_t model_vocab_size = 0);

}  // namespace attnscope
