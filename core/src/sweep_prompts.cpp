#include "sweep_prompts.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "attnscope/tokenizer.h"
#include "attnscope/train_data.h"
#include "attnscope/untrusted_text.h"

namespace attnscope {
namespace {

// The whitespace buildNeedlePrompt moves the needle behind (a word start).
bool isBlank(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

bool allBlank(const std::string& text) {
  return std::all_of(text.begin(), text.end(), isBlank);
}

void append(std::vector<int64_t>& out, const std::vector<int64_t>& ids) {
  out.insert(out.end(), ids.begin(), ids.end());
}

/// One needle sentence to insert, in its two tokenizations: behind whitespace ("sentence" + " ", as
/// buildNeedlePrompt writes it) or before a token that starts a word with its own space (" " + "sentence", as
/// BPE tokenizers attach spaces to the following word).
struct Insertion {
  std::vector<int64_t> behind_blank;  // sentence tokens, then the separator's
  int64_t sentence_tokens = 0;        // of behind_blank, those of the sentence
  std::vector<int64_t> before_word;   // tokens of " " + sentence
  double depth = 0;
  int64_t at = 0;          // haystack token it goes before
  bool behind = true;      // which tokenization is used
  bool is_needle = false;  // the needle asked about, else a distractor
  int64_t maxSize() const { return static_cast<int64_t>(std::max(behind_blank.size(), before_word.size())); }
  int64_t size() const { return static_cast<int64_t>(behind ? behind_blank.size() : before_word.size()); }
};

}  // namespace

uint64_t needleStreamSeed(uint64_t seed, int64_t length, double depth) {
  // Each length and depth draws from its own stream, so adding a length or a depth leaves the prompts of the
  // others unchanged; the formula is eval's, so its prompts are the same.
  return seed ^ (static_cast<uint64_t>(length) * 0x9E3779B97F4A7C15ULL) ^ static_cast<uint64_t>(depth * 1e6);
}

SweepPromptBuilder::SweepPromptBuilder(const Tokenizer& tokenizer, const std::string& text)
    : m_tokenizer(tokenizer), m_text(text), m_bytes(tokenizer.kind() == "bytes") {
  if (text.empty()) throw std::invalid_argument("sweep prompts: no haystack text");
  if (!m_bytes) {
    // A text tokenizer takes valid UTF-8 only: check the whole haystack once, not each prompt.
    for (std::size_t i = 0; i < text.size();) {
      const std::size_t n = utf8CharLength(text, i);
      if (n == 0)
        throw std::invalid_argument("haystack is not valid UTF-8 at byte " + std::to_string(i) +
                                    " (the model's tokenizer reads text)");
      i += n;
    }
  }
  // What encode() puts before a text's own tokens (a BOS), found by comparing with and without specials.
  const std::vector<int64_t> with = tokenizer.encode("a", true), without = tokenizer.encode("a", false);
  auto it = std::search(with.begin(), with.end(), without.begin(), without.end());
  if (it != with.end()) m_prefix.assign(with.begin(), it);
}

std::vector<int64_t> SweepPromptBuilder::pieceIds(const std::string& text) const {
  if (!m_bytes) return m_tokenizer.encode(text, false);
  std::vector<int64_t> ids(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::vector<int64_t> SweepPromptBuilder::haystackIds(uint64_t offset, int64_t n_tokens) const {
  if (m_bytes) return pieceIds(textSlice(m_text, offset, n_tokens));
  // Whole characters only: start at the next character, and end the slice before a cut one.
  std::size_t start = offset % m_text.size();
  while (start < m_text.size() && (static_cast<unsigned char>(m_text[start]) & 0xC0) == 0x80) ++start;
  if (start == m_text.size()) start = 0;
  for (int64_t n_bytes = 4 * n_tokens + 64;; n_bytes *= 2) {
    std::string slice = textSlice(m_text, start, n_bytes);
    std::size_t end = slice.size();
    while (end > 0 && (static_cast<unsigned char>(slice[end - 1]) & 0xC0) == 0x80) --end;
    if (end > 0 && utf8CharLength(slice, end - 1) == 0)
      --end;  // a lead byte whose character was cut
    else
      end = slice.size();
    slice.resize(end);
    std::vector<int64_t> ids = m_tokenizer.encode(slice, false);
    // One token more than needed: the slice's last token may be a word cut short by its end.
    if (static_cast<int64_t>(ids.size()) > n_tokens) {
      ids.resize(static_cast<std::size_t>(n_tokens));
      return ids;
    }
    if (n_bytes > 1024 * n_tokens + 4096)
      throw std::invalid_argument("haystack: " + std::to_string(n_bytes) + " bytes give only " +
                                  std::to_string(ids.size()) + " tokens (need " + std::to_string(n_tokens) +
                                  ")");
  }
}

bool SweepPromptBuilder::wordStartsAt(const std::vector<int64_t>& hay, int64_t at) const {
  if (at == 0) return true;
  const std::string before = m_tokenizer.decode({hay[at - 1]});
  if (!before.empty() && isBlank(before.back())) return true;
  if (at >= static_cast<int64_t>(hay.size())) return false;  // the haystack's end: only what precedes counts
  // A token that carries its word's leading space (BPE " word", sentencepiece "▁word"), and is more than
  // whitespace, starts a word too.
  const std::string here = m_tokenizer.decode({hay[at]});
  const bool leads =
      (!here.empty() && isBlank(here.front())) || m_tokenizer.displayString(hay[at]).rfind("\u2423", 0) == 0;
  return leads && !allBlank(here);
}

SweepPrompt SweepPromptBuilder::needle(int64_t length, double depth, uint64_t seed, int64_t prompt_index,
                                       double distractors) const {
  if (!(depth >= 0.0 && depth <= 1.0)) throw std::invalid_argument("needle prompt: depth must be in [0, 1]");
  if (!(distractors >= 0.0 && distractors <= 1000.0))
    throw std::invalid_argument("needle prompt: distractors must be in [0, 1000] per 1,000 tokens");
  if (prompt_index < 0) throw std::invalid_argument("needle prompt: negative prompt index");
  std::mt19937_64 rng(needleStreamSeed(seed, length, depth));
  for (int64_t i = 0; i < prompt_index; ++i) {  // the earlier prompts of the stream
    drawNeedle(rng);
    uniformIndex(rng, m_text.size());
  }
  const Needle needle = drawNeedle(rng);
  const uint64_t offset = uniformIndex(rng, m_text.size());

  std::vector<Needle> needles = {needle};
  const int64_t n_distractors = std::llround(distractors * static_cast<double>(length) / 1000.0);
  std::vector<double> depths = {depth};
  for (int64_t d = 0; d < n_distractors; ++d) {
    Needle other = drawNeedle(rng);
    while (other.city == needle.city) other = drawNeedle(rng);
    needles.push_back(other);
    depths.push_back(uniformUnit(rng));
  }
  std::vector<Insertion> inserts;
  int64_t fixed = static_cast<int64_t>(m_prefix.size()), slack = 0;
  for (std::size_t i = 0; i < needles.size(); ++i) {
    Insertion in;
    const std::string sentence = needleSentence(needles[i]);
    in.behind_blank = pieceIds(sentence);
    in.sentence_tokens = static_cast<int64_t>(in.behind_blank.size());
    append(in.behind_blank, pieceIds(" "));
    in.before_word = pieceIds(" " + sentence);
    in.depth = depths[i];
    in.is_needle = i == 0;
    fixed += in.maxSize();
    slack += in.maxSize() - static_cast<int64_t>(std::min(in.behind_blank.size(), in.before_word.size()));
    inserts.push_back(std::move(in));
  }
  const std::vector<int64_t> question = pieceIds(needleQuestion(needle));
  fixed += static_cast<int64_t>(question.size());
  const int64_t n_hay = length - fixed;
  if (n_hay < 0)
    throw std::invalid_argument(
        "needle prompt: " + std::to_string(length) + " tokens cannot hold the needle, the question" +
        (n_distractors > 0 ? " and " + std::to_string(n_distractors) + " distractor(s)" : std::string()) +
        " (" + std::to_string(fixed) + " tokens)");
  // Haystack tokens for the longest case; the shorter tokenizations leave room for a few more.
  const std::vector<int64_t> hay = haystackIds(offset, n_hay + slack);
  int64_t inserted = 0;
  for (Insertion& in : inserts) {
    in.at = std::min<int64_t>(n_hay, std::llround(in.depth * static_cast<double>(n_hay)));
    while (in.at > 0 && !wordStartsAt(hay, in.at)) --in.at;  // never split a word
    in.behind = in.at == 0 || [&] {
      const std::string before = m_tokenizer.decode({hay[in.at - 1]});
      return !before.empty() && isBlank(before.back());
    }();
    inserted += in.size();
  }
  std::stable_sort(inserts.begin(), inserts.end(),
                   [](const Insertion& a, const Insertion& b) { return a.at < b.at; });

  SweepPrompt prompt;
  prompt.sentence = needleSentence(needle);
  prompt.answer = needle.digits;
  std::vector<int64_t>& ids = prompt.ids;
  ids = m_prefix;
  const int64_t n_used = length - static_cast<int64_t>(m_prefix.size() + question.size()) - inserted;
  int64_t used = 0;
  for (const Insertion& in : inserts) {
    ids.insert(ids.end(), hay.begin() + used, hay.begin() + in.at);
    used = in.at;
    const int64_t begin = static_cast<int64_t>(ids.size());
    const int64_t end = begin + (in.behind ? in.sentence_tokens : in.size());
    append(ids, in.behind ? in.behind_blank : in.before_word);
    if (in.is_needle) {
      prompt.needle_begin = begin;
      prompt.needle_end = end;
    } else {
      prompt.distractors.emplace_back(begin, end);
    }
  }
  ids.insert(ids.end(), hay.begin() + used, hay.begin() + n_used);
  append(ids, question);
  if (static_cast<int64_t>(ids.size()) != length)
    throw std::logic_error("needle prompt: built " + std::to_string(ids.size()) + " tokens, not " +
                           std::to_string(length));
  return prompt;
}

SweepPrompt SweepPromptBuilder::document(int64_t length, uint64_t seed, int64_t prompt_index) const {
  const int64_t n_text = length + 1 - static_cast<int64_t>(m_prefix.size());
  if (length < 1 || n_text < 1)
    throw std::invalid_argument("document: length " + std::to_string(length) + " leaves no room for text");
  // Document i starts at the stream's i-th offset whatever the length: longer lengths extend the same text.
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < prompt_index; ++i) uniformIndex(rng, m_text.size());
  SweepPrompt prompt;
  prompt.ids = m_prefix;
  append(prompt.ids, haystackIds(uniformIndex(rng, m_text.size()), n_text));
  return prompt;
}

}  // namespace attnscope
