// Tokenizers: small hand-made files for each rule and error, then the real GPT-2, Llama 3, Llama 2 (Mistral)
// and Qwen3 vocabularies compared id for id with independent JavaScript tokenizers on the strings of
// tests/tokenizer/strings.json. That data comes from tests/tokenizer/setup.sh (ctest fixture), found through
// ATTNSCOPE_TOKENIZER_DATA; without the variable those tests are skipped.

#include "attnscope/tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace attnscope {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Ids = std::vector<int64_t>;

/// A fresh temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/attnscope_tokenizer_XXXXXX";
    m_path = mkdtemp(name);
  }
  ~TempDir() { fs::remove_all(m_path); }
  const fs::path& path() const { return m_path; }
  std::string write(const std::string& file, const std::string& text) const {
    std::ofstream(m_path / file, std::ios::binary) << text;
    return (m_path / file).string();
  }

 private:
  fs::path m_path;
};

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string idsText(const Ids& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

/// Returns the message of the TokenizerError thrown by f, or "" when none is thrown.
template <typename F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "";
}

// A byte-level BPE over a tiny vocabulary: the 256 byte characters plus merges for "he", "hel", "hell",
// "hello", "Ġw" and "Ġwo"; two added tokens and a BOS template.
json tinyByteLevelJson() {
  json vocab = json::object();
  // GPT-2's byte characters: printable bytes map to themselves, the rest to U+0100 + n in order.
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
    vocab[ch] = b;
  }
  const std::vector<std::string> merged = {"he", "hel", "hell", "hello", "\u0120w", "\u0120wo"};
  for (std::size_t i = 0; i < merged.size(); ++i) vocab[merged[i]] = 256 + static_cast<int>(i);
  vocab["<|bos|>"] = 300;
  json j;
  j["model"] = {{"type", "BPE"},
                {"vocab", vocab},
                {"merges", {"h e", "he l", "hel l", "hell o", "\u0120 w", "\u0120w o"}},
                {"unk_token", nullptr}};
  j["added_tokens"] = {{{"id", 300}, {"content", "<|bos|>"}, {"special", true}},
                       {{"id", 301}, {"content", "<|user|>"}, {"special", false}, {"rstrip", true}}};
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}}}}}},
      {"special_tokens", {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {300}}, {"tokens", {"<|bos|>"}}}}}}};
  j["decoder"] = {{"type", "ByteLevel"}};
  return j;
}

// A sentencepiece-style BPE (Llama 2): "▁" for spaces, byte fallback for characters missing from the
// vocabulary.
json tinySentencepieceJson() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  int id = 259;
  for (const char* t : {"\u2581", "a", "b", "c", "\u2581a", "\u2581ab", "bc"}) vocab[t] = id++;
  json j;
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
  j["post_processor"] = nullptr;  // BOS comes from tokenizer_config.json in these tests
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}},
                    {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  return j;
}

TEST(ByteTokenizer, EncodesBytesAndOptionalBos) {
  const auto plain = makeByteTokenizer();
  EXPECT_EQ(plain->encode("hi\n"), (Ids{'h', 'i', '\n'}));
  EXPECT_EQ(plain->encode("\xC3\xA9"), (Ids{0xC3, 0xA9}));
  EXPECT_EQ(plain->vocabSize(), 256);
  EXPECT_EQ(plain->kind(), "bytes");
  const auto with_bos = makeByteTokenizer(256);
  EXPECT_EQ(with_bos->encode("a"), (Ids{256, 'a'}));
  EXPECT_EQ(with_bos->encode("a", false), (Ids{'a'}));
  EXPECT_EQ(with_bos->vocabSize(), 257);
  EXPECT_EQ(with_bos->decode({256, 'a'}), "<bos>a");
  EXPECT_EQ(with_bos->decode({256, 'a'}, true), "a");
  EXPECT_TRUE(with_bos->isSpecial(256));
  EXPECT_EQ(with_bos->displayString(256), "<bos>");
  EXPECT_EQ(with_bos->displayString(' '), "\u2423");
  EXPECT_EQ(with_bos->displayString('\n'), "\u21B5");
  EXPECT_EQ(with_bos->displayString('\t'), "\u21E5");
  EXPECT_EQ(with_bos->displayString(0x00), "\\x00");
  EXPECT_EQ(with_bos->displayString(0xC3), "\\xC3");
  EXPECT_NE(errorOf([&] { with_bos->decode({300}); }), "");
  EXPECT_NE(errorOf([] { makeByteTokenizer(65); }), "");
}

TEST(ByteTokenizer, LoadsFromConfigJson) {
  TempDir dir;
  dir.write("config.json", R"({"model_type": "llama", "attnscope_tokenizer": "bytes"})");
  EXPECT_EQ(loadTokenizer(dir.path().string())->encode("ab"), (Ids{'a', 'b'}));
  dir.write("config.json", R"({"attnscope_tokenizer": {"type": "bytes", "bos_token_id": 256}})");
  EXPECT_EQ(loadTokenizer(dir.path().string())->encode("ab"), (Ids{256, 'a', 'b'}));
  dir.write("config.json", R"({"attnscope_tokenizer": {"type": "bytes", "bos_token_id": 3}})");
  EXPECT_NE(errorOf([&] { loadTokenizer(dir.path().string()); }).find("bos_token_id"), std::string::npos);
  dir.write("config.json", R"({"attnscope_tokenizer": "chars"})");
  EXPECT_NE(errorOf([&] { loadTokenizer(dir.path().string()); }).find("chars"), std::string::npos);
}

TEST(Tokenizer, RejectsInvalidUtf8WithItsOffset) {
  const auto bytes = makeByteTokenizer();
  TempDir dir;
  const auto bpe = loadTokenizerJson(dir.write("tokenizer.json", tinyByteLevelJson().dump()));
  const std::vector<std::pair<std::string, int>> cases = {
      {"ab\xFF", 2},            // never valid
      {"a\xC3", 1},             // truncated at the end
      {"a\xC3(b", 1},           // bad continuation
      {"\xC0\xAF", 0},          // overlong '/'
      {"x\xE0\x80\xAF", 1},     // overlong 3-byte
      {"ok\xED\xA0\x80", 2},    // UTF-16 surrogate
      {"\xF4\x90\x80\x80", 0},  // above U+10FFFF
      {"\xE2\x82\xAC\x80", 3},  // stray continuation after a valid euro sign
      {"abc\xF0\x9F\x98", 3}};  // emoji cut short
  for (const auto& test_case : cases) {
    // A plain variable, not a structured binding: lambdas may capture bindings only from C++20 (clang
    // refuses).
    const std::string& text = test_case.first;
    const std::string expected = "input is not valid UTF-8 at byte " + std::to_string(test_case.second);
    EXPECT_EQ(errorOf([&] { bytes->encode(text); }), expected) << escaped(text);
    EXPECT_EQ(errorOf([&] { bpe->encode(text); }), expected) << escaped(text);
  }
  EXPECT_EQ(errorOf([&] { bpe->encode("\xE2\x82\xAC \xF0\x9F\x98\x80 \xC3\xA9"); }), "");
}

TEST(TokenizerJson, ByteLevelMergesAddedTokensAndTemplate) {
  TempDir dir;
  const auto tok = loadTokenizerJson(dir.write("tokenizer.json", tinyByteLevelJson().dump()));
  EXPECT_EQ(tok->kind(), "tokenizer.json bpe (byte-level)");
  EXPECT_EQ(tok->vocabSize(), 302);
  // "hello" merges fully; " wo" + "r" + "ld"; the template puts <|bos|> first.
  const Ids hello_world = {300, 259, 261, 'r', 'l', 'd'};
  EXPECT_EQ(tok->encode("hello world"), hello_world);
  EXPECT_EQ(tok->encode("hello world", false), Ids(hello_world.begin() + 1, hello_world.end()));
  EXPECT_EQ(tok->decode(hello_world), "<|bos|>hello world");
  EXPECT_EQ(tok->decode(hello_world, true), "hello world");
  // Added tokens in the text; rstrip swallows the spaces after <|user|>.
  EXPECT_EQ(tok->encode("<|user|>  hello<|bos|>", false), (Ids{301, 259, 300}));
  EXPECT_EQ(tok->displayString(260), "\u2423w");
  EXPECT_EQ(tok->displayString(300), "<|bos|>");
  EXPECT_TRUE(tok->isSpecial(300));
  EXPECT_FALSE(tok->isSpecial(301));
  EXPECT_FALSE(tok->isSpecial(259));
  // Byte 0x0A is GPT-2's character U+010A.
  EXPECT_EQ(tok->displayString(0x0A), "\u21B5");
  EXPECT_EQ(tok->displayString(0xE2), "\\xE2");
  EXPECT_NE(errorOf([&] { tok->decode({302}); }).find("302"), std::string::npos);
  // Exact inverse, even for text that splits a character across tokens.
  const std::string text = "\xF0\x9F\x98\x80 h\xC3\xA9llo\r\n\t  world  ";
  EXPECT_EQ(tok->decode(tok->encode(text, false)), text);
}

TEST(TokenizerJson, EncodesFromSeveralThreadsAtOnce) {
  TempDir dir;
  const auto tok = loadTokenizerJson(dir.write("tokenizer.json", tinyByteLevelJson().dump()));
  std::string text;
  for (int i = 0; i < 200; ++i) text += "hello world " + std::to_string(i) + (i % 7 ? " " : "\n");
  const Ids expected = tok->encode(text);
  std::vector<Ids> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results)
    threads.emplace_back([&] {
      for (int k = 0; k < 20; ++k) result = tok->encode(text);
    });
  for (auto& thread : threads) thread.join();
  for (const Ids& result : results) EXPECT_EQ(result, expected);
}

TEST(TokenizerJson, SentencepieceByteFallbackAndConfigBos) {
  TempDir dir;
  const std::string path = dir.write("tokenizer.json", tinySentencepieceJson().dump());
  const std::string config =
      dir.write("tokenizer_config.json", R"({"add_bos_token": true, "bos_token": "<s>"})");
  const auto tok = loadTokenizerJson(path, config);
  EXPECT_EQ(tok->kind(), "tokenizer.json bpe (sentencepiece)");
  // "ab c\n" -> "▁ab▁c\n": ▁ab, ▁, c, <0x0A>.
  EXPECT_EQ(tok->encode("ab c\n"), (Ids{1, 264, 259, 262, 3 + 0x0A}));
  EXPECT_EQ(tok->decode(tok->encode("ab c\n", false)), "ab c\n");
  EXPECT_EQ(tok->decode(tok->encode("ab c\n"), true), "ab c\n");
  EXPECT_EQ(tok->decode(tok->encode(" \xC3\xA9 bc", false)), " \xC3\xA9 bc");
  EXPECT_EQ(tok->displayString(264), "\u2423ab");
  EXPECT_EQ(tok->displayString(3 + 0x0A), "\u21B5");
  EXPECT_EQ(tok->displayString(3 + 0xC3), "\\xC3");
  EXPECT_EQ(tok->displayString(1), "<s>");
  EXPECT_EQ(loadTokenizerJson(path)->encode("a"), (Ids{263}));  // without the config: no BOS
}

TEST(TokenizerJson, UnsupportedFilesNameTheProblem) {
  TempDir dir;
  json wordpiece = {{"model", {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}}}};
  EXPECT_NE(errorOf([&] { loadTokenizerJson(dir.write("w.json", wordpiece.dump())); }).find("WordPiece"),
            std::string::npos);
  json unigram = {{"model", {{"type", "Unigram"}, {"vocab", json::array()}}}};
  EXPECT_NE(errorOf([&] { loadTokenizerJson(dir.write("u.json", unigram.dump())); }).find("Unigram"),
            std::string::npos);
  json bert = tinyByteLevelJson();
  bert["normalizer"] = {{"type", "BertNormalizer"}};
  EXPECT_NE(errorOf([&] { loadTokenizerJson(dir.write("b.json", bert.dump())); }).find("BertNormalizer"),
            std::string::npos);
  json bad_merge = tinyByteLevelJson();
  bad_merge["model"]["merges"].push_back("x zz");
  const std::string merge_error = errorOf([&] { loadTokenizerJson(dir.write("m.json", bad_merge.dump())); });
  EXPECT_NE(merge_error.find("x zz"), std::string::npos) << merge_error;
  EXPECT_NE(merge_error.find("m.json"), std::string::npos) << merge_error;
  json bad_regex = tinyByteLevelJson();
  bad_regex["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  const std::string regex_error = errorOf([&] { loadTokenizerJson(dir.write("r.json", bad_regex.dump())); });
  EXPECT_NE(regex_error.find("(unclosed"), std::string::npos) << regex_error;
  EXPECT_NE(regex_error.find("r.json"), std::string::npos) << regex_error;
  EXPECT_NE(errorOf([&] { loadTokenizerJson(dir.write("t.json", "{ not json")); }).find("t.json"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadTokenizerJson((dir.path() / "missing.json").string()); }).find("missing.json"),
            std::string::npos);
}

TEST(LoadTokenizer, NamesTheDirectoryWhenThereIsNoTokenizer) {
  TempDir dir;
  dir.write("config.json", R"({"model_type": "llama"})");
  const std::string message = errorOf([&] { loadTokenizer(dir.path().string()); });
  EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
  EXPECT_NE(errorOf([] { loadTokenizer("/nonexistent/model"); }).find("/nonexistent/model"),
            std::string::npos);
}

// ---- The real vocabularies against the JavaScript implementations ----

const json* referenceData() {
  static const json data = [] {
    const char* dir = std::getenv("ATTNSCOPE_TOKENIZER_DATA");
    if (!dir) return json();
    std::ifstream in(fs::path(dir) / "expected.json");
    if (!in) return json::object();  // the variable is set but setup did not run: fail, do not skip
    return json::parse(in);
  }();
  return data.is_null() ? nullptr : &data;
}

const json* referenceFor(const std::string& name) {
  for (const json& entry : referenceData()->at("tokenizers"))
    if (entry.at("name") == name) return &entry;
  return nullptr;
}

std::unique_ptr<Tokenizer> loadReference(const json& entry) {
  return loadTokenizer(
      (fs::path(std::getenv("ATTNSCOPE_TOKENIZER_DATA")) / entry.at("dir").get<std::string>()).string());
}

class RealTokenizer : public testing::TestWithParam<std::string> {};

TEST_P(RealTokenizer, MatchesJavaScriptIdsAndRoundTrips) {
  if (!referenceData()) GTEST_SKIP() << "ATTNSCOPE_TOKENIZER_DATA not set (run tests/tokenizer/setup.sh)";
  const json* entry = referenceFor(GetParam());
  ASSERT_NE(entry, nullptr) << "no reference data for " << GetParam();
  const auto tok = loadReference(*entry);
  EXPECT_EQ(tok->kind(), entry->at("kind").get<std::string>());
  const json& data = *referenceData();
  int n_compared = 0, n_mismatched = 0, n_changed_by_normalizer = 0;
  const auto compare = [&](const std::string& text, bool special, const json& expected_json) {
    const Ids expected = expected_json.get<Ids>();
    const Ids got = tok->encode(text, special);
    ++n_compared;
    if (got != expected && ++n_mismatched <= 10)
      ADD_FAILURE() << GetParam() << (special ? " (special)" : "") << " \"" << escaped(text)
                    << "\"\n  expected " << idsText(expected) << "\n  got      " << idsText(got);
  };
  const auto& strings = data.at("strings");
  for (std::size_t i = 0; i < strings.size(); ++i) {
    const std::string text = strings[i].get<std::string>();
    compare(text, false, entry->at("plain")[i]);
    compare(text, true, entry->at("special")[i]);
    // Equal to the text itself, except after a lossy Unicode normalizer (Qwen's NFC).
    const std::string round_trip = entry->at("round_trip")[i].get<std::string>();
    EXPECT_EQ(tok->decode(tok->encode(text, false)), round_trip)
        << GetParam() << " round trip \"" << escaped(text) << "\"";
    EXPECT_EQ(tok->decode(tok->encode(text), true), round_trip)
        << GetParam() << " round trip \"" << escaped(text) << "\"";
    n_changed_by_normalizer += round_trip != text;
  }
  if (!entry->at("added_plain").is_null()) {
    const auto& added = data.at("added_token_strings");
    for (std::size_t i = 0; i < added.size(); ++i) {
      compare(added[i].get<std::string>(), false, entry->at("added_plain")[i]);
      compare(added[i].get<std::string>(), true, entry->at("added_special")[i]);
    }
  }
  EXPECT_EQ(n_mismatched, 0) << GetParam() << ": " << n_mismatched << " of " << n_compared
                             << " encodings differ";
  std::printf("[ %-10s ] %d encodings compared with %s, %d differ; %zu round trips (%d to normalized text)\n",
              GetParam().c_str(), n_compared, entry->at("reference").get<std::string>().c_str(), n_mismatched,
              strings.size(), n_changed_by_normalizer);
  // Every id has a readable label.
  for (int64_t id = 0; id < tok->vocabSize(); ++id) {
    bool known = true;
    std::string label;
    try {
      label = tok->displayString(id);
    } catch (const TokenizerError&) {
      known = false;  // holes in the id range (none in these files) may throw, never return ""
    }
    if (known && label.empty()) ADD_FAILURE() << GetParam() << ": empty display string for id " << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, RealTokenizer,
                         testing::Values("gpt2", "gpt2-json", "llama3", "llama3-bos", "llama2", "qwen3",
                                         "gemma", "gemma2", "gemma3", "cl100k"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

TEST(RealTokenizer, KnownIdsAndLabels) {
  if (!referenceData()) GTEST_SKIP() << "ATTNSCOPE_TOKENIZER_DATA not set (run tests/tokenizer/setup.sh)";
  const auto gpt2 = loadReference(*referenceFor("gpt2"));
  EXPECT_EQ(gpt2->encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(gpt2->vocabSize(), 50257);
  EXPECT_EQ(gpt2->displayString(995), "\u2423world");
  EXPECT_EQ(gpt2->displayString(198), "\u21B5");
  EXPECT_EQ(gpt2->encode("a<|endoftext|>b"), (Ids{64, 50256, 65}));
  EXPECT_TRUE(gpt2->isSpecial(50256));

  const auto llama3 = loadReference(*referenceFor("llama3-bos"));
  EXPECT_EQ(llama3->encode("Hello world"), (Ids{128000, 9906, 1917}));
  EXPECT_EQ(llama3->displayString(128000), "<|begin_of_text|>");
  EXPECT_EQ(loadReference(*referenceFor("llama3"))->encode("Hello world"), (Ids{9906, 1917}));

  const auto llama2 = loadReference(*referenceFor("llama2"));
  const Ids ids = llama2->encode("Hello world\n");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(llama2->displayString(ids[1]), "\u2423Hello");
  EXPECT_EQ(llama2->displayString(ids.back()), "\u21B5");  // <0x0A>
}

}  // namespace
}  // namespace attnscope
