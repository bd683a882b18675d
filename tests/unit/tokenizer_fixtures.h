#pragma once
// Tiny tokenizer.json fixtures shared by the tokenizer's unit tests and the fuzz seed writer: a
// byte-level BPE (GPT-2's byte characters, merges up to "hello" and "Ġwo", BOS template) and a
// sentencepiece-style BPE with byte fallback (Llama 2).

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace attnscope::test {

/// GPT-2's byte characters: printable bytes map to themselves, the rest to U+0100 + n in order.
inline std::vector<std::string> byteCharacters() {
  std::vector<std::string> chars(256);
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const int cp = printable ? b : next++;
    std::string ch;
    if (cp < 0x80) {
      ch = std::string(1, static_cast<char>(cp));
    } else {
      ch += static_cast<char>(0xC0 | (cp >> 6));
      ch += static_cast<char>(0x80 | (cp & 0x3F));
    }
    chars[static_cast<std::size_t>(b)] = ch;
  }
  return chars;
}

inline const std::vector<std::string> kMerges = {"h e", "he l", "hel l", "hell o", "\u0120 w", "\u0120w o"};
inline const std::vector<std::string> kMerged = {"he", "hel", "hell", "hello", "\u0120w", "\u0120wo"};

inline nlohmann::json byteLevelVocab() {
  nlohmann::json vocab = nlohmann::json::object();
  const auto chars = byteCharacters();
  for (int b = 0; b < 256; ++b) vocab[chars[static_cast<std::size_t>(b)]] = b;
  for (std::size_t i = 0; i < kMerged.size(); ++i) vocab[kMerged[i]] = 256 + static_cast<int>(i);
  return vocab;
}

/// Byte-level BPE tokenizer.json with a BOS template; with_rstrip adds a token that eats the spaces
/// after it.
inline nlohmann::json byteLevelJson(bool with_rstrip) {
  nlohmann::json vocab = byteLevelVocab();
  vocab["<|bos|>"] = 300;
  nlohmann::json j;
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", kMerges}, {"unk_token", nullptr}};
  j["added_tokens"] = {{{"id", 300}, {"content", "<|bos|>"}, {"special", true}}};
  if (with_rstrip)
    j["added_tokens"].push_back({{"id", 301}, {"content", "<|user|>"}, {"special", false}, {"rstrip", true}});
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}}}}}},
      {"special_tokens", {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {300}}, {"tokens", {"<|bos|>"}}}}}}};
  j["decoder"] = {{"type", "ByteLevel"}};
  return j;
}

/// Sentencepiece-style BPE (Llama 2): "▁" for spaces, byte fallback for characters missing from the
/// vocabulary.
inline nlohmann::json byteFallbackJson() {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  int id = 259;
  for (const char* t : {"\u2581", "a", "b", "c", "\u2581a", "\u2581ab", "bc"}) vocab[t] = id++;
  nlohmann::json j;
  j["model"] = {{"type", "BPE"},        {"vocab", vocab},        {"merges", {"\u2581 a", "\u2581a b", "b c"}},
                {"unk_token", "<unk>"}, {"byte_fallback", true}, {"fuse_unk", true}};
  j["added_tokens"] = {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                       {{"id", 1}, {"content", "<s>"}, {"special", true}},
                       {{"id", 2}, {"content", "</s>"}, {"special", true}}};
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "Prepend"}, {"prepend", "\u2581"}},
                       {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}};
  j["pre_tokenizer"] = nullptr;
  j["post_processor"] = nullptr;
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}},
                    {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  return j;
}

}  // namespace attnscope::test
