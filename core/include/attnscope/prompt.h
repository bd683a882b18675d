#pragma once
// Prompts: token ids given directly, or text (inline or from a file) through a model directory's tokenizer.
// Shared by the CLI and the desktop application. No torch, no Qt.

#include <cstdint>
#include <string>
#include <vector>

namespace attnscope {

/// Where a prompt's tokens come from: exactly one of ids, text or a text file.
struct PromptSource {
  std::vector<int64_t> ids;
  std::string text;
  std::string file;
};

struct PromptTokens {
  std::vector<int64_t> ids;
  std::vector<std::string> display;  // a readable label per token (the id itself when there is no tokenizer)
};

/// Tokenizes a prompt for a model directory; ids need no tokenizer (labels come from one when present).
/// Throws std::invalid_argument (not exactly one source, no tokens), std::runtime_error (unreadable file),
/// TokenizerError.
PromptTokens promptTokens(const PromptSource& prompt, const std::string& model_dir);

}  // namespace attnscope
