// Tokenizer entry points: input validation, choosing a tokenizer for a model directory, and the raw byte
// tokenizer used by the small models attnscope trains itself.

#include "attnscope/tokenizer.h"

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attnscope/text_input.h"
#include "attnscope/untrusted_text.h"
#include "json_parse.h"
#include "tokenizer_internal.h"

namespace attnscope {

namespace fs = std::filesystem;
using nlohmann::json;

Tokenizer::~Tokenizer() = default;

std::vector<int64_t> Tokenizer::encode(const std::string& utf8_text, bool add_special_tokens) const {
  const std::size_t bad = tokenizer_detail::findInvalidUtf8(utf8_text);
  if (bad != tokenizer_detail::kValidUtf8)
    throw TokenizerError("input is not valid UTF-8 at byte " + std::to_string(bad));
  std::vector<int64_t> ids;
  ids.reserve(utf8_text.size() / 3 + 4);
  encodeValid(utf8_text, add_special_tokens, ids);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  return decodeIds(ids, skip_special_tokens);
}

namespace {

/// Ids 0..255 are bytes; an optional BOS id above them.
class ByteTokenizer : public Tokenizer {
 public:
  explicit ByteTokenizer(int64_t bos_token_id) : m_bos(bos_token_id) {}

  std::string displayString(int64_t id) const override {
    check(id);
    if (id == m_bos) return "<bos>";
    return displayToken(std::string(1, static_cast<char>(id)));
  }
  bool isSpecial(int64_t id) const override { return m_bos >= 0 && id == m_bos; }
  int64_t vocabSize() const override { return m_bos >= 256 ? m_bos + 1 : 256; }
  std::string kind() const override { return "bytes"; }

 protected:
  void encodeValid(const std::string& text, bool add_special_tokens,
                   std::vector<int64_t>& ids) const override {
    if (add_special_tokens && m_bos >= 0) ids.push_back(m_bos);
    for (char c : text) ids.push_back(static_cast<unsigned char>(c));
  }

  std::string decodeIds(const std::vector<int64_t>& ids, bool skip_special_tokens) const override {
    std::string out;
    out.reserve(ids.size());
    for (int64_t id : ids) {
      check(id);
      if (id == m_bos) {
        if (!skip_special_tokens) out += "<bos>";
      } else {
        out += static_cast<char>(id);
      }
    }
    return out;
  }

 private:
  void check(int64_t id) const {
    if (id < 0 || (id >= 256 && id != m_bos))
      throw TokenizerError("token id " + std::to_string(id) + " is not in the byte vocabulary");
  }

  int64_t m_bos;
};

/// Reads the byte tokenizer declaration from config.json; returns null when the file declares none.
std::unique_ptr<Tokenizer> byteTokenizerFromConfig(const std::string& config_path) {
  const json config = parseJsonOr<TokenizerError>(readFileOr<TokenizerError>(config_path), config_path);
  if (!config.is_object() || !config.contains("attnscope_tokenizer")) return nullptr;
  const json& node = config["attnscope_tokenizer"];
  std::string type;
  int64_t bos = -1;
  if (node.is_string()) {
    type = node.get<std::string>();
  } else if (node.is_object() && node.contains("type") && node["type"].is_string()) {
    type = node["type"].get<std::string>();
    if (node.contains("bos_token_id")) {
      const json& id = node["bos_token_id"];
      if (!id.is_number_unsigned() || id.get<uint64_t>() < 256 ||
          id.get<uint64_t>() >= static_cast<uint64_t>(tokenizer_detail::kMaxTokenIds))
        throw TokenizerError(config_path +
                             ": attnscope_tokenizer.bos_token_id must be an integer from 256 to " +
                             std::to_string(tokenizer_detail::kMaxTokenIds - 1));
      bos = static_cast<int64_t>(id.get<uint64_t>());
    }
  } else {
    throw TokenizerError(config_path +
                         ": attnscope_tokenizer must be \"bytes\" or {\"type\": \"bytes\", ...}");
  }
  if (type != "bytes")
    throw TokenizerError(config_path + ": unsupported attnscope_tokenizer type " + escapeForMessage(type));
  return std::make_unique<ByteTokenizer>(bos);
}

}  // namespace

std::unique_ptr<Tokenizer> makeByteTokenizer(int64_t bos_token_id) {
  if (bos_token_id >= 0 && bos_token_id < 256)
    throw TokenizerError("byte tokenizer bos_token_id " + std::to_string(bos_token_id) +
                         " collides with a byte");
  return std::make_unique<ByteTokenizer>(bos_token_id < 0 ? -1 : bos_token_id);
}

std::unique_ptr<Tokenizer> loadTokenizer(const std::string& model_dir) {
  const fs::path dir(model_dir);
  std::error_code error;
  if (!fs::is_directory(dir, error)) throw TokenizerError("model directory " + model_dir + " does not exist");
  const auto present = [&](const char* name) { return fs::is_regular_file(dir / name, error); };
  if (present("tokenizer.json")) {
    const std::string config =
        present("tokenizer_config.json") ? (dir / "tokenizer_config.json").string() : "";
    return loadTokenizerJson((dir / "tokenizer.json").string(), config);
  }
  if (present("vocab.json") && present("merges.txt"))
    return loadGpt2Tokenizer((dir / "vocab.json").string(), (dir / "merges.txt").string());
  if (present("config.json")) {
    if (auto bytes = byteTokenizerFromConfig((dir / "config.json").string())) return bytes;
  }
  throw TokenizerError(
      "no tokenizer in " + model_dir +
      ": expected tokenizer.json, vocab.json + merges.txt, or \"attnscope_tokenizer\": \"bytes\" "
      "in config.json");
}

}  // namespace attnscope
