// UTF-8 validation, GPT-2's byte-to-unicode table, readable token labels, ICU normalization and the PCRE2
// regex used for pre-tokenization.

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/ucasemap.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer_internal.h"

namespace attnscope {
namespace tokenizer_detail {

std::size_t findInvalidUtf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = utf8CharLength(text, i);
    if (len == 0) return i;
    i += len;
  }
  return kValidUtf8;
}

void appendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

// GPT-2 maps the 188 printable bytes to themselves and the rest, in order, to U+0100 onwards, so that every
// byte has a visible, non-space character (encoder.py's bytes_to_unicode).
struct ByteLevelTable {
  std::array<std::string, 256> chars;
  std::array<int16_t, 324> byte_of;  // code point -> byte, or -1
  ByteLevelTable() {
    byte_of.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      appendUtf8(cp, chars[b]);
      byte_of[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteLevelTable& byteTable() {
  static const ByteLevelTable table;
  return table;
}

}  // namespace

const std::array<std::string, 256>& byteLevelChars() {
  return byteTable().chars;
}

bool byteLevelToBytes(std::string_view token, std::string& out) {
  const ByteLevelTable& table = byteTable();
  std::string bytes;
  bytes.reserve(token.size());
  for (std::size_t i = 0; i < token.size();) {
    const std::size_t len = utf8CharLength(token, i);
    if (len == 0) return false;
    const uint32_t cp = utf8CodePoint(token, i, len);
    if (cp >= table.byte_of.size() || table.byte_of[cp] < 0) return false;
    bytes += static_cast<char>(table.byte_of[cp]);
    i += len;
  }
  out += bytes;
  return true;
}

namespace {

bool isAscii(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

std::u16string toUtf16(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = 0;
  u_strFromUTF8(nullptr, 0, &length, text.data(), static_cast<int32_t>(text.size()), &status);
  std::u16string out(static_cast<std::size_t>(length), u'\0');
  status = U_ZERO_ERROR;
  u_strFromUTF8(out.data(), length, nullptr, text.data(), static_cast<int32_t>(text.size()), &status);
  if (U_FAILURE(status)) throw TokenizerError(std::string("ICU cannot read UTF-8: ") + u_errorName(status));
  return out;
}

std::string toUtf8(const std::u16string& text) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = 0;
  u_strToUTF8(nullptr, 0, &length, text.data(), static_cast<int32_t>(text.size()), &status);
  std::string out(static_cast<std::size_t>(length), '\0');
  status = U_ZERO_ERROR;
  u_strToUTF8(out.data(), length, nullptr, text.data(), static_cast<int32_t>(text.size()), &status);
  if (U_FAILURE(status)) throw TokenizerError(std::string("ICU cannot write UTF-8: ") + u_errorName(status));
  return out;
}

}  // namespace

std::string normalizeUnicode(std::string_view text, UnicodeForm form) {
  if (isAscii(text)) return std::string(text);  // ASCII is invariant under all four forms
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* normalizer = nullptr;
  switch (form) {
    case UnicodeForm::kNfc:
      normalizer = unorm2_getNFCInstance(&status);
      break;
    case UnicodeForm::kNfd:
      normalizer = unorm2_getNFDInstance(&status);
      break;
    case UnicodeForm::kNfkc:
      normalizer = unorm2_getNFKCInstance(&status);
      break;
    case UnicodeForm::kNfkd:
      normalizer = unorm2_getNFKDInstance(&status);
      break;
  }
  if (U_FAILURE(status))
    throw TokenizerError(std::string("ICU normalizer unavailable: ") + u_errorName(status));
  const std::u16string source = toUtf16(text);
  std::u16string result(source.size() * 3 + 16, u'\0');
  int32_t length = unorm2_normalize(normalizer, source.data(), static_cast<int32_t>(source.size()),
                                    result.data(), static_cast<int32_t>(result.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    result.assign(static_cast<std::size_t>(length), u'\0');
    status = U_ZERO_ERROR;
    length = unorm2_normalize(normalizer, source.data(), static_cast<int32_t>(source.size()), result.data(),
                              length, &status);
  }
  if (U_FAILURE(status))
    throw TokenizerError(std::string("ICU normalization failed: ") + u_errorName(status));
  result.resize(static_cast<std::size_t>(length));
  return toUtf8(result);
}

std::string lowercaseUnicode(std::string_view text) {
  if (isAscii(text)) {
    std::string out(text);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }
  UErrorCode status = U_ZERO_ERROR;
  UCaseMap* map = ucasemap_open("", 0, &status);
  if (U_FAILURE(status))
    throw TokenizerError(std::string("ICU case map unavailable: ") + u_errorName(status));
  std::string out(text.size() * 3 + 16, '\0');
  int32_t length = ucasemap_utf8ToLower(map, out.data(), static_cast<int32_t>(out.size()), text.data(),
                                        static_cast<int32_t>(text.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    out.assign(static_cast<std::size_t>(length), '\0');
    status = U_ZERO_ERROR;
    length = ucasemap_utf8ToLower(map, out.data(), length, text.data(), static_cast<int32_t>(text.size()),
                                  &status);
  }
  ucasemap_close(map);
  if (U_FAILURE(status)) throw TokenizerError(std::string("ICU lowercase failed: ") + u_errorName(status));
  out.resize(static_cast<std::size_t>(length));
  return out;
}

// ---- Regex ----

namespace {

pcre2_code* code(void* p) {
  return static_cast<pcre2_code*>(p);
}

// One JIT stack and match context per thread: PCRE2 forbids sharing a JIT stack between threads, and its 32
// KiB default can be too small for long runs of one character class.
struct ThreadMatchState {
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  ThreadMatchState() {
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~ThreadMatchState() {
    if (stack) pcre2_jit_stack_free(stack);
    if (context) pcre2_match_context_free(context);
  }
};

ThreadMatchState& threadMatchState() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

Regex::Regex(const std::string& pattern, bool literal) : m_pattern(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2_LITERAL refuses PCRE2_UCP, which only matters for character classes anyway.
  const uint32_t options = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
  m_code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error,
                         &offset, nullptr);
  if (!m_code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw TokenizerError("cannot compile regex '" + escapeForMessage(pattern) + "' at offset " +
                         std::to_string(offset) + ": " + reinterpret_cast<const char*>(message));
  }
  // JIT is ~10x faster for these patterns; without it (e.g. a platform PCRE2 lacks it) the interpreter works.
  m_jit = pcre2_jit_compile(code(m_code), PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  pcre2_code_free(code(m_code));
}

void Regex::findAll(std::string_view text, std::vector<std::pair<std::size_t, std::size_t>>& matches) const {
  ThreadMatchState& state = threadMatchState();
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code(m_code), nullptr);
  if (!data) throw TokenizerError("out of memory for regex match data");
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  // One match may step back over a whole run (Llama 3's \s*[\r\n]+ on a run of spaces backtracks once per
  // space), so PCRE2's fixed default of 10 million steps fails on long runs: scale the limit with the text,
  // which keeps the bound's purpose (stopping runaway backtracking) without refusing linear work.
  const uint64_t match_limit = std::max<uint64_t>(10'000'000, 16 * static_cast<uint64_t>(text.size()));
  if (state.context) {
    pcre2_set_match_limit(state.context, static_cast<uint32_t>(std::min<uint64_t>(match_limit, UINT32_MAX)));
    pcre2_set_depth_limit(state.context, static_cast<uint32_t>(std::min<uint64_t>(match_limit, UINT32_MAX)));
  }
  std::size_t start = 0;
  bool use_jit = m_jit;
  while (start <= text.size()) {
    // The text was validated once up front; rechecking it at every match would be quadratic.
    int rc = use_jit ? pcre2_jit_match(code(m_code), subject, text.size(), start, 0, data, state.context)
                     : pcre2_match(code(m_code), subject, text.size(), start, PCRE2_NO_UTF_CHECK, data,
                                   state.context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && use_jit) {
      use_jit = false;
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(data);
      throw TokenizerError("regex '" + escapeForMessage(m_pattern) + "' failed with PCRE2 error " +
                           std::to_string(rc));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    const std::size_t begin = ovector[0], end = ovector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      start = end;
    } else {
      // Empty match: step over one character so the search moves on.
      if (begin >= text.size()) break;
      const std::size_t len = utf8CharLength(text, begin);
      start = begin + (len ? len : 1);
    }
  }
  pcre2_match_data_free(data);
}

}  // namespace tokenizer_detail
}  // namespace attnscope
