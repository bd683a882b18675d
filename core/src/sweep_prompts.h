#pragma once
// The prompts of a sweep, in the tokens of the model's own tokenizer (internal to the core; no torch).
// Needle prompts: haystack tokens with the city/number needle sentence (train_data.h) inserted at a depth,
// optional distractor needles of other cities, the question at the end, exactly `length` tokens. Each piece
// is tokenized on its own, so the needle's token range holds the sentence and nothing else, and a tokenizer's
// BOS comes once, first. For the byte tokenizer without BOS the prompt is byte for byte buildNeedlePrompt's,
// drawn from the same random stream as `eval` always drew it, so sweeps reproduce eval's numbers. Documents:
// text at a random offset, the same for every length, cut at each length.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attnscope {

class Tokenizer;

/// One prompt of a sweep.
struct SweepPrompt {
  std::vector<int64_t> ids;  // needle: [length]; documents: [length + 1], the last a target only
  int64_t needle_begin = 0, needle_end = 0;  // token range [begin, end) covering the needle sentence
  std::string sentence;                      // the needle sentence
  std::string answer;                        // the digits that should follow the prompt
  std::vector<std::pair<int64_t, int64_t>> distractors;  // token ranges of the other cities' needles
};

/// Returns the seed of the random stream a needle prompt of (length, depth) is drawn from: prompt i of a cell
/// is the stream's i-th draw (needle, then haystack offset), as eval has always drawn them.
uint64_t needleStreamSeed(uint64_t seed, int64_t length, double depth);

/// Builds prompts from one haystack for one tokenizer.
class SweepPromptBuilder {
 public:
  /// Keeps references to both; throws std::invalid_argument for an empty text.
  SweepPromptBuilder(const Tokenizer& tokenizer, const std::string& text);

  /// Returns prompt `prompt_index` of the needle cell (length, depth) with `distractors` other needles per
  /// 1,000 tokens. Throws std::invalid_argument when length cannot hold the needle, the question and the
  /// distractors, and TokenizerError when the haystack is not valid UTF-8 for a text tokenizer.
  SweepPrompt needle(int64_t length, double depth, uint64_t seed, int64_t prompt_index,
                     double distractors) const;
  /// Returns document `prompt_index` cut at length tokens (plus its next token). Throws like needle().
  SweepPrompt document(int64_t length, uint64_t seed, int64_t prompt_index) const;
  /// Returns the tokens the tokenizer puts before any text (its BOS), possibly none.
  const std::vector<int64_t>& prefix() const { return m_prefix; }

 private:
  std::vector<int64_t> pieceIds(const std::string& text) const;
  std::vector<int64_t> haystackIds(uint64_t offset, int64_t n_tokens) const;
  bool wordStartsAt(const std::vector<int64_t>& hay, int64_t at) const;

  const Tokenizer& m_tokenizer;
  const std::string& m_text;
  bool m_bytes = false;  // ids are byte values: no UTF-8 needed, haystack cut at any byte
  std::vector<int64_t> m_prefix;
};

}  // namespace attnscope
