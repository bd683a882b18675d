#include "attnscope/prompt.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>

#include "attnscope/text_input.h"
#include "attnscope/tokenizer.h"

namespace attnscope {
namespace {

// Half an induction prompt at most: the whole prompt stays within a capture's token bound
// (kMaxCaptureTokens).
constexpr int64_t kMaxInductionLength = int64_t{1} << 23;

/// The model directory's tokenizer, or null when it has none (ids then display as numbers).
std::unique_ptr<Tokenizer> optionalTokenizer(const std::string& model_dir) {
  try {
    return loadTokenizer(model_dir);
  } catch (const TokenizerError&) {
    return nullptr;
  }
}

}  // namespace

std::vector<int64_t> inductionPromptIds(int64_t length, uint64_t seed, int64_t vocab_size) {
  if (length < 1 || length > kMaxInductionLength || vocab_size < 1)
    throw std::invalid_argument("induction prompt: length " + std::to_string(length) + " must be in 1.." +
                                std::to_string(kMaxInductionLength) + " and the vocabulary not empty");
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ids;
  if (length <= vocab_size) {
    // Distinct ids (a partial Fisher–Yates shuffle), so each first-half token has one earlier occurrence.
    std::vector<int64_t> pool(static_cast<std::size_t>(vocab_size));
    std::iota(pool.begin(), pool.end(), int64_t{0});
    for (int64_t i = 0; i < length; ++i) {
      const int64_t j = std::uniform_int_distribution<int64_t>(i, vocab_size - 1)(rng);
      std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
    }
    ids.assign(pool.begin(), pool.begin() + length);
  } else {
    std::uniform_int_distribution<int64_t> draw(0, vocab_size - 1);
    for (int64_t i = 0; i < length; ++i) ids.push_back(draw(rng));
  }
  ids.insert(ids.end(), ids.begin(), ids.end());
  return ids;
}

std::pair<int64_t, uint64_t> parseInductionPrompt(const std::string& text) {
  const auto bad = [&text](const std::string& why) {
    return std::invalid_argument("induction prompt '" + text + "': " + why);
  };
  const std::size_t colon = text.find(':');
  const std::string length_text = text.substr(0, colon);
  const std::string seed_text = colon == std::string::npos ? "0" : text.substr(colon + 1);
  // Up to 18 digits fit int64 and 19 fit uint64: stoll and stoull cannot overflow.
  const auto digits = [](const std::string& s, std::size_t max_digits) {
    return !s.empty() && s.size() <= max_digits &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(length_text, 18)) throw bad("give R[:SEED], R the number of random tokens (e.g. 200:1)");
  if (!digits(seed_text, 19)) throw bad("the seed must be a non-negative integer below 10^19");
  const int64_t length = std::stoll(length_text);
  if (length < 1 || length > kMaxInductionLength)
    throw bad("R must be in 1.." + std::to_string(kMaxInductionLength));
  return {length, std::stoull(seed_text)};
}

PromptTokens promptTokens(const PromptSource& prompt, const std::string& model_dir,
                          int64_t model_vocab_size) {
  const int given =
      !prompt.ids.empty() + !prompt.text.empty() + !prompt.file.empty() + !prompt.induction.empty();
  if (given != 1)
    throw std::invalid_argument("give exactly one of token ids, text, a prompt file or an induction prompt");
  PromptTokens tokens;
  tokens.ids = prompt.ids;
  std::unique_ptr<Tokenizer> tokenizer;
  if (!prompt.induction.empty()) {
    const auto [length, seed] = parseInductionPrompt(prompt.induction);
    tokenizer = optionalTokenizer(model_dir);  // for display strings, and its vocabulary bounds the draw
    int64_t vocab = model_vocab_size;
    if (tokenizer) vocab = vocab > 0 ? std::min(vocab, tokenizer->vocabSize()) : tokenizer->vocabSize();
    if (vocab < 1)
      throw std::invalid_argument(
          "induction prompt: the model directory gives no vocabulary size to draw from");
    tokens.ids = inductionPromptIds(length, seed, vocab);
  } else if (tokens.ids.empty()) {
    std::string text = prompt.text;
    if (!prompt.file.empty()) text = readFile(prompt.file);
    tokenizer = loadTokenizer(model_dir);
    tokens.ids = tokenizer->encode(text);
    if (tokens.ids.empty()) throw std::invalid_argument("the prompt encodes to no tokens");
  } else {
    tokenizer = optionalTokenizer(model_dir);  // only for display strings; ids work without one
  }
  for (int64_t id : tokens.ids)
    tokens.display.push_back(tokenizer && id >= 0 && id < tokenizer->vocabSize()
                                 ? tokenizer->displayString(id)
                                 : std::to_string(id));
  return tokens;
}

}  // namespace attnscope
