#include "attnscope/config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "attnscope/hf_cache.h"
#include "attnscope/normalizer_spec.h"
#include "attnscope/text_input.h"
#include "attnscope/untrusted_text.h"
#include "config_parse.h"
#include "json_parse.h"

namespace attnscope {
namespace config_parse {

using nlohmann::json;

/// Reads an integer in [min, kMaxConfigDimension]; the upper bound keeps every product the model code forms
/// from two of them inside int64.
int64_t readInt(const json& value, const char* key, int64_t min) {
  const char* kind = min > 0 ? "a positive integer" : "a non-negative integer";
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < min))
    throw ConfigError(std::string("config.json: '") + key + "' must be " + kind);
  const uint64_t v = value.get<uint64_t>();
  if (v > static_cast<uint64_t>(kMaxConfigDimension))
    throw ConfigError(std::string("config.json: '") + key + "' is " + std::to_string(v) +
                      ", above the limit of " + std::to_string(kMaxConfigDimension));
  if (static_cast<int64_t>(v) < min)
    throw ConfigError(std::string("config.json: '") + key + "' must be " + kind);
  return static_cast<int64_t>(v);
}

int64_t requireInt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    throw ConfigError(std::string("config.json: missing key '") + key + "'");
  return readInt(*it, key, 1);
}

int64_t optionalInt(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return readInt(*it, key, 0);
}

/// Multiplication and addition that stop at INT64_MAX instead of wrapping (callers compare against a bound).
int64_t saturatingMul(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_mul_overflow(a, b, &out) ? INT64_MAX : out;
}
int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  return __builtin_add_overflow(a, b, &out) ? INT64_MAX : out;
}

double optionalNumber(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw ConfigError(std::string("config.json: '") + key + "' must be a number");
  return it->get<double>();
}

bool optionalBool(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw ConfigError(std::string("config.json: '") + key + "' must be true or false");
  return it->get<bool>();
}

std::string optionalString(const json& j, const char* key, const std::string& fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_string()) throw ConfigError(std::string("config.json: '") + key + "' must be a string");
  return it->get<std::string>();
}

RopeScaling parseRopeScaling(const json& j, int64_t n_ctx) {
  RopeScaling rs;
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return rs;
  if (!it->is_object()) throw ConfigError("config.json: 'rope_scaling' must be an object");
  const json& r = *it;
  rs.type = optionalString(r, "rope_type", optionalString(r, "type", "default"));
  if (rs.type == "default") return rs;
  if (rs.type != "linear" && rs.type != "dynamic" && rs.type != "llama3" && rs.type != "yarn")
    throw ConfigError("config.json: rope_scaling type '" + escapeForMessage(rs.type) +
                      "' is not supported (supported: linear, dynamic, llama3, yarn)");
  rs.factor = optionalNumber(r, "factor", 0.0);
  if (!(rs.factor >= 1.0)) throw ConfigError("config.json: rope_scaling 'factor' must be a number >= 1");
  rs.original_max_position_embeddings = optionalInt(r, "original_max_position_embeddings", n_ctx);
  if (rs.type == "llama3") {
    rs.low_freq_factor = optionalNumber(r, "low_freq_factor", 1.0);
    rs.high_freq_factor = optionalNumber(r, "high_freq_factor", 4.0);
    if (!(rs.high_freq_factor > rs.low_freq_factor))
      throw ConfigError("config.json: rope_scaling needs high_freq_factor > low_freq_factor");
  }
  if (rs.type == "yarn") {
    rs.beta_fast = optionalNumber(r, "beta_fast", 32.0);
    rs.beta_slow = optionalNumber(r, "beta_slow", 1.0);
    if (r.contains("attention_factor") && !r["attention_factor"].is_null())
      rs.attention_factor = optionalNumber(r, "attention_factor", 1.0);
    if (r.contains("mscale") || r.contains("mscale_all_dim"))
      throw ConfigError("config.json: rope_scaling yarn with mscale/mscale_all_dim is not supported");
  }
  return rs;
}

void parseSsmax(const json& j, ModelConfig& c) {
  std::string normalizer = optionalString(j, "attention_normalizer", kNormalizerSoftmax);
  if (normalizer == kNormalizerSsmax) {
    c.ssmax_learned = true;
    c.ssmax_bias = optionalBool(j, "ssmax_bias", false);
    auto it = j.find("ssmax_layers");
    if (it != j.end() && !it->is_null()) {
      if (!it->is_array() || it->empty())
        throw ConfigError("config.json: 'ssmax_layers' must list the layers (0-based) that carry SSMax");
      std::vector<bool> layers(static_cast<std::size_t>(c.n_layer), false);
      for (const json& layer : *it) {
        if (!layer.is_number_integer() || layer.get<int64_t>() < 0 || layer.get<int64_t>() >= c.n_layer)
          throw ConfigError("config.json: 'ssmax_layers' entry " + escapeForMessage(layer.dump()) +
                            " is not a layer (0.." + std::to_string(c.n_layer - 1) + ")");
        if (layers[layer.get<std::size_t>()])
          throw ConfigError("config.json: 'ssmax_layers' lists layer " + layer.dump() + " twice");
        layers[layer.get<std::size_t>()] = true;
      }
      c.ssmax_layers = layers;
    }
  } else if (normalizer == kNormalizerSoftmax && j.contains("ssmax_layers") && !j["ssmax_layers"].is_null()) {
    throw ConfigError("config.json: 'ssmax_layers' needs attention_normalizer ssmax");
  } else if (normalizer != kNormalizerSoftmax) {
    throw ConfigError("config.json: attention_normalizer '" + escapeForMessage(normalizer) +
                      "' is not supported (softmax, ssmax)");
  }
}

void parseGpt2(const json& j, ModelConfig& c) {
  c.arch = Architecture::Gpt2;
  c.vocab_size = requireInt(j, "vocab_size");
  c.d_model = requireInt(j, "n_embd");
  c.n_layer = requireInt(j, "n_layer");
  c.n_head = requireInt(j, "n_head");
  c.n_kv_head = c.n_head;
  c.n_ctx = requireInt(j, "n_positions");
  c.d_ff = optionalInt(j, "n_inner", 4 * c.d_model);
  if (c.d_ff == 0) c.d_ff = 4 * c.d_model;
  c.norm_eps = optionalNumber(j, "layer_norm_epsilon", 1e-5);
  c.tie_word_embeddings = optionalBool(j, "tie_word_embeddings", true);
  c.attention_bias = true;
  c.o_proj_bias = true;
  std::string act = optionalString(j, "activation_function", "gelu_new");
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    throw ConfigError("config.json: gpt2 activation_function '" + escapeForMessage(act) +
                      "' is not supported (gelu_new)");
  if (optionalBool(j, "scale_attn_by_inverse_layer_idx", false) ||
      optionalBool(j, "reorder_and_upcast_attn", false))
    throw ConfigError(
        "config.json: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported");
  if (!optionalBool(j, "scale_attn_weights", true))
    throw ConfigError("config.json: scale_attn_weights=false is not supported");
  if (c.d_model % c.n_head != 0) throw ConfigError("config.json: n_embd must be divisible by n_head");
  c.d_head = c.d_model / c.n_head;
}

void parseDecoderSizes(const json& j, ModelConfig& c, int64_t default_ctx, double default_eps) {
  c.vocab_size = requireInt(j, "vocab_size");
  c.d_model = requireInt(j, "hidden_size");
  c.n_layer = requireInt(j, "num_hidden_layers");
  c.n_head = requireInt(j, "num_attention_heads");
  c.n_kv_head = optionalInt(j, "num_key_value_heads", c.n_head);
  if (c.n_kv_head == 0 || c.n_head % c.n_kv_head != 0)
    throw ConfigError("config.json: num_attention_heads must be a multiple of num_key_value_heads");
  c.d_ff = requireInt(j, "intermediate_size");
  c.n_ctx = optionalInt(j, "max_position_embeddings", default_ctx);
  c.norm_eps = optionalNumber(j, "rms_norm_eps", default_eps);
  c.tie_word_embeddings = optionalBool(j, "tie_word_embeddings", false);
}

void parseLlama(const json& j, ModelConfig& c) {
  c.arch = Architecture::Llama;
  parseDecoderSizes(j, c, 2048, 1e-6);
  c.rope_theta = optionalNumber(j, "rope_theta", 10000.0);
  if (!(c.rope_theta > 1.0)) throw ConfigError("config.json: 'rope_theta' must be > 1");
  c.rope_scaling = parseRopeScaling(j, c.n_ctx);
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    c.d_head = requireInt(j, "head_dim");
  } else {
    if (c.d_model % c.n_head != 0)
      throw ConfigError("config.json: hidden_size must be divisible by num_attention_heads");
    c.d_head = c.d_model / c.n_head;
  }
  if (c.d_head % 2 != 0) throw ConfigError("config.json: head dimension must be even for RoPE");
  std::string act = optionalString(j, "hidden_act", "silu");
  if (act != "silu" && !isGemmaFamily(c.model_type))  // gemma reads hidden_activation (parseGemma)
    throw ConfigError("config.json: hidden_act '" + escapeForMessage(act) + "' is not supported (silu)");
  if (optionalNumber(j, "partial_rotary_factor", 1.0) != 1.0)
    throw ConfigError("config.json: partial_rotary_factor is not supported");
  if (optionalBool(j, "mlp_bias", false)) throw ConfigError("config.json: mlp_bias is not supported");

  if (c.model_type == "qwen2") {
    c.attention_bias = true;  // qwen2 always has q/k/v biases, never o_proj
    if (optionalBool(j, "use_sliding_window", false)) {
      c.sliding_window = optionalInt(j, "sliding_window", 0);
      c.window_first_layer = optionalInt(j, "max_window_layers", 0);
    }
  } else {
    c.attention_bias = optionalBool(j, "attention_bias", false);
    c.o_proj_bias = c.attention_bias;
    if (c.model_type == "mistral") c.sliding_window = optionalInt(j, "sliding_window", 0);
  }
}

}  // namespace config_parse

using namespace config_parse;

ModelConfig parseConfig(const std::string& json_text) {
  const json j = parseJsonOr<ConfigError>(json_text, "config.json");
  if (!j.is_object()) throw ConfigError("config.json: top level must be an object");
  ModelConfig c;
  c.json = json_text;
  c.model_type = optionalString(j, "model_type", "");
  if (c.model_type.empty()) throw ConfigError("config.json: missing key 'model_type'");
  if (c.model_type == "gpt2") {
    parseGpt2(j, c);
  } else if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2") {
    parseLlama(j, c);
  } else if (isNormsFamily(c.model_type)) {
    parseLlama(j, c);
    parseNormsFamily(j, c);
  } else if (c.model_type == "gpt_neox") {
    parseGptNeox(j, c);
  } else if (c.model_type == "phi3") {
    parsePhi3(j, c);
  } else {
    throw ConfigError("config.json: model_type '" + escapeForMessage(c.model_type) +
                      "' is not supported (supported: gpt2, llama, mistral, qwen2, qwen3, olmo2, gemma2, "
                      "gemma3_text, gpt_neox, phi3)");
  }
  parseLayerTypes(j, c);
  parseNopeLayers(j, c);
  refuseUnimplementedKeys(j, c);
  parseSsmax(j, c);
  c.torch_dtype = optionalString(j, "torch_dtype", "");
  if (minimumParameterCount(c) > kMaxParameterCount)
    throw ConfigError("config.json: the sizes imply more than " + withCommas(kMaxParameterCount) +
                      " parameters (2^40), the limit");
  return c;
}

ModelConfig loadConfig(const std::string& model_dir) {
  std::string path = model_dir + "/config.json";
  if (const std::string problem = modelFileProblem(model_dir, path); !problem.empty())
    throw ConfigError(problem);
  const std::string text = readFileOr<ConfigError>(path);
  try {
    return parseConfig(text);
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    // Name the file rather than the bare "config.json" so the user knows which directory is at fault.
    if (msg.rfind("config.json", 0) == 0) msg = path + msg.substr(std::string("config.json").size());
    throw ConfigError(msg);
  }
}

int64_t minimumParameterCount(const ModelConfig& c) {
  const auto mul = [](std::initializer_list<int64_t> factors) {
    int64_t out = 1;
    for (int64_t f : factors) out = saturatingMul(out, f);
    return out;
  };
  int64_t per_layer = 0, total = mul({c.vocab_size, c.d_model});
  if (c.arch == Architecture::Gpt2) {
    total = saturatingAdd(total, mul({c.n_ctx, c.d_model}));  // learned positions
    per_layer = saturatingAdd(mul({4, c.d_model, c.d_model}), mul({2, c.d_model, c.d_ff}));
  } else if (c.arch == Architecture::GptNeox) {  // fused q, k, v and dense; two MLP matrices
    per_layer = saturatingAdd(mul({4, c.d_model, c.d_model}), mul({2, c.d_model, c.d_ff}));
    if (!c.tie_word_embeddings) total = saturatingAdd(total, mul({c.vocab_size, c.d_model}));  // embed_out
  } else {
    const int64_t q_and_o = mul({2, c.d_model, c.n_head, c.d_head});
    const int64_t k_and_v = mul({2, c.d_model, c.n_kv_head, c.d_head});
    per_layer = saturatingAdd(saturatingAdd(q_and_o, k_and_v), mul({3, c.d_model, c.d_ff}));
    if (!c.tie_word_embeddings) total = saturatingAdd(total, mul({c.vocab_size, c.d_model}));  // lm_head
  }
  return saturatingAdd(total, mul({c.n_layer, per_layer}));
}

void requireWeightsFit(const ModelConfig& config, uint64_t checkpoint_bytes, const std::string& model_dir) {
  // 2 bytes per parameter: the smallest weight dtype accepted (F16, BF16).
  const uint64_t needed = 2 * static_cast<uint64_t>(minimumParameterCount(config));
  if (needed > checkpoint_bytes)
    throw ConfigError(model_dir + "/config.json: asks for at least " +
                      withCommas(static_cast<uint64_t>(minimumParameterCount(config))) + " parameters (" +
                      withCommas(needed) + " bytes in 16-bit) but the checkpoint holds " +
                      withCommas(checkpoint_bytes) + " bytes of tensors");
}

ModelConfig withRopeTheta(const ModelConfig& config, double rope_theta) {
  if (config.arch == Architecture::Gpt2)
    throw ConfigError("rope_theta: " + config.model_type + " has no rotary position embeddings");
  if (!(rope_theta > 1.0)) throw ConfigError("rope_theta must be > 1");
  json j = parseJsonOr<ConfigError>(config.json, "config.json");
  if (config.arch == Architecture::GptNeox) {  // GPT-NeoX's name for it; a rope_theta beside it must agree
    j["rotary_emb_base"] = rope_theta;
    if (j.contains("rope_theta")) j["rope_theta"] = rope_theta;
  } else {
    j["rope_theta"] = rope_theta;
  }
  return parseConfig(j.dump(2));
}

std::string withCommas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace attnscope
