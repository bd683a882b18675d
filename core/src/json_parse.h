#pragma once
// JSON from untrusted files (safetensors headers and indexes, config.json, tokenizers) parsed with bounded
// nesting. No torch, no Qt; every JSON parse of the core goes through it.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace attnscope {

/// Deepest nesting of arrays and objects accepted in any JSON file. Real config, tokenizer and safetensors
/// files stay below 10; the bound keeps every recursive walk of a parsed value (ours, and the JSON library's
/// own copy and dump) far from the stack limit.
constexpr int kMaxJsonDepth = 64;

/// Thrown by parseJson; what() is one line starting with the subject it was given.
class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses JSON text, refusing NUL bytes, invalid syntax and nesting deeper than kMaxJsonDepth while parsing,
/// before any value is walked. `subject` starts every message ("<subject> is not valid JSON (...)"); `also`,
/// when given, sees every parse event as nlohmann's parser callback does (e.g. to reject duplicate keys).
nlohmann::json parseJson(std::string_view text, const std::string& subject,
                         const nlohmann::json::parser_callback_t& also = nullptr);

/// Like parseJson, but throws Error (e.g. ConfigError) with the same one-line message.
template <class Error>
nlohmann::json parseJsonOr(std::string_view text, const std::string& subject) {
  try {
    return parseJson(text, subject);
  } catch (const JsonError& e) {
    throw Error(e.what());
  }
}

}  // namespace attnscope
