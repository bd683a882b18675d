#pragma once
// Bytes read from untrusted files (checkpoints, config.json, tokenizers, capture files) made safe to print,
// and the one UTF-8 decoder that decides what is a character. No dependencies, so every library of the core
// and every front end can use it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnscope {

/// Returns the length of the valid UTF-8 character starting at text[i] (1-4), or 0 when none starts there
/// (bad lead byte, overlong form, surrogate, above U+10FFFF, truncated).
std::size_t utf8CharLength(std::string_view text, std::size_t i);

/// Returns the code point of the valid UTF-8 character of `len` bytes (from utf8CharLength) at text[i].
uint32_t utf8CodePoint(std::string_view text, std::size_t i, std::size_t len);

/// Returns bytes read from a file, safe to print in a one-line message: C0 and C1 controls, DEL, backslash,
/// line and paragraph separators, bidirectional overrides and isolates, and bytes that are not valid UTF-8
/// become \xNN (every byte of the character, upper-case hex); text beyond max_bytes is cut and marked "..."
/// (std::string_view::npos: never cut).
std::string escapeForMessage(std::string_view bytes, std::size_t max_bytes = 200);

/// Returns a token's bytes drawn for a label, the one drawing of tokens in every front end: ' ' (and
/// sentencepiece's "▁" when metaspace) as "␣", '\n' as "↵", '\t' as "⇥", '\r' as "\r", other controls and
/// invalid UTF-8 as \xNN; never empty ("∅"). Drawing a drawn token again changes nothing.
std::string displayToken(std::string_view bytes, bool metaspace = false);

/// Returns escapeForMessage(bytes, max_bytes) in single quotes, e.g. 'a\x0Ab'.
std::string quoteForMessage(std::string_view bytes, std::size_t max_bytes = 200);

}  // namespace attnscope
