// Loaders that turn HF tokenizer.json files and GPT-2's vocab.json + merges.txt into a PipelineSpec.

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

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

namespace tokenizer_detail {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError("cannot open " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw TokenizerError("cannot read " + path);
  return buffer.str();
}

}  // namespace tokenizer_detail

namespace {

// GPT-2's pre-tokenization: contractions, letters, numbers, other symbols, each with an optional leading
// space; runs of whitespace give up their last space to the following word ("\s+(?!\S)").
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

json parseJsonFile(const std::string& path) {
  const std::string text = tokenizer_detail::readFile(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw TokenizerError(path + ": invalid JSON: " + e.what());
  }
}

/// Context for error messages: every one names the file.
struct Parser {
  std::string path;

  [[noreturn]] void fail(const std::string& message) const { throw TokenizerError(path + ": " + message); }

  std::string type(const json& node, const char* what) const {
    if (!node.is_object() || !node.contains("type") || !node["type"].is_string())
      fail(std::string(what) + " without a type");
    return node["type"].get<std::string>();
  }

  std::shared_ptr<Regex> pattern(const json& node) const {
    if (node.contains("Regex")) return std::make_shared<Regex>(node["Regex"].get<std::string>(), false);
    if (node.contains("String")) return std::make_shared<Regex>(node["String"].get<std::string>(), true);
    fail("pattern is neither String nor Regex");
  }

  void normalizer(const json& node, std::vector<NormalizerStep>& steps) const {
    if (node.is_null()) return;
    const std::string t = type(node, "normalizer");
    NormalizerStep step;
    if (t == "Sequence") {
      for (const json& child : node.at("normalizers")) normalizer(child, steps);
      return;
    } else if (t == "Prepend") {
      step.kind = NormalizerStep::Kind::kPrepend;
      step.text = node.at("prepend").get<std::string>();
    } else if (t == "Replace") {
      step.kind = NormalizerStep::Kind::kReplace;
      step.pattern = pattern(node.at("pattern"));
      step.text = node.at("content").get<std::string>();
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
      step.left = node.value("strip_left", true);
      step.right = node.value("strip_right", true);
    } else {
      fail("unsupported normalizer type " + t);
    }
    steps.push_back(std::move(step));
  }

  void preTokenizer(const json& node, std::vector<PreTokenizerStep>& steps) const {
    if (node.is_null()) return;
    const std::string t = type(node, "pre_tokenizer");
    PreTokenizerStep step;
    if (t == "Sequence") {
      for (const json& child : node.at("pretokenizers")) preTokenizer(child, steps);
      return;
    } else if (t == "Split") {
      step.kind = PreTokenizerStep::Kind::kSplit;
      step.pattern = pattern(node.at("pattern"));
      step.invert = node.value("invert", false);
      const std::string behavior = node.value("behavior", "Isolated");
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
        fail("unsupported split behavior " + behavior);
      }
    } else if (t == "Digits") {
      step.kind = PreTokenizerStep::Kind::kSplit;
      step.pattern = std::make_shared<Regex>(R"(\p{N})", false);
      step.behavior =
          node.value("individual_digits", false) ? SplitBehavior::kIsolated : SplitBehavior::kContiguous;
    } else if (t == "ByteLevel") {
      step.kind = PreTokenizerStep::Kind::kByteLevel;
      step.add_prefix_space = node.value("add_prefix_space", true);
      if (node.value("use_regex", true)) step.pattern = std::make_shared<Regex>(kGpt2Pattern, false);
    } else if (t == "Metaspace") {
      step.kind = PreTokenizerStep::Kind::kMetaspace;
      step.replacement = node.value("replacement", "\u2581");
      step.prepend = prependScheme(node);
      step.split = node.value("split", true);
      step.pattern = std::make_shared<Regex>(step.replacement, true);
    } else {
      fail("unsupported pre_tokenizer type " + t);
    }
    steps.push_back(std::move(step));
  }

  PreTokenizerStep::Prepend prependScheme(const json& node) const {
    if (node.contains("prepend_scheme") && node["prepend_scheme"].is_string()) {
      const std::string scheme = node["prepend_scheme"].get<std::string>();
      if (scheme == "always") return PreTokenizerStep::Prepend::kAlways;
      if (scheme == "first") return PreTokenizerStep::Prepend::kFirst;
      if (scheme == "never") return PreTokenizerStep::Prepend::kNever;
      fail("unsupported prepend_scheme " + scheme);
    }
    return node.value("add_prefix_space", true) ? PreTokenizerStep::Prepend::kAlways
                                                : PreTokenizerStep::Prepend::kNever;
  }

  void decoder(const json& node, std::vector<DecoderStep>& steps) const {
    if (node.is_null()) return;
    const std::string t = type(node, "decoder");
    DecoderStep step;
    if (t == "Sequence") {
      for (const json& child : node.at("decoders")) decoder(child, steps);
      return;
    } else if (t == "ByteLevel") {
      step.kind = DecoderStep::Kind::kByteLevel;
    } else if (t == "Replace") {
      step.kind = DecoderStep::Kind::kReplace;
      const json& p = node.at("pattern");
      if (!p.contains("String")) fail("unsupported Replace decoder pattern (only String)");
      step.from = p["String"].get<std::string>();
      step.to = node.at("content").get<std::string>();
    } else if (t == "ByteFallback") {
      step.kind = DecoderStep::Kind::kByteFallback;
    } else if (t == "Fuse") {
      step.kind = DecoderStep::Kind::kFuse;
    } else if (t == "Strip") {
      step.kind = DecoderStep::Kind::kStrip;
      step.content = node.at("content").get<std::string>();
      step.start = node.value("start", 0);
      step.stop = node.value("stop", 0);
    } else if (t == "Metaspace") {
      step.kind = DecoderStep::Kind::kMetaspace;
      step.from = node.value("replacement", "\u2581");
      step.prepend = prependScheme(node) != PreTokenizerStep::Prepend::kNever;
    } else {
      fail("unsupported decoder type " + t);
    }
    steps.push_back(std::move(step));
  }

  void postProcessor(const json& node, const BpeModel& model, const std::vector<AddedToken>& added,
                     PipelineSpec& spec) const {
    if (node.is_null()) return;
    const std::string t = type(node, "post_processor");
    if (t == "Sequence") {
      for (const json& child : node.at("processors")) postProcessor(child, model, added, spec);
    } else if (t == "ByteLevel") {
      // Only adjusts offsets; adds no tokens.
    } else if (t == "TemplateProcessing") {
      const json& special = node.value("special_tokens", json::object());
      bool after_sequence = false;
      std::vector<int64_t> prefix, suffix;
      for (const json& item : node.at("single")) {
        if (item.contains("Sequence")) {
          after_sequence = true;
        } else if (item.contains("SpecialToken")) {
          const std::string name = item["SpecialToken"].at("id").get<std::string>();
          if (!special.contains(name)) fail("template token " + name + " missing from special_tokens");
          auto& target = after_sequence ? suffix : prefix;
          for (const json& id : special[name].at("ids")) target.push_back(id.get<int64_t>());
        }
      }
      spec.prefix_ids.insert(spec.prefix_ids.begin(), prefix.begin(), prefix.end());
      spec.suffix_ids.insert(spec.suffix_ids.end(), suffix.begin(), suffix.end());
    } else if (t == "RobertaProcessing" || t == "BertProcessing") {
      spec.prefix_ids.insert(spec.prefix_ids.begin(), node.at("cls").at(1).get<int64_t>());
      spec.suffix_ids.push_back(node.at("sep").at(1).get<int64_t>());
    } else {
      fail("unsupported post_processor type " + t);
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
  } else if (node.is_object() && node.contains("content")) {
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
  std::string model_type = model.value("type", "");
  if (model_type.empty() && model.contains("merges")) model_type = "BPE";
  if (model_type != "BPE")
    parser.fail("unsupported tokenizer model type " +
                (model_type.empty() ? std::string("(none)") : model_type) + " (only BPE is supported)");
  if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0)
    parser.fail("BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty())
      parser.fail(std::string("BPE ") + key + " is not supported");

  std::unordered_map<std::string, int32_t> vocab;
  for (const auto& [token, id] : model.at("vocab").items()) vocab.emplace(token, id.get<int32_t>());
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(model.at("merges").size());
  for (const json& merge : model["merges"]) {
    if (merge.is_array() && merge.size() == 2) {  // tokenizers >= 0.20
      merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else if (merge.is_string()) {
      const std::string line = merge.get<std::string>();
      const std::size_t space = line.find(' ');
      if (space == std::string::npos) parser.fail("merge without a space: " + line);
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
  options.byte_fallback = model.value("byte_fallback", false);
  options.ignore_merges = model.value("ignore_merges", false);
  options.fuse_unk = model.value("fuse_unk", false);
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const auto it = vocab.find(model["unk_token"].get<std::string>());
    if (it != vocab.end()) options.unk_id = it->second;
  }
  spec.model = std::make_unique<BpeModel>(std::move(vocab), merges, options);

  for (const json& node : root.value("added_tokens", json::array())) {
    AddedToken token;
    token.id = node.at("id").get<int32_t>();
    token.content = node.at("content").get<std::string>();
    token.special = node.value("special", false);
    token.lstrip = node.value("lstrip", false);
    token.rstrip = node.value("rstrip", false);
    token.single_word = node.value("single_word", false);
    spec.added_tokens.push_back(std::move(token));
  }
  parser.postProcessor(root.value("post_processor", json()), *spec.model, spec.added_tokens, spec);

  // Files whose post-processor adds nothing can still ask for BOS/EOS in tokenizer_config.json.
  if (!config_path.empty() && spec.prefix_ids.empty() && spec.suffix_ids.empty()) {
    const json config = parseJsonFile(config_path);
    if (config.value("add_bos_token", false)) {
      const int64_t bos = configTokenId(config, "bos_token", *spec.model, spec.added_tokens);
      if (bos < 0)
        throw TokenizerError(config_path + ": add_bos_token is set but bos_token is not in the vocabulary");
      spec.prefix_ids.push_back(bos);
    }
    if (config.value("add_eos_token", false)) {
      const int64_t eos = configTokenId(config, "eos_token", *spec.model, spec.added_tokens);
      if (eos < 0)
        throw TokenizerError(config_path + ": add_eos_token is set but eos_token is not in the vocabulary");
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
    throw TokenizerError(tokenizer_json + ": " + e.what());
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
  std::unordered_map<std::string, int32_t> vocab;
  try {
    for (const auto& [token, id] : vocab_node.items()) vocab.emplace(token, id.get<int32_t>());
  } catch (const json::exception& e) {
    throw TokenizerError(vocab_json + ": " + e.what());
  }

  std::vector<std::pair<std::string, std::string>> merges;
  std::istringstream lines(tokenizer_detail::readFile(merges_txt));
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
