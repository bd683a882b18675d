#include "attnscope/untrusted_text.h"

namespace attnscope {
namespace {

/// True for characters that would break the line, drive or reorder the terminal, or make an escape ambiguous:
/// C0 and C1 controls (a terminal takes U+009B as the start of an escape sequence), DEL, the backslash (so
/// that a literal "\x1B" in the file cannot pass for an escaped ESC), the Unicode line and paragraph
/// separators, and the bidirectional embeddings, overrides and isolates.
bool isUnprintable(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == '\\' || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void appendHexByte(unsigned char byte, std::string& out) {
  static const char kHex[] = "0123456789ABCDEF";
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xF];
}

}  // namespace

std::size_t utf8CharLength(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const std::size_t n = text.size();
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  const auto cont = [&](std::size_t k) { return k < n && (byte(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (i + 1 >= n) return 0;
    const unsigned char c1 = byte(i + 1);
    // E0 needs A0..BF (no overlongs); ED needs 80..9F (no UTF-16 surrogates).
    const bool ok1 = c == 0xE0   ? (c1 >= 0xA0 && c1 <= 0xBF)
                     : c == 0xED ? (c1 >= 0x80 && c1 <= 0x9F)
                                 : cont(i + 1);
    return ok1 && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (i + 1 >= n) return 0;
    const unsigned char c1 = byte(i + 1);
    // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing above U+10FFFF).
    const bool ok1 = c == 0xF0   ? (c1 >= 0x90 && c1 <= 0xBF)
                     : c == 0xF4 ? (c1 >= 0x80 && c1 <= 0x8F)
                                 : cont(i + 1);
    return ok1 && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

uint32_t utf8CodePoint(std::string_view text, std::size_t i, std::size_t len) {
  const auto b = [&](std::size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(text[i + k]));
  };
  if (len == 1) return b(0);
  if (len == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (len == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

std::string escapeForMessage(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < bytes.size() && i < max_bytes) {
    const std::size_t len = utf8CharLength(bytes, i);
    if (len == 0 || isUnprintable(utf8CodePoint(bytes, i, len))) {
      // Escape every byte of the character, so that the message shows exactly what the file holds.
      for (std::size_t k = 0; k < (len ? len : 1); ++k)
        appendHexByte(static_cast<unsigned char>(bytes[i + k]), out);
    } else {
      out.append(bytes.substr(i, len));
    }
    i += len ? len : 1;
  }
  if (i < bytes.size()) out += "...";
  return out;
}

std::string displayToken(std::string_view bytes, bool metaspace) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t len = utf8CharLength(bytes, i);
    if (len == 0) {
      appendHexByte(static_cast<unsigned char>(bytes[i]), out);
      ++i;
      continue;
    }
    const uint32_t cp = utf8CodePoint(bytes, i, len);
    if (cp == ' ' || (metaspace && cp == 0x2581)) {  // sentencepiece's "▁" stands for a space
      out += "\u2423";
    } else if (cp == '\n') {
      out += "\u21B5";
    } else if (cp == '\t') {
      out += "\u21E5";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      appendHexByte(static_cast<unsigned char>(cp), out);
    } else if (cp >= 0x80 && cp < 0xA0) {  // C1 controls print as nothing
      for (std::size_t k = 0; k < len; ++k) appendHexByte(static_cast<unsigned char>(bytes[i + k]), out);
    } else {
      out.append(bytes.data() + i, len);
    }
    i += len;
  }
  return out.empty() ? std::string("\u2205") : out;
}

std::string quoteForMessage(std::string_view bytes, std::size_t max_bytes) {
  return "'" + escapeForMessage(bytes, max_bytes) + "'";
}

}  // namespace attnscope
