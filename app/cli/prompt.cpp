// Prompts for the CLI: token ids given directly, or text (inline or from a file) through the model's tokenizer.

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "attnscope/tokenizer.h"
#include "commands.h"

namespace attnscope::cli {

std::vector<int64_t> promptIds(const PromptOptions& prompt, const std::string& model_dir,
                               std::vector<std::string>* display) {
  const int given = !prompt.ids.empty() + !prompt.text.empty() + !prompt.prompt_file.empty();
  if (given != 1) throw std::invalid_argument("give exactly one of --ids, --text or --prompt-file");
  std::vector<int64_t> ids = prompt.ids;
  std::unique_ptr<Tokenizer> tokenizer;
  if (ids.empty()) {
    std::string text = prompt.text;
    if (!prompt.prompt_file.empty()) {
      std::ifstream in(prompt.prompt_file, std::ios::binary);
      if (!in) throw std::runtime_error(prompt.prompt_file + ": cannot open");
      std::ostringstream content;
      content << in.rdbuf();
      text = content.str();
    }
    tokenizer = loadTokenizer(model_dir);
    ids = tokenizer->encode(text);
    if (ids.empty()) throw std::invalid_argument("the prompt encodes to no tokens");
  } else {
    try {
      tokenizer = loadTokenizer(model_dir);  // only for display strings; ids work without one
    } catch (const TokenizerError&) {
    }
  }
  if (display) {
    display->clear();
    for (int64_t id : ids)
      display->push_back(tokenizer && id >= 0 && id < tokenizer->vocabSize() ? tokenizer->displayString(id)
                                                                              : std::to_string(id));
  }
  return ids;
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
