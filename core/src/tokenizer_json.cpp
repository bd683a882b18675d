// Loaders that turn HF tokenizer.json files and GPT-2's vocab.json + merges.txt into a PipelineSpec.

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "attnscope/text_input.h"
#include "attnscope/untrusted_text.h"
#include "json_parse.h"
#include "tokenizer_internal.h"

namespace attnscope {

using nlohmann::json;
using tokenizer_detail::AddedToken;
using tokenizer_detail::BpeModel;
using tokenizer_detail::BpeOptions;
using tokenizer_detail::DecoderStep;
using tokenizer_detail::NormalizerStep;
using tokenizer_detail::PipelineSpec;
using tokenizer_detail::PipelineTokenizer;
using tokenizer_detail::PreTokenizerStep;
using tokenizer_detail::Regex;
using tokenizer_detail::SplitBehavior;
using tokenizer_detail::UnicodeForm;

namespace {

// GPT-2's pre-tokenization: contractions, letters, numbers, other symbols, each with an optional leading
// space; runs of whitespace give up their last space to the following word ("\s+(?!\S)").
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

json parseJsonFile(const std::string& path) {
  return parseJsonOr<TokenizerError>(readFileOr<TokenizerError>(path), path);
}

/// Context for error messages: every one names the file. The typed readers check each field before using it,
/// so a wrong type is a one-line error naming the field, never an exception from deep inside the JSON
/// library.
struct Parser {
  std::string path;

  [[noreturn]] void fail(const std::string& message) const { throw TokenizerError(path + ": " + message); }

  /// Returns node[key], which must exist; `what` names the node in messages ("normalizer", "model").
  const json& field(const json& node, const char* key, const char* what) const {
    if (!node.is_object() || !node.contains(key)) fail(std::string(what) + " has no '" + key + "'");
    return node[key];
  }
  const json& array(const json& node, const char* key, const char* what) const {
    const json& value = field(node, key, what);
    if (!value.is_array()) fail(std::string(what) + " '" + key + "' must be an array");
    return value;
  }
  std::string text(const json& node, const char* key, const char* what) const {
    const json& value = field(node, key, what);
    if (!value.is_string()) fail(std::string(what) + " '" + key + "' must be a string");
    return value.get<std::string>();
  }
  std::string text(const json& node, const char* key, const char* what, const std::string& fallback) const {
    return node.contains(key) && !node[key].is_null() ? text(node, key, what) : fallback;
  }
  bool flag(const json& node, const char* key, const char* what, bool fallback) const {
    if (!node.contains(key) || node[key].is_null()) return fallback;
    if (!node[key].is_boolean()) fail(std::string(what) + " '" + key + "' must be true or false");
    return node[key].get<bool>();
  }
  /// A small count (e.g. how many characters Strip removes).
  int count(const json& node, const char* key, const char* what) const {
    if (!node.contains(key) || node[key].is_null()) return 0;
    const json& value = node[key];
    if (!value.is_number_unsigned() || value.get<uint64_t>() > 1024)
      fail(std::string(what) + " '" + key + "' must be an integer from 0 to 1024");
    return static_cast<int>(value.get<uint64_t>());
  }
  /// A token id: an integer JSON number in [0, limit) (see tokenIdLimit); `what` says whose id it is.
  int32_t tokenId(const json& value, int64_t limit, const std::string& what) const {
    if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0) ||
        value.get<uint64_t>() >= static_cast<uint64_t>(limit))
      fail("id of " + what + " must be an integer from 0 to " + std::to_string(limit - 1) + ", not " +
           escapeForMessage(value.dump(), 40));
    return static_cast<int32_t>(value.get<uint64_t>());
  }

  std::string type(const json& node, const char* what) const {
    if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
      fail(std::string(what) + " without a type");
    return node["type"].get<std::string>();
  }

  std::shared_ptr<Regex> pattern(const json& node) const {
    if (node.is_object() && node.contains("Regex"))
      return std::make_shared<Regex>(text(node, "Regex", "pattern"), false);
    if (node.is_object() && node.contains("String"))
      return std::make_shared<Regex>(text(node, "String", "pattern"), true);
    fail("pattern is neither String nor Regex");
  }

  void normalizer(const json& node, std::vector<NormalizerStep>& steps) const {
    if (node.is_null()) return;
    const std::string t = type(node, "normalizer");
    NormalizerStep step;
    if (t == "Sequence") {
      // Recursion is bounded: parseJson refused nesting deeper than kMaxJsonDepth.
      for (const json& child : array(node, "normalizers", "normalizer")) normalizer(child, steps);
      return;
    } else if (t == "Prepend") {
      step.kind = NormalizerStep::Kind::kPrepend;
      step.text = text(node, "prepend", "normalizer");
    } else if (t == "Replace") {
      step.kind = NormalizerStep::Kind::kReplace;
      step.pattern = pattern(field(node, "pattern", "normalizer"));
      step.text = text(node, "content", "normalizer");
    } else if (t == "NFC" || t == "NFD" || t == "NFKC" || t == "NFKD") {
      step.kind = NormalizerStep::Kind::kUnicode;
      step.form = t == "NFC"    ? UnicodeForm::kNfc
                  : t == "NFD"  ? UnicodeForm::kNfd
                  : t == "NFKC" ? UnicodeForm::kNfkc
                                : UnicodeForm::kNfkd;
    } else if (t == "Lowercase") {
      step.kind = NormalizerStep::Kind::kLowercase;
    } else if (t == "Strip") {
      step.kind = NormalizerStep::Kind::kStrip;
      step.left = flag(node, "strip_left", "normalizer", true);
      step.right = flag(node, "strip_right", "normalizer", true);
    } else {
      fail("unsupported normalizer type " + escapeForMessage(t));
    }
    steps.push_back(std::move(step));
  }

  void preTokenizer(const json& node, std::vector<PreTokenizerStep>& steps) const {
    if (node.is_null()) return;
    const std::string t = type(node, "pre_tokenizer");
    PreTokenizerStep step;
    if (t == "Sequence") {
      for (const json& child : array(node, "pretokenizers", "pre_tokenizer")) preTokenizer(child, steps);
      return;
    } else if (t == "Split") {
      step.kind = PreTokenizerStep::Kind::kSplit;
      step.pattern = pattern(field(node, "pattern", "pre_tokenizer"));
      step.invert = flag(node, "invert", "pre_tokenizer", false);
      const std::string behavior = text(node, "behavior", "pre_tokenizer", "Isolated");
      if (behavior == "Isolated") {
        step.behavior = SplitBehavior::kIsolated;
      } else if (behavior == "Removed") {
        step.behavior = SplitBehavior::kRemoved;
      } else if (behavior == "MergedWithPrevious") {
        step.behavior = SplitBehavior::kMergedWithPrevious;
      } else if (behavior == "MergedWithNext") {
        step.behavior = SplitBehavior::kMergedWithNext;
      } else if (behavior == "Contiguous") {
        step.behavior = SplitBehavior::kContiguous;
      } else {
        fail("unsupported split behavior " + escapeForMessage(behavior));
      }
    } else if (t == "Digits") {
      step.kind = PreTokenizerStep::Kind::kSplit;
      step.pattern = std::make_shared<Regex>(R"(\p{N})", false);
      step.behavior = flag(node, "individual_digits", "pre_tokenizer", false) ? SplitBehavior::kIsolated
                                                                              : SplitBehavior::kContiguous;
    } else if (t == "ByteLevel") {
      step.kind = PreTokenizerStep::Kind::kByteLevel;
      step.add_prefix_space = flag(node, "add_prefix_space", "pre_tokenizer", true);
      if (flag(node, "use_regex", "pre_tokenizer", true))
        step.pattern = std::make_shared<Regex>(kGpt2Pattern, false);
    } else if (t == "Metaspace") {
      step.kind = PreTokenizerStep::Kind::kMetaspace;
      step.replacement = text(node, "replacement", "pre_tokenizer", "\u2581");
      step.prepend = prependScheme(node);
      step.split = flag(node, "split", "pre_tokenizer", true);
      step.pattern = std::make_shared<Regex>(step.replacement, true);
    } else {
      fail("unsupported pre_tokenizer type " + escapeForMessage(t));
    }
    steps.push_back(std::move(step));
  }

  PreTokenizerStep::Prepend prependScheme(const json& node) const {
    if (node.contains("prepend_scheme") && node["prepend_scheme"].is_string()) {
      const std::string scheme = node["prepend_scheme"].get<std::string>();
      if (scheme == "always") return PreTokenizerStep::Prepend::kAlways;
      if (scheme == "first") return PreTokenizerStep::Prepend::kFirst;
      if (scheme == "never") return PreTokenizerStep::Prepend::kNever;
      fail("unsupported prepend_scheme " + escapeForMessage(scheme));
    }
    return flag(node, "add_prefix_space", "Metaspace", true) ? PreTokenizerStep::Prepend::kAlways
                                                             : PreTokenizerStep::Prepend::kNever;
  }

  void decoder(const json& node, std::vector<DecoderStep>& steps) const {
    if (node.is_null()) return;
    const std::string t = type(node, "decoder");
    DecoderStep step;
    if (t == "Sequence") {
      for (const json& child : array(node, "decoders", "decoder")) decoder(child, steps);
      return;
    } else if (t == "ByteLevel") {
      step.kind = DecoderStep::Kind::kByteLevel;
    } else if (t == "Replace") {
      step.kind = DecoderStep::Kind::kReplace;
      const json& p = field(node, "pattern", "decoder");
      if (!p.is_object() || !p.contains("String")) fail("unsupported Replace decoder pattern (only String)");
      step.from = text(p, "String", "decoder pattern");
      step.to = text(node, "content", "decoder");
    } else if (t == "ByteFallback") {
      step.kind = DecoderStep::Kind::kByteFallback;
    } else if (t == "Fuse") {
      step.kind = DecoderStep::Kind::kFuse;
    } else if (t == "Strip") {
      step.kind = DecoderStep::Kind::kStrip;
      step.content = text(node, "content", "decoder");
      step.start = count(node, "start", "decoder");
      step.stop = count(node, "stop", "decoder");
    } else if (t == "Metaspace") {
      step.kind = DecoderStep::Kind::kMetaspace;
      step.from = text(node, "replacement", "decoder", "\u2581");
      step.prepend = prependScheme(node) != PreTokenizerStep::Prepend::kNever;
    } else {
      fail("unsupported decoder type " + escapeForMessage(t));
    }
    steps.push_back(std::move(step));
  }

  void postProcessor(const json& node, int64_t id_limit, PipelineSpec& spec) const {
    if (node.is_null()) return;
    const std::string t = type(node, "post_processor");
    if (t == "Sequence") {
      for (const json& child : array(node, "processors", "post_processor"))
        postProcessor(child, id_limit, spec);
    } else if (t == "ByteLevel") {
      // Only adjusts offsets; adds no tokens.
    } else if (t == "TemplateProcessing") {
      const json special = node.contains("special_tokens") ? node["special_tokens"] : json::object();
      if (!special.is_object()) fail("post_processor 'special_tokens' must be an object");
      bool after_sequence = false;
      std::vector<int64_t> prefix, suffix;
      for (const json& item : array(node, "single", "post_processor")) {
        if (!item.is_object()) fail("post_processor 'single' holds a non-object");
        if (item.contains("Sequence")) {
          after_sequence = true;
        } else if (item.contains("SpecialToken")) {
          const std::string name = text(item["SpecialToken"], "id", "template SpecialToken");
          if (!special.contains(name))
            fail("template token " + escapeForMessage(name) + " missing from special_tokens");
          auto& target = after_sequence ? suffix : prefix;
          for (const json& id : array(special[name], "ids", "special token"))
            target.push_back(tokenId(id, id_limit, "special token " + escapeForMessage(name)));
        }
      }
      spec.prefix_ids.insert(spec.prefix_ids.begin(), prefix.begin(), prefix.end());
      spec.suffix_ids.insert(spec.suffix_ids.end(), suffix.begin(), suffix.end());
    } else if (t == "RobertaProcessing" || t == "BertProcessing") {
      const json& cls = array(node, "cls", "post_processor");
      const json& sep = array(node, "sep", "post_processor");
      if (cls.size() != 2 || sep.size() != 2) fail("post_processor 'cls' and 'sep' must be [token, id]");
      spec.prefix_ids.insert(spec.prefix_ids.begin(), tokenId(cls[1], id_limit, "cls"));
      spec.suffix_ids.push_back(tokenId(sep[1], id_limit, "sep"));
    } else {
      fail("unsupported post_processor type " + escapeForMessage(t));
    }
  }
};

/// Returns the id of a token named in tokenizer_config.json (a string or {"content": ...}), or -1.
int64_t configTokenId(const json& config, const char* key, const BpeModel& model,
                      const std::vector<AddedToken>& added) {
  if (!config.contains(key)) return -1;
  const json& node = config[key];
  std::string content;
  if (node.is_string()) {
    content = node.get<std::string>();
  } else if (node.is_object() && node.contains("content") && node["content"].is_string()) {
    content = node["content"].get<std::string>();
  } else {
    return -1;
  }
  for (const AddedToken& token : added)
    if (token.content == content) return token.id;
  return model.idOf(content);
}

std::unique_ptr<Tokenizer> buildTokenizerJson(const std::string& path, const std::string& config_path) {
  const Parser parser{path};
  const json root = parseJsonFile(path);
  if (!root.is_object() || !root.contains("model")) parser.fail("no \"model\" section");
  const json& model = root["model"];
  if (!model.is_object()) parser.fail("\"model\" must be an object");
  std::string model_type = parser.text(model, "type", "model", "");
  if (model_type.empty() && model.contains("merges")) model_type = "BPE";
  if (model_type != "BPE")
    parser.fail("unsupported tokenizer model type " +
                (model_type.empty() ? std::string("(none)") : escapeForMessage(model_type)) +
                " (only BPE is supported)");
  if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0)
    parser.fail("BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
      parser.fail(std::string("BPE ") + key + " is not supported");

  const json& vocab_node = parser.field(model, "vocab", "model");
  if (!vocab_node.is_object()) parser.fail("model 'vocab' must be an object of token -> id");
  const json added_nodes = root.contains("added_tokens") ? root["added_tokens"] : json::array();
  if (!added_nodes.is_array()) parser.fail("'added_tokens' must be an array");
  const int64_t id_limit = tokenizer_detail::tokenIdLimit(vocab_node.size() + added_nodes.size());
  std::unordered_map<std::string, int32_t> vocab;
  for (const auto& [token, id] : vocab_node.items())
    vocab.emplace(token,
                  parser.tokenId(id, id_limit, "token '" + escapeForMessage(token) + "' in model.vocab"));
  std::vector<std::pair<std::string, std::string>> merges;
  const json& merge_nodes = parser.array(model, "merges", "model");
  merges.reserve(merge_nodes.size());
  for (const json& merge : merge_nodes) {
    if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());  // tokenizers >= 0.20
    } else if (merge.is_string()) {
      const std::string line = merge.get<std::string>();
      const std::size_t space = line.find(' ');
      if (space == std::string::npos) parser.fail("merge without a space: " + escapeForMessage(line));
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else {
      parser.fail("malformed merge entry");
    }
  }

  PipelineSpec spec;
  parser.normalizer(root.value("normalizer", json()), spec.normalizers);
  parser.preTokenizer(root.value("pre_tokenizer", json()), spec.pre_tokenizers);
  parser.decoder(root.value("decoder", json()), spec.decoders);
  bool byte_level = false;
  for (std::size_t i = 0; i < spec.pre_tokenizers.size(); ++i) {
    if (spec.pre_tokenizers[i].kind != PreTokenizerStep::Kind::kByteLevel) continue;
    // Steps after ByteLevel would see GPT-2's mapped characters; no known tokenizer does that.
    if (i + 1 != spec.pre_tokenizers.size()) parser.fail("ByteLevel must be the last pre_tokenizer");
    byte_level = true;
  }

  BpeOptions options;
  options.byte_level = byte_level;
  options.byte_fallback = parser.flag(model, "byte_fallback", "model", false);
  options.ignore_merges = parser.flag(model, "ignore_merges", "model", false);
  options.fuse_unk = parser.flag(model, "fuse_unk", "model", false);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const auto it = vocab.find(model["unk_token"].get<std::string>());
    if (it != vocab.end()) options.unk_id = it->second;
  }
  spec.model = std::make_unique<BpeModel>(std::move(vocab), merges, options);

  for (const json& node : added_nodes) {
    if (!node.is_object()) parser.fail("'added_tokens' holds a non-object");
    AddedToken token;
    token.content = parser.text(node, "content", "added token");
    token.id = parser.tokenId(parser.field(node, "id", "added token"), id_limit,
                              "added token '" + escapeForMessage(token.content) + "'");
    token.special = parser.flag(node, "special", "added token", false);
    token.lstrip = parser.flag(node, "lstrip", "added token", false);
    token.rstrip = parser.flag(node, "rstrip", "added token", false);
    token.single_word = parser.flag(node, "single_word", "added token", false);
    spec.added_tokens.push_back(std::move(token));
  }
  parser.postProcessor(root.value("post_processor", json()), id_limit, spec);

  // Files whose post-processor adds nothing can still ask for BOS/EOS in tokenizer_config.json.
  if (!config_path.empty() && spec.prefix_ids.empty() && spec.suffix_ids.empty()) {
    const Parser config_parser{config_path};
    const json config = parseJsonFile(config_path);
    if (!config.is_object()) config_parser.fail("top level must be an object");
    if (config_parser.flag(config, "add_bos_token", "tokenizer config", false)) {
      const int64_t bos = configTokenId(config, "bos_token", *spec.model, spec.added_tokens);
      if (bos < 0) config_parser.fail("add_bos_token is set but bos_token is not in the vocabulary");
      spec.prefix_ids.push_back(bos);
    }
    if (config_parser.flag(config, "add_eos_token", "tokenizer config", false)) {
      const int64_t eos = configTokenId(config, "eos_token", *spec.model, spec.added_tokens);
      if (eos < 0) config_parser.fail("add_eos_token is set but eos_token is not in the vocabulary");
      spec.suffix_ids.push_back(eos);
    }
  }
  spec.kind = byte_level ? "tokenizer.json bpe (byte-level)" : "tokenizer.json bpe (sentencepiece)";
  return std::make_unique<PipelineTokenizer>(std::move(spec));
}

}  // namespace

std::unique_ptr<Tokenizer> loadTokenizerJson(const std::string& tokenizer_json,
                                             const std::string& tokenizer_config_json) {
  try {
    return buildTokenizerJson(tokenizer_json, tokenizer_config_json);
  } catch (const json::exception& e) {
    // Missing keys and wrong JSON types surface here; keep the file name in the message.
    throw TokenizerError(tokenizer_json + ": " + escapeForMessage(e.what()));
  } catch (const TokenizerError& e) {
    const std::string message = e.what();
    const auto names = [&](const std::string& path) { return !path.empty() && message.rfind(path, 0) == 0; };
    if (names(tokenizer_json) || names(tokenizer_config_json)) throw;
    throw TokenizerError(tokenizer_json + ": " + message);  // e.g. a regex or merge error from deeper down
  }
}

std::unique_ptr<Tokenizer> loadGpt2Tokenizer(const std::string& vocab_json, const std::string& merges_txt) {
  const json vocab_node = parseJsonFile(vocab_json);
  if (!vocab_node.is_object()) throw TokenizerError(vocab_json + ": expected an object of token -> id");
  const Parser parser{vocab_json};
  const int64_t id_limit = tokenizer_detail::tokenIdLimit(vocab_node.size());
  std::unordered_map<std::string, int32_t> vocab;
  for (const auto& [token, id] : vocab_node.items())
    vocab.emplace(token, parser.tokenId(id, id_limit, "token '" + escapeForMessage(token) + "'"));

  std::vector<std::pair<std::string, std::string>> merges;
  std::istringstream lines(readFileOr<TokenizerError>(merges_txt));
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    std::istringstream parts(line);
    std::string left, right;
    if (!(parts >> left >> right))
      throw TokenizerError(merges_txt + ": line " + std::to_string(line_number) + " is not a merge");
    merges.emplace_back(std::move(left), std::move(right));
  }

  PipelineSpec spec;
  spec.kind = "gpt2-bpe";
  BpeOptions options;
  options.byte_level = true;
  const auto end_of_text = vocab.find("<|endoftext|>");
  if (end_of_text != vocab.end()) {
    AddedToken token;
    token.content = end_of_text->first;
    token.id = end_of_text->second;
    token.special = true;
    spec.added_tokens.push_back(token);
  }
  try {
    spec.model = std::make_unique<BpeModel>(std::move(vocab), merges, options);
  } catch (const TokenizerError& e) {
    throw TokenizerError(merges_txt + ": " + e.what());
  }
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.pattern = std::make_shared<Regex>(kGpt2Pattern, false);
  spec.pre_tokenizers.push_back(std::move(byte_level));
  spec.decoders.push_back(DecoderStep{});  // ByteLevel
  return std::make_unique<PipelineTokenizer>(std::move(spec));
}

}  // namespace attnscope
