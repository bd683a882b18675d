#include "attnscope/prompt.h"

#include <memory>
#include <stdexcept>

#include "attnscope/text_input.h"
#include "attnscope/tokenizer.h"

namespace attnscope {

PromptTokens promptTokens(const PromptSource& prompt, const std::string& model_dir) {
  const int given = !prompt.ids.empty() + !prompt.text.empty() + !prompt.file.empty();
  if (given != 1) throw std::invalid_argument("give exactly one of token ids, text or a prompt file");
  PromptTokens tokens;
  tokens.ids = prompt.ids;
  std::unique_ptr<Tokenizer> tokenizer;
  if (tokens.ids.empty()) {
    std::string text = prompt.text;
    if (!prompt.file.empty()) text = readFile(prompt.file);
    tokenizer = loadTokenizer(model_dir);
    tokens.ids = tokenizer->encode(text);
    if (tokens.ids.empty()) throw std::invalid_argument("the prompt encodes to no tokens");
  } else {
    try {
      tokenizer = loadTokenizer(model_dir);  // only for display strings; ids work without one
    } catch (const TokenizerError&) {
    }
  }
  for (int64_t id : tokens.ids)
    tokens.display.push_back(tokenizer && id >= 0 && id < tokenizer->vocabSize()
                                 ? tokenizer->displayString(id)
                                 : std::to_string(id));
  return tokens;
}

}  // namespace attnscope
