#pragma once
// Internals shared by the tokenizer_*.cpp files: UTF-8 helpers, GPT-2's byte-to-unicode table, a PCRE2 regex,
// the BPE model and the pipeline (normalizer -> pre-tokenizer -> BPE -> post-processor; decoder) that both
// the GPT-2 files and tokenizer.json are loaded into.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "attnscope/tokenizer.h"
#include "attnscope/untrusted_text.h"

namespace attnscope {
namespace tokenizer_detail {

// ---- UTF-8 and bytes (tokenizer_unicode.cpp) ----

constexpr std::size_t kValidUtf8 = static_cast<std::size_t>(-1);
/// Returns the offset where the first invalid sequence starts (bad lead byte, overlong, surrogate, >
/// U+10FFFF, truncated), or kValidUtf8.
std::size_t findInvalidUtf8(std::string_view text);
using attnscope::utf8CharLength;  // attnscope/untrusted_text.h
using attnscope::utf8CodePoint;
/// Appends the UTF-8 encoding of a code point.
void appendUtf8(uint32_t code_point, std::string& out);
/// Returns GPT-2's printable character (UTF-8) that stands for each byte.
const std::array<std::string, 256>& byteLevelChars();
/// Maps byte-level characters back to bytes; returns false (out untouched) if a character is not in the
/// table.
bool byteLevelToBytes(std::string_view token, std::string& out);

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };
/// Returns the text in the given normalization form (ICU).
std::string normalizeUnicode(std::string_view text, UnicodeForm form);
/// Returns the text lowercased with Unicode rules (ICU, root locale).
std::string lowercaseUnicode(std::string_view text);

/// A compiled PCRE2 pattern (UTF + UCP, JIT when available) for splitting valid UTF-8 text.
class Regex {
 public:
  /// Compiles a pattern; literal treats it as plain text. Throws TokenizerError naming the pattern.
  Regex(const std::string& pattern, bool literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  /// Appends the [begin, end) byte ranges of all non-overlapping non-empty matches, left to right.
  void findAll(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& matches) const;

 private:
  std::string m_pattern;
  void* m_code = nullptr;  // pcre2_code_8*, kept opaque so that pcre2.h stays in one file
  bool m_jit = false;
};

// ---- Token ids ----

/// Token ids of any tokenizer lie in [0, 2^24): 64 times the largest released vocabulary, and far from int32
/// overflow.
constexpr int64_t kMaxTokenIds = int64_t{1} << 24;
/// Returns the bound on the ids of a file that defines n_tokens tokens (vocabulary entries plus added
/// tokens): below kMaxTokenIds and below max(256, 2 n_tokens), so a few bytes cannot make the id table huge.
inline int64_t tokenIdLimit(std::size_t n_tokens) {
  const int64_t proportional =
      n_tokens > static_cast<std::size_t>(kMaxTokenIds) ? kMaxTokenIds : 2 * static_cast<int64_t>(n_tokens);
  return std::min(kMaxTokenIds, std::max<int64_t>(256, proportional));
}

// ---- BPE (tokenizer_bpe.cpp) ----

struct BpeOptions {
  bool byte_level = false;     // words are raw bytes, each byte starts as its byte-level character token
  bool byte_fallback = false;  // characters missing from the vocabulary become <0xXX> tokens
  bool ignore_merges = false;  // a word found whole in the vocabulary is one token (Llama 3)
  bool fuse_unk = false;       // consecutive unknown characters give one unk token
  int32_t unk_id = -1;
};

/// Byte-pair encoding with merges ranked by their order; merge lookups by pairs of symbol ids.
class BpeModel {
 public:
  /// Builds from token -> id and the ranked merges (pairs of token strings); throws TokenizerError when a
  /// merge names a token that is not in the vocabulary.
  BpeModel(std::unordered_map<std::string, int32_t> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  /// Appends the ids of each word (pre-token); locks the word cache once for the whole call.
  void encodeWords(const std::vector<std::string_view>& words, std::vector<int64_t>& ids) const;
  /// Returns the id of a token string, or -1.
  int32_t idOf(const std::string& token) const;
  const std::unordered_map<std::string, int32_t>& vocab() const { return m_vocab; }
  const BpeOptions& options() const { return m_options; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  /// Open-addressing table from a packed pair of ids to its merge (faster than std::unordered_map here).
  class MergeTable {
   public:
    void reserve(std::size_t n);
    void insert(uint64_t key, Merge merge);
    const Merge* find(uint64_t key) const;

   private:
    std::vector<uint64_t> m_keys;
    std::vector<Merge> m_values;
    uint64_t m_mask = 0;
  };

  void encodeWord(std::string_view word, std::vector<int32_t>& symbols, std::string& key,
                  std::vector<int64_t>& ids) const;
  void encodeUncached(std::string_view word, std::vector<int32_t>& out) const;
  void initialSymbols(std::string_view word, std::vector<int32_t>& symbols) const;
  void mergeSmall(std::vector<int32_t>& symbols) const;
  void mergeLarge(std::vector<int32_t>& symbols) const;
  const Merge* findMerge(int32_t left, int32_t right) const {
    return m_merges.find((static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                         static_cast<uint32_t>(right));
  }

  std::unordered_map<std::string, int32_t> m_vocab;
  BpeOptions m_options;
  MergeTable m_merges;
  std::array<int32_t, 256> m_byte_ids{};      // byte-level: byte -> id of its character token
  std::array<int32_t, 256> m_fallback_ids{};  // byte fallback: byte -> id of <0xXX>
  std::array<int32_t, 128> m_ascii_ids{};     // character-level: ASCII character -> id
  // No token holds "▁" after another character, so a word can be cut before each run of "▁" without changing
  // its merges: sentencepiece-style files have no pre-tokenizer, and this keeps BPE and its cache on short
  // words.
  bool m_split_at_metaspace = false;

  // Words seen before, with their ids stored in one arena; cleared when it grows past a bound.
  mutable std::mutex m_cache_mutex;
  mutable std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> m_cache;
  mutable std::vector<int32_t> m_cache_ids;
};

// ---- The pipeline (tokenizer_pipeline.cpp) ----

struct NormalizerStep {
  enum class Kind { kPrepend, kReplace, kUnicode, kLowercase, kStrip };
  Kind kind = Kind::kPrepend;
  std::string text;                // Prepend: prefix; Replace: replacement
  std::shared_ptr<Regex> pattern;  // Replace
  UnicodeForm form = UnicodeForm::kNfc;
  bool left = false, right = false;  // Strip
};

enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  Kind kind = Kind::kSplit;
  std::shared_ptr<Regex> pattern;  // Split; ByteLevel with use_regex
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel
  std::string replacement;        // Metaspace
  enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;
  bool split = true;  // Metaspace
};

struct DecoderStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace };
  Kind kind = Kind::kByteLevel;
  std::string from, to;  // Replace (literal); Metaspace: from = replacement
  std::string content;   // Strip: the character stripped
  int start = 0, stop = 0;
  bool prepend = true;  // Metaspace: drop the space it added in front of the first word
};

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false, lstrip = false, rstrip = false, single_word = false;
};

/// Everything a PipelineTokenizer needs; filled by the GPT-2 and tokenizer.json loaders.
struct PipelineSpec {
  std::string kind;
  std::unique_ptr<BpeModel> model;
  std::vector<NormalizerStep> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizers;
  std::vector<DecoderStep> decoders;  // empty: tokens joined with spaces (HF's behaviour without a decoder)
  std::vector<AddedToken> added_tokens;
  std::vector<int64_t> prefix_ids, suffix_ids;  // what add_special_tokens puts around the text
};

/// A BPE tokenizer described by a PipelineSpec.
class PipelineTokenizer : public Tokenizer {
 public:
  explicit PipelineTokenizer(PipelineSpec spec);

  std::string displayString(int64_t id) const override;
  bool isSpecial(int64_t id) const override;
  int64_t vocabSize() const override { return static_cast<int64_t>(m_id_to_token.size()); }
  std::string kind() const override { return m_spec.kind; }

 protected:
  void encodeValid(const std::string& utf8_text, bool add_special_tokens,
                   std::vector<int64_t>& ids) const override;
  std::string decodeIds(const std::vector<int64_t>& ids, bool skip_special_tokens) const override;

 private:
  void encodeSection(std::string_view text, bool first_section, std::vector<int64_t>& ids) const;
  std::string normalize(std::string_view text) const;
  const std::string& tokenAt(int64_t id) const;
  bool byteLevel() const { return m_spec.model->options().byte_level; }

  PipelineSpec m_spec;
  std::vector<std::string> m_id_to_token;
  std::vector<char> m_known;    // per id: has a token string
  std::vector<char> m_special;  // per id: special added token
  std::vector<char> m_added;    // per id: added token (its text is stored raw, never byte-level mapped)
  // Added tokens by first byte, longest first, for leftmost-longest matching.
  std::array<std::vector<int>, 256> m_added_by_byte;
};

// ---- Loaders (tokenizer_json.cpp) ----

}  // namespace tokenizer_detail
}  // namespace attnscope
