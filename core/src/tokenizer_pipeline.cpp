// The HF tokenizers pipeline for BPE models: split off added tokens, normalize each remaining section,
// pre-tokenize it into words, BPE each word, add the post-processor's special tokens; decode runs the decoder
// chain over the token strings.

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer_internal.h"

namespace attnscope {
namespace tokenizer_detail {

namespace {

bool isWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

uint32_t codePointAt(std::string_view text, std::size_t i, std::size_t* length) {
  *length = std::max<std::size_t>(1, utf8CharLength(text, i));
  return utf8CodePoint(text, i, *length);
}

/// Start of the character that ends at `end` (exclusive).
std::size_t previousCharStart(std::string_view text, std::size_t end) {
  std::size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  return i;
}

bool isWordChar(uint32_t cp) {
  // Approximates Rust's char::is_alphanumeric: ASCII letters, digits and '_', and any non-space beyond ASCII.
  return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_' ||
         (cp >= 0x80 && !isWhitespace(cp));
}

std::string replaceAll(std::string_view text, const std::string& from, const std::string& to) {
  std::string out;
  if (from.empty()) return std::string(text);
  std::size_t pos = 0;
  while (true) {
    const std::size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.data() + pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(text.data() + pos, text.size() - pos);
  return out;
}

struct Span {
  std::size_t begin, end;
  bool is_match;
};

/// Splits text at a pattern's matches with one of HF's SplitDelimiterBehavior rules; appends non-empty
/// pieces.
void splitPiece(std::string_view text, const Regex& pattern, SplitBehavior behavior, bool invert,
                std::vector<std::string_view>& out) {
  thread_local std::vector<std::pair<std::size_t, std::size_t>> matches;
  matches.clear();
  pattern.findAll(text, matches);
  std::vector<Span> spans;
  spans.reserve(2 * matches.size() + 1);
  std::size_t prev = 0;
  for (const auto& [begin, end] : matches) {
    if (begin > prev) spans.push_back({prev, begin, invert});
    spans.push_back({begin, end, !invert});
    prev = end;
  }
  if (prev < text.size()) spans.push_back({prev, text.size(), invert});

  std::vector<std::pair<std::size_t, std::size_t>> pieces;
  pieces.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) pieces.emplace_back(s.begin, s.end);
      break;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans)
        if (!s.is_match) pieces.emplace_back(s.begin, s.end);
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !pieces.empty()) {
          pieces.back().second = s.end;
        } else {
          pieces.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !pieces.empty()) {
          pieces.back().first = it->begin;
        } else {
          pieces.emplace_back(it->begin, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.is_match && previous_match && !pieces.empty()) {
          pieces.back().second = s.end;
        } else {
          pieces.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
  }
  for (const auto& [begin, end] : pieces)
    if (end > begin) out.push_back(text.substr(begin, end - begin));
}

bool parseByteToken(const std::string& token, unsigned char* byte) {
  // sentencepiece byte-fallback tokens look like "<0x0A>".
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return false;
  const auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  const int hi = hex(token[3]), lo = hex(token[4]);
  if (hi < 0 || lo < 0) return false;
  *byte = static_cast<unsigned char>(hi * 16 + lo);
  return true;
}

}  // namespace

PipelineTokenizer::PipelineTokenizer(PipelineSpec spec) : m_spec(std::move(spec)) {
  // The loaders check ids against the file's bound with a message naming the file; this keeps every index
  // below inside the tables whoever builds the spec.
  int64_t size = 0;
  const auto include = [&size](int64_t id) {
    if (id < 0 || id >= kMaxTokenIds)
      throw TokenizerError("token id " + std::to_string(id) + " is outside [0, " +
                           std::to_string(kMaxTokenIds) + ")");
    size = std::max(size, id + 1);
  };
  for (const auto& [token, id] : m_spec.model->vocab()) include(id);
  for (const AddedToken& added : m_spec.added_tokens) include(added.id);
  m_id_to_token.resize(static_cast<std::size_t>(size));
  m_known.assign(static_cast<std::size_t>(size), 0);
  m_special.assign(static_cast<std::size_t>(size), 0);
  m_added.assign(static_cast<std::size_t>(size), 0);
  for (const auto& [token, id] : m_spec.model->vocab()) {
    m_id_to_token[id] = token;
    m_known[id] = 1;
  }
  for (std::size_t i = 0; i < m_spec.added_tokens.size(); ++i) {
    const AddedToken& added = m_spec.added_tokens[i];
    m_id_to_token[added.id] = added.content;
    m_known[added.id] = 1;
    m_added[added.id] = 1;
    m_special[added.id] = added.special ? 1 : 0;
    if (!added.content.empty())
      m_added_by_byte[static_cast<unsigned char>(added.content[0])].push_back(static_cast<int>(i));
  }
  for (auto& bucket : m_added_by_byte)
    std::stable_sort(bucket.begin(), bucket.end(), [&](int a, int b) {
      return m_spec.added_tokens[a].content.size() > m_spec.added_tokens[b].content.size();
    });
  for (int64_t id : m_spec.prefix_ids)
    if (id < 0 || id >= size || !m_known[id])
      throw TokenizerError("post-processor token id " + std::to_string(id) + " is not in the vocabulary");
  for (int64_t id : m_spec.suffix_ids)
    if (id < 0 || id >= size || !m_known[id])
      throw TokenizerError("post-processor token id " + std::to_string(id) + " is not in the vocabulary");
}

void PipelineTokenizer::encodeValid(const std::string& text, bool add_special_tokens,
                                    std::vector<int64_t>& ids) const {
  if (add_special_tokens) ids.insert(ids.end(), m_spec.prefix_ids.begin(), m_spec.prefix_ids.end());
  const std::string_view view(text);
  std::size_t section_start = 0;
  std::size_t pos = 0;
  while (pos < view.size()) {
    const auto& bucket = m_added_by_byte[static_cast<unsigned char>(view[pos])];
    const AddedToken* found = nullptr;
    for (int index : bucket) {
      const AddedToken& added = m_spec.added_tokens[index];
      if (view.compare(pos, added.content.size(), added.content) != 0) continue;
      if (added.single_word) {
        std::size_t len = 0;
        const std::size_t end = pos + added.content.size();
        if (pos > 0 && isWordChar(codePointAt(view, previousCharStart(view, pos), &len))) continue;
        if (end < view.size() && isWordChar(codePointAt(view, end, &len))) continue;
      }
      found = &added;
      break;
    }
    if (!found) {
      ++pos;
      continue;
    }
    std::size_t section_end = pos;
    if (found->lstrip) {
      std::size_t len = 0;
      while (section_end > section_start) {
        const std::size_t start = previousCharStart(view, section_end);
        if (!isWhitespace(codePointAt(view, start, &len))) break;
        section_end = start;
      }
    }
    encodeSection(view.substr(section_start, section_end - section_start), section_start == 0, ids);
    ids.push_back(found->id);
    pos += found->content.size();
    if (found->rstrip) {
      std::size_t len = 0;
      while (pos < view.size() && isWhitespace(codePointAt(view, pos, &len))) pos += len;
    }
    section_start = pos;
  }
  encodeSection(view.substr(section_start), section_start == 0, ids);
  if (add_special_tokens) ids.insert(ids.end(), m_spec.suffix_ids.begin(), m_spec.suffix_ids.end());
}

std::string PipelineTokenizer::normalize(std::string_view text) const {
  std::string s(text);
  for (const NormalizerStep& step : m_spec.normalizers) {
    switch (step.kind) {
      case NormalizerStep::Kind::kPrepend:
        if (!s.empty()) s.insert(0, step.text);
        break;
      case NormalizerStep::Kind::kReplace: {
        std::vector<std::pair<std::size_t, std::size_t>> matches;
        step.pattern->findAll(s, matches);
        if (matches.empty()) break;
        std::string out;
        std::size_t prev = 0;
        for (const auto& [begin, end] : matches) {
          out.append(s, prev, begin - prev);
          out += step.text;
          prev = end;
        }
        out.append(s, prev, std::string::npos);
        s = std::move(out);
        break;
      }
      case NormalizerStep::Kind::kUnicode:
        s = normalizeUnicode(s, step.form);
        break;
      case NormalizerStep::Kind::kLowercase:
        s = lowercaseUnicode(s);
        break;
      case NormalizerStep::Kind::kStrip: {
        std::size_t begin = 0, end = s.size(), len = 0;
        if (step.left)
          while (begin < end && isWhitespace(codePointAt(s, begin, &len))) begin += len;
        if (step.right)
          while (end > begin) {
            const std::size_t start = previousCharStart(s, end);
            if (!isWhitespace(codePointAt(s, start, &len))) break;
            end = start;
          }
        s = s.substr(begin, end - begin);
        break;
      }
    }
  }
  return s;
}

void PipelineTokenizer::encodeSection(std::string_view text, bool first_section,
                                      std::vector<int64_t>& ids) const {
  if (text.empty()) return;
  std::string normalized;
  if (!m_spec.normalizers.empty()) {
    normalized = normalize(text);
    text = normalized;
    if (text.empty()) return;
  }
  std::deque<std::string> storage;  // pieces rewritten by a step live here; a deque keeps them in place
  std::vector<std::string_view> pieces{text}, next;
  for (const PreTokenizerStep& step : m_spec.pre_tokenizers) {
    next.clear();
    for (std::size_t p = 0; p < pieces.size(); ++p) {
      std::string_view piece = pieces[p];
      switch (step.kind) {
        case PreTokenizerStep::Kind::kSplit:
          splitPiece(piece, *step.pattern, step.behavior, step.invert, next);
          break;
        case PreTokenizerStep::Kind::kByteLevel:
          if (step.add_prefix_space && piece.front() != ' ') {
            storage.push_back(" " + std::string(piece));
            piece = storage.back();
          }
          if (step.pattern) {
            splitPiece(piece, *step.pattern, SplitBehavior::kIsolated, false, next);
          } else {
            next.push_back(piece);
          }
          break;
        case PreTokenizerStep::Kind::kMetaspace: {
          std::string replaced = replaceAll(piece, " ", step.replacement);
          const bool prepend = step.prepend == PreTokenizerStep::Prepend::kAlways ||
                               (step.prepend == PreTokenizerStep::Prepend::kFirst && first_section && p == 0);
          if (prepend && replaced.compare(0, step.replacement.size(), step.replacement) != 0)
            replaced.insert(0, step.replacement);
          storage.push_back(std::move(replaced));
          if (step.split) {
            splitPiece(storage.back(), *step.pattern, SplitBehavior::kMergedWithNext, false, next);
          } else {
            next.push_back(storage.back());
          }
          break;
        }
      }
    }
    pieces.swap(next);
  }
  m_spec.model->encodeWords(pieces, ids);
}

const std::string& PipelineTokenizer::tokenAt(int64_t id) const {
  if (id < 0 || id >= vocabSize() || !m_known[id])
    throw TokenizerError("token id " + std::to_string(id) + " is not in the vocabulary");
  return m_id_to_token[id];
}

bool PipelineTokenizer::isSpecial(int64_t id) const {
  return id >= 0 && id < vocabSize() && m_special[id];
}

std::string PipelineTokenizer::decodeIds(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    const std::string& token = tokenAt(id);
    if (skip_special_tokens && m_special[id]) continue;
    tokens.push_back(token);
  }
  if (m_spec.decoders.empty()) {
    std::string out;
    for (std::size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  for (const DecoderStep& step : m_spec.decoders) {
    switch (step.kind) {
      case DecoderStep::Kind::kByteLevel: {
        std::string bytes;
        for (const std::string& token : tokens)
          if (!byteLevelToBytes(token, bytes)) bytes += token;  // added tokens are stored as plain text
        tokens.assign(1, std::move(bytes));
        break;
      }
      case DecoderStep::Kind::kReplace:
        for (std::string& token : tokens) token = replaceAll(token, step.from, step.to);
        break;
      case DecoderStep::Kind::kByteFallback: {
        // Runs of <0xXX> tokens become their raw bytes (kept as they are, even when not valid UTF-8).
        std::vector<std::string> out;
        bool in_bytes = false;
        for (const std::string& token : tokens) {
          unsigned char byte = 0;
          if (parseByteToken(token, &byte)) {
            if (!in_bytes) out.emplace_back();
            out.back() += static_cast<char>(byte);
            in_bytes = true;
          } else {
            out.push_back(token);
            in_bytes = false;
          }
        }
        tokens.swap(out);
        break;
      }
      case DecoderStep::Kind::kFuse: {
        std::string fused;
        for (const std::string& token : tokens) fused += token;
        tokens.assign(1, std::move(fused));
        break;
      }
      case DecoderStep::Kind::kStrip:
        for (std::string& token : tokens) {
          std::size_t begin = 0, end = token.size();
          const std::size_t n = step.content.size();
          for (int k = 0;
               k < step.start && n && end - begin >= n && token.compare(begin, n, step.content) == 0; ++k)
            begin += n;
          for (int k = 0;
               k < step.stop && n && end - begin >= n && token.compare(end - n, n, step.content) == 0; ++k)
            end -= n;
          token = token.substr(begin, end - begin);
        }
        break;
      case DecoderStep::Kind::kMetaspace:
        for (std::size_t i = 0; i < tokens.size(); ++i) {
          tokens[i] = replaceAll(tokens[i], step.from, " ");
          if (i == 0 && step.prepend && !tokens[i].empty() && tokens[i][0] == ' ') tokens[i].erase(0, 1);
        }
        break;
    }
  }
  std::string out;
  for (const std::string& token : tokens) out += token;
  return out;
}

std::string PipelineTokenizer::displayString(int64_t id) const {
  const std::string& token = tokenAt(id);
  if (m_added[id]) return displayToken(token);
  if (byteLevel()) {
    std::string bytes;
    return displayToken(byteLevelToBytes(token, bytes) ? bytes : token);
  }
  unsigned char byte = 0;
  if (parseByteToken(token, &byte)) return displayToken(std::string(1, static_cast<char>(byte)));
  return displayToken(token, /*metaspace=*/true);
}

}  // namespace tokenizer_detail
}  // namespace attnscope
