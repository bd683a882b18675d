// Prompts for the CLI: token ids given directly, or text (inline or from a file) through the model's
// tokenizer.

#include <cstdio>
#include <utility>

#include "attnscope/config.h"
#include "attnscope/prompt.h"
#include "attnscope/tokenizer.h"
#include "commands.h"

namespace attnscope::cli {

std::vector<int64_t> promptIds(const PromptSource& prompt, const std::string& model_dir,
                               std::vector<std::string>* display) {
  const int64_t vocab_size = prompt.induction.empty() ? 0 : loadConfig(model_dir).vocab_size;
  PromptTokens tokens = promptTokens(prompt, model_dir, vocab_size);
  if (display) *display = std::move(tokens.display);
  return tokens.ids;
}

int runTokenize(const TokenizeOptions& options) {
  std::vector<std::string> display;
  std::vector<int64_t> ids = promptIds(options.prompt, options.model_dir, &display);
  auto tokenizer = loadTokenizer(options.model_dir);
  std::printf("%zu tokens (%s)\n", ids.size(), tokenizer->kind().c_str());
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::printf("%6zu %8lld  %s\n", i, static_cast<long long>(ids[i]), display[i].c_str());
  return 0;
}

}  // namespace attnscope::cli
