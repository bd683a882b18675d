// Malformed files never crash (issue 11): each root cause has a tiny file here and the exact one-line error
// it must give. Nested JSON, token ids, sizes trusted before checked, symlinks, unprintable bytes, long regex
// runs.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "attnscope/config.h"
#include "attnscope/model.h"
#include "attnscope/safetensors.h"
#include "attnscope/tokenizer.h"
#include "attnscope/untrusted_text.h"
#include "json_parse.h"
#include "tokenizer_internal.h"

namespace attnscope {
namespace {

namespace fs = std::filesystem;

class MalformedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("attnscope_malformed_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path path = dir / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
    return path.string();
  }

  /// Writes a safetensors file whose header is `header` (no tensor data).
  std::string writeSafetensorsHeader(const std::string& name, const std::string& header) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
    return write(name, bytes + header);
  }

  /// A one-tensor checkpoint of 16 bytes.
  void writeTinyCheckpoint(const fs::path& path) {
    const float values[4] = {1, 2, 3, 4};
    writeSafetensors(path.string(), {{"w", DType::F32, {4}, values, sizeof values}});
  }

  fs::path dir;
};

/// Runs `action` and returns its exception's message, checking that it is one line.
std::string errorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "error must be one line: " << message;
    return message;
  }
  ADD_FAILURE() << "no exception";
  return "";
}

std::string nested(const std::string& open, const std::string& inner, const std::string& close, int depth) {
  std::string out;
  out.reserve((open.size() + close.size()) * depth + inner.size());
  for (int i = 0; i < depth; ++i) out += open;
  out += inner;
  for (int i = 0; i < depth; ++i) out += close;
  return out;
}

// ---- Unbounded recursion on nested JSON ----

TEST(JsonDepth, LimitIsExact) {
  EXPECT_NO_THROW(parseJson(nested("[", "", "]", kMaxJsonDepth), "x"));
  EXPECT_EQ(errorOf([] { parseJson(nested("[", "", "]", kMaxJsonDepth + 1), "x"); }),
            "x nests arrays and objects more than 64 deep");
  EXPECT_EQ(errorOf([] { parseJson(nested("{\"a\":", "1", "}", kMaxJsonDepth + 1), "x"); }),
            "x nests arrays and objects more than 64 deep");
}

TEST_F(MalformedTest, SafetensorsShapeNestedDeep) {
  const std::string header =
      R"({"t": {"dtype": "F32", "shape": )" + nested("[", "", "]", 200000) + R"(, "data_offsets": [0, 0]}})";
  const std::string path = writeSafetensorsHeader("model.safetensors", header);
  EXPECT_EQ(errorOf([&] { SafetensorsFile file(path); }),
            path + ": header nests arrays and objects more than 64 deep");
}

TEST_F(MalformedTest, SafetensorsIndexNestedDeep) {
  const std::string path =
      write("model.safetensors.index.json", R"({"weight_map": )" + nested("[", "", "]", 100000) + "}");
  EXPECT_EQ(errorOf([&] { Checkpoint::open(dir.string()); }),
            path + " nests arrays and objects more than 64 deep");
}

TEST_F(MalformedTest, TokenizerNormalizerNestedDeep) {
  const std::string normalizer =
      nested(R"({"type": "Sequence", "normalizers": [)", R"({"type": "Lowercase"})", "]}", 100000);
  const std::string path =
      write("tokenizer.json",
            R"({"normalizer": )" + normalizer + R"(, "model": {"type": "BPE", "vocab": {}, "merges": []}})");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            path + " nests arrays and objects more than 64 deep");
}

TEST_F(MalformedTest, ConfigAndVocabNestedDeep) {
  EXPECT_EQ(
      errorOf([] { parseConfig(R"({"model_type": "gpt2", "x": )" + nested("[", "", "]", 100000) + "}"); }),
      "config.json nests arrays and objects more than 64 deep");
  const std::string vocab = write("vocab.json", nested("{\"a\":", "0", "}", 100000));
  write("merges.txt", "#version: 0.2\n");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            vocab + " nests arrays and objects more than 64 deep");
}

TEST_F(MalformedTest, InvalidJsonIsEscaped) {
  // A byte that is not UTF-8, quoted back by the JSON library, comes out as \xNN, never raw.
  const std::string path = write("config.json", "{\"a\": \"\xff\"}");
  EXPECT_EQ(errorOf([&] { loadConfig(dir.string()); }),
            path +
                " is not valid JSON (parse error at line 1, column 8: syntax error while parsing value - "
                "invalid string: ill-formed UTF-8 byte; last read: '\"\\xFF')");
}

// ---- Token ids ----

TEST_F(MalformedTest, NegativeVocabId) {
  const std::string path =
      write("tokenizer.json", R"({"model":{"type":"BPE","vocab":{"a":-1},"merges":[]}})");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            path + ": id of token 'a' in model.vocab must be an integer from 0 to 255, not -1");
}

TEST_F(MalformedTest, HugeAndFloatVocabIds) {
  for (const char* id : {"2147483648", "1e30", "100000000", "1.0", "\"1\""}) {
    SCOPED_TRACE(id);
    const std::string path = write(
        "tokenizer.json", std::string(R"({"model":{"type":"BPE","vocab":{"a":)") + id + R"(},"merges":[]}})");
    const std::string shown = std::string(id) == "1e30" ? "1e+30" : id;
    EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
              path + ": id of token 'a' in model.vocab must be an integer from 0 to 255, not " + shown);
  }
}

TEST_F(MalformedTest, IdBoundGrowsWithTheVocabulary) {
  // 300 tokens may use ids up to 599: twice what they define, so gaps are allowed but a huge table is not.
  std::string vocab;
  for (int i = 0; i < 299; ++i) vocab += "\"t" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  const std::string path =
      write("tokenizer.json", R"({"model":{"type":"BPE","vocab":{)" + vocab + R"("last":599},"merges":[]}})");
  EXPECT_EQ(loadTokenizer(dir.string())->vocabSize(), 600);
  write("tokenizer.json", R"({"model":{"type":"BPE","vocab":{)" + vocab + R"("last":600},"merges":[]}})");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            path + ": id of token 'last' in model.vocab must be an integer from 0 to 599, not 600");
}

TEST_F(MalformedTest, AddedAndSpecialTokenIds) {
  const std::string path = write(
      "tokenizer.json",
      R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"added_tokens":[{"id":-5,"content":"<s>"}]})");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            path + ": id of added token '<s>' must be an integer from 0 to 255, not -5");
  write("tokenizer.json", R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"post_processor":
    {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}],
     "special_tokens":{"<s>":{"ids":[1e30]}}}})");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            path + ": id of special token <s> must be an integer from 0 to 255, not 1e+30");
}

TEST_F(MalformedTest, VocabJsonIds) {
  const std::string path = write("vocab.json", R"({"a": 0, "b": -1})");
  write("merges.txt", "#version: 0.2\n");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            path + ": id of token 'b' must be an integer from 0 to 255, not -1");
}

TEST_F(MalformedTest, FieldTypesAreChecked) {
  const std::string path = write("tokenizer.json", R"({"normalizer":{"type":"Prepend","prepend":5},
    "model":{"type":"BPE","vocab":{"a":0},"merges":[]}})");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }), path + ": normalizer 'prepend' must be a string");
  write("tokenizer.json", R"({"decoder":{"type":"Strip","content":" ","start":1e30},
    "model":{"type":"BPE","vocab":{"a":0},"merges":[]}})");
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            path + ": decoder 'start' must be an integer from 0 to 1024");
  const std::string config = write("config.json", R"({"attnscope_tokenizer": {"type": "bytes",
    "bos_token_id": 9223372036854775807}})");
  fs::remove(path);
  EXPECT_EQ(errorOf([&] { loadTokenizer(dir.string()); }),
            config + ": attnscope_tokenizer.bos_token_id must be an integer from 256 to 16777215");
}

// ---- Sizes trusted before checked ----

TEST(ConfigSizes, DimensionsAreBounded) {
  EXPECT_EQ(errorOf([] {
              parseConfig(R"({"model_type": "gpt2", "vocab_size": 50, "n_embd": 4611686018427387904,
                "n_layer": 1, "n_head": 1, "n_positions": 8})");
            }),
            "config.json: 'n_embd' is 4611686018427387904, above the limit of 16777216");
  EXPECT_EQ(
      errorOf([] {
        parseConfig(R"({"model_type": "llama", "vocab_size": 50, "hidden_size": 16, "intermediate_size": 24,
                "num_hidden_layers": 1000000000, "num_attention_heads": 4})");
      }),
      "config.json: 'num_hidden_layers' is 1000000000, above the limit of 16777216");
  EXPECT_EQ(errorOf([] {
              parseConfig(R"({"model_type": "llama", "vocab_size": 16777216, "hidden_size": 16777216,
                "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4})");
            }),
            "config.json: the sizes imply more than 1,099,511,627,776 parameters (2^40), the limit");
}

TEST_F(MalformedTest, ConfigAskingForMoreThanTheCheckpointFailsBeforeBuilding) {
  write("config.json",
        R"({"model_type": "llama", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 24,
    "num_hidden_layers": 1000000, "num_attention_heads": 4, "num_key_value_heads": 2})");
  writeTinyCheckpoint(dir / "model.safetensors");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(
      errorOf([&] { loadModel(dir.string()); }),
      (dir / "config.json").string() +
          ": asks for at least 1,920,001,280 parameters (3,840,002,560 bytes in 16-bit) but the checkpoint "
          "holds 16 bytes of tensors");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// ---- Symlinks, escaping, long regex runs ----

TEST_F(MalformedTest, ShardSymlinkLeavingTheModelDirectory) {
  const fs::path model = dir / "model", outside = dir / "elsewhere.safetensors";
  fs::create_directories(model);
  writeTinyCheckpoint(outside);
  write("model/model.safetensors.index.json", R"({"weight_map": {"w": "a.safetensors"}})");
  fs::create_symlink(outside, model / "a.safetensors");
  EXPECT_EQ(errorOf([&] { Checkpoint::open(model.string()); }),
            (model / "a.safetensors").string() + ": resolves to '" + fs::canonical(outside).string() +
                "', outside the model directory '" + fs::canonical(model).string() + "'");
  fs::remove(model / "model.safetensors.index.json");
  fs::create_symlink(outside, model / "model.safetensors");
  EXPECT_EQ(errorOf([&] { Checkpoint::open(model.string()); }),
            (model / "model.safetensors").string() + ": resolves to '" + fs::canonical(outside).string() +
                "', outside the model directory '" + fs::canonical(model).string() + "'");
}

TEST_F(MalformedTest, SymlinksInsideTheDirectoryOrIntoHuggingFaceBlobsAreFollowed) {
  // The Hugging Face cache: snapshots/<hash>/model.safetensors -> ../../blobs/<sha>.
  const fs::path repo = dir / "models--org--tiny", snapshot = repo / "snapshots" / "abc123";
  fs::create_directories(snapshot);
  fs::create_directories(repo / "blobs");
  writeTinyCheckpoint(repo / "blobs" / "0123");
  fs::create_symlink("../../blobs/0123", snapshot / "model.safetensors");
  EXPECT_EQ(Checkpoint::open(snapshot.string()).tensorBytes(), 16u);
}

TEST(EscapeForMessage, UnprintableBytes) {
  EXPECT_EQ(escapeForMessage("ok \xc3\xa9"), "ok \xc3\xa9");                        // é stays
  EXPECT_EQ(escapeForMessage("a\nb\x1b[0m\xff\x7f"), "a\\x0Ab\\x1B[0m\\xFF\\x7F");  // controls, broken UTF-8
  EXPECT_EQ(escapeForMessage("\xe2\x80\xae"), "\\xE2\\x80\\xAE");                   // right-to-left override
  EXPECT_EQ(escapeForMessage(std::string(300, 'x')), std::string(200, 'x') + "...");
  // Rules that came from the capture store's former escaper (backslash), and the rest of the union.
  EXPECT_EQ(escapeForMessage("a\\x1B"), "a\\x5Cx1B");  // backslash: no fake escapes
  EXPECT_EQ(escapeForMessage("\xe2\x80\xa8\xe2\x81\xa6"), "\\xE2\\x80\\xA8\\xE2\\x81\\xA6");  // U+2028, LRI
  EXPECT_EQ(escapeForMessage("\xed\xa0\x80"), "\\xED\\xA0\\x80");                             // surrogate
  EXPECT_EQ(escapeForMessage("\xf4\x90\x80\x80 \xf0\x9f\x99\x82"),
            "\\xF4\\x90\\x80\\x80 \xf0\x9f\x99\x82");  // > U+10FFFF
  EXPECT_EQ(escapeForMessage(std::string(300, 'x'), std::string_view::npos), std::string(300, 'x'));
  EXPECT_EQ(quoteForMessage("a\nb"), "'a\\x0Ab'");
}

TEST_F(MalformedTest, SafetensorsNamesAreEscaped) {
  const std::string path = writeSafetensorsHeader(
      "model.safetensors", R"({"a\u001b[2J": {"dtype": "F9", "shape": [], "data_offsets": [0, 0]}})");
  EXPECT_EQ(
      errorOf([&] { SafetensorsFile file(path); }),
      path +
          ": tensor 'a\\x1B[2J': unknown dtype 'F9' (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or "
          "BOOL)");
}

TEST_F(MalformedTest, LongRunOfSpacesWithTheLlama3Pattern) {
  // Llama 3's pre-tokenizer; its \s*[\r\n]+ steps back once per space of a run, past PCRE2's default limit.
  std::string vocab;
  const auto& chars = tokenizer_detail::byteLevelChars();
  for (int b = 0; b < 256; ++b)
    vocab += (b ? "," : "") + nlohmann::json(chars[b]).dump() + ":" + std::to_string(b);
  write("tokenizer.json", R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "ignore_merges": true, "vocab": {)" +
                              vocab + R"(}, "merges": []}})");
  const auto tokenizer = loadTokenizer(dir.string());
  const std::string spaces(12'000'000, ' ');
  const std::vector<int64_t> ids = tokenizer->encode(spaces + "a", false);
  ASSERT_EQ(ids.size(), spaces.size() + 1);
  EXPECT_EQ(ids.front(), ' ');
  EXPECT_EQ(ids.back(), 'a');
}

}  // namespace
}  // namespace attnscope
