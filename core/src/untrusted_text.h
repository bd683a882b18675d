#pragma once
// Bytes read from untrusted files (checkpoints, config.json, tokenizers) made safe to print. No dependencies,
// so every library of the core can use it.

#include <cstddef>
#include <string>
#include <string_view>

namespace attnscope {

/// Returns the length of the valid UTF-8 character starting at text[i] (1-4), or 0 when none starts there
/// (bad lead byte, overlong form, surrogate, above U+10FFFF, truncated).
std::size_t utf8CharLength(std::string_view text, std::size_t i);

/// Returns bytes read from a file, safe to print in a one-line message: control characters, line separators,
/// bidirectional overrides and bytes that are not valid UTF-8 become \xNN; text beyond max_bytes is cut and
/// marked "...".
std::string escapeForMessage(std::string_view bytes, std::size_t max_bytes = 200);

}  // namespace attnscope
