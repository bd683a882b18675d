// GPT-NeoX (Pythia) and Phi-3 configs: the families with fused projections and partial rotary embeddings.

#include <algorithm>
#include <cmath>

#include "attnscope/untrusted_text.h"
#include "config_parse.h"

namespace attnscope::config_parse {
namespace {

/// Returns the leading head dimensions RoPE rotates for a fraction of d_head, as HF's int(d_head * fraction).
int64_t partialRotaryDim(double fraction, int64_t d_head, const char* key) {
  if (!(fraction > 0.0 && fraction <= 1.0))
    throw ConfigError(std::string("config.json: '") + key + "' must be a number in (0, 1]");
  const auto dim = static_cast<int64_t>(static_cast<double>(d_head) * fraction);
  if (dim < 2 || dim % 2 != 0)
    throw ConfigError(std::string("config.json: '") + key + "' gives " + std::to_string(dim) + " of " +
                      std::to_string(d_head) + " head dimensions to rotate; RoPE needs an even number >= 2");
  return dim;
}

/// Reads a number that two key names may give (an old and a new spelling); both present must agree.
double numberUnderTwoNames(const json& j, const char* key, const char* alias, double fallback) {
  const double value = optionalNumber(j, key, optionalNumber(j, alias, fallback));
  if (j.contains(key) && j.contains(alias) && !j[alias].is_null() && optionalNumber(j, alias, 0.0) != value)
    throw ConfigError(std::string("config.json: '") + alias + "' disagrees with '" + key + "'");
  return value;
}

/// Reads a list of numbers of a given length (longrope's short_factor / long_factor).
std::vector<double> numberList(const json& r, const char* key, std::size_t length) {
  auto it = r.find(key);
  if (it == r.end() || it->is_null())
    throw ConfigError(std::string("config.json: rope_scaling longrope needs '") + key + "'");
  if (!it->is_array() || it->size() != length)
    throw ConfigError(std::string("config.json: rope_scaling '") + key + "' must be a list of " +
                      std::to_string(length) + " numbers (rotary dimensions / 2)");
  std::vector<double> out;
  for (const json& v : *it) {
    if (!v.is_number() || !(v.get<double>() > 0.0))
      throw ConfigError(std::string("config.json: rope_scaling '") + key + "' must hold positive numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

/// Phi-3's rope_scaling, as configuration_phi3.py and modeling_rope_utils' longrope: none, or longrope (older
/// name "su") with short and long factors, the scaling factor max_position_embeddings /
/// original_max_position_embeddings and its attention factor.
RopeScaling parsePhi3RopeScaling(const json& j, const ModelConfig& c) {
  RopeScaling rs;
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return rs;
  if (!it->is_object()) throw ConfigError("config.json: 'rope_scaling' must be an object");
  const json& r = *it;
  const std::string type = optionalString(r, "rope_type", optionalString(r, "type", "default"));
  if (type == "default") return rs;
  // Phi3Config renames "yarn" to longrope too, but transformers 4.4x scaled it by 0.1 ln(factor) + 1, not by
  // longrope's factor: refused rather than guessed.
  if (type != "longrope" && type != "su")
    throw ConfigError("config.json: phi3 rope_scaling type '" + escapeForMessage(type) +
                      "' is not supported (longrope, su)");
  for (const auto& item : r.items()) {
    static const char* known[] = {"type",
                                  "rope_type",
                                  "short_factor",
                                  "long_factor",
                                  "factor",
                                  "attention_factor",
                                  "original_max_position_embeddings"};
    if (std::find(std::begin(known), std::end(known), item.key()) == std::end(known))
      throw ConfigError("config.json: rope_scaling key '" + escapeForMessage(item.key()) +
                        "' is not supported for longrope");
  }
  rs.type = "longrope";
  const auto half = static_cast<std::size_t>(c.rotaryDim() / 2);
  rs.short_factor = numberList(r, "short_factor", half);
  rs.long_factor = numberList(r, "long_factor", half);
  // The pretraining context: Phi3Config's top-level key (default 4096), or the one newer configs nest here.
  const int64_t top = optionalInt(j, "original_max_position_embeddings", 4096);
  rs.original_max_position_embeddings = optionalInt(r, "original_max_position_embeddings", top);
  if (j.contains("original_max_position_embeddings") && rs.original_max_position_embeddings != top)
    throw ConfigError(
        "config.json: rope_scaling 'original_max_position_embeddings' disagrees with the top level");
  if (rs.original_max_position_embeddings < 2)
    throw ConfigError("config.json: 'original_max_position_embeddings' must be >= 2");
  rs.factor = static_cast<double>(c.n_ctx) / static_cast<double>(rs.original_max_position_embeddings);
  // transformers 4.4x derives the factor from the two contexts whatever rope_scaling says, later versions
  // prefer rope_scaling's: refuse a config on which they would disagree.
  if (r.contains("factor") && !r["factor"].is_null() && optionalNumber(r, "factor", 0.0) != rs.factor)
    throw ConfigError(
        "config.json: rope_scaling 'factor' differs from max_position_embeddings / "
        "original_max_position_embeddings");
  if (r.contains("attention_factor") && !r["attention_factor"].is_null()) {
    rs.attention_factor = optionalNumber(r, "attention_factor", 1.0);
    if (!(*rs.attention_factor > 0.0))
      throw ConfigError("config.json: rope_scaling 'attention_factor' must be > 0");
  } else {
    rs.attention_factor =
        rs.factor <= 1.0
            ? 1.0
            : std::sqrt(1.0 + std::log(rs.factor) /
                                  std::log(static_cast<double>(rs.original_max_position_embeddings)));
  }
  return rs;
}

}  // namespace

/// GPT-NeoX (Pythia), as configuration_gpt_neox.py: LayerNorm with biases, fused per-head query_key_value,
/// rotary_pct of each head rotated with base rotary_emb_base, GELU MLP with biases, untied embed_out.
void parseGptNeox(const json& j, ModelConfig& c) {
  c.arch = Architecture::GptNeox;
  c.vocab_size = requireInt(j, "vocab_size");
  c.d_model = requireInt(j, "hidden_size");
  c.n_layer = requireInt(j, "num_hidden_layers");
  c.n_head = requireInt(j, "num_attention_heads");
  c.n_kv_head = c.n_head;
  c.d_ff = requireInt(j, "intermediate_size");
  c.n_ctx = optionalInt(j, "max_position_embeddings", 2048);
  c.norm_eps = optionalNumber(j, "layer_norm_eps", 1e-5);
  c.tie_word_embeddings = optionalBool(j, "tie_word_embeddings", false);
  c.attention_bias = optionalBool(j, "attention_bias", true);  // query_key_value and dense alike
  c.o_proj_bias = c.attention_bias;
  c.parallel_residual = optionalBool(j, "use_parallel_residual", true);
  if (c.d_model % c.n_head != 0)
    throw ConfigError("config.json: hidden_size must be divisible by num_attention_heads");
  c.d_head = c.d_model / c.n_head;
  // Saved by transformers 4.4x, a config carries both spellings (rope_theta = rotary_emb_base, ...).
  c.rope_theta = numberUnderTwoNames(j, "rotary_emb_base", "rope_theta", 10000.0);
  if (!(c.rope_theta > 1.0)) throw ConfigError("config.json: 'rotary_emb_base' must be > 1");
  c.rotary_dim = partialRotaryDim(numberUnderTwoNames(j, "rotary_pct", "partial_rotary_factor", 0.25),
                                  c.d_head, "rotary_pct");
  c.rope_scaling = parseRopeScaling(j, c.n_ctx);
  c.hidden_act = optionalString(j, "hidden_act", "gelu");
  if (c.hidden_act != "gelu" && c.hidden_act != "gelu_new" && c.hidden_act != "gelu_fast" &&
      c.hidden_act != "gelu_pytorch_tanh")
    throw ConfigError("config.json: hidden_act '" + escapeForMessage(c.hidden_act) +
                      "' is not supported (gelu, gelu_new, gelu_fast, gelu_pytorch_tanh)");
}

/// Phi-3 (and Phi-4-mini, model_type phi3), as configuration_phi3.py / modeling_phi3.py: the Llama block with
/// fused qkv_proj and gate_up_proj, partial_rotary_factor, longrope scaling and one sliding window for every
/// layer when sliding_window is set.
void parsePhi3(const json& j, ModelConfig& c) {
  c.arch = Architecture::Phi3;
  parseDecoderSizes(j, c, 4096, 1e-5);
  if (c.d_model % c.n_head != 0)
    throw ConfigError("config.json: hidden_size must be divisible by num_attention_heads");
  c.d_head = c.d_model / c.n_head;
  // The attention reads head_dim but longrope's frequencies hidden_size / heads: only equal ones are safe.
  if (optionalInt(j, "head_dim", c.d_head) != c.d_head)
    throw ConfigError(
        "config.json: phi3 'head_dim' other than hidden_size / num_attention_heads is not supported");
  c.rope_theta = optionalNumber(j, "rope_theta", 10000.0);
  if (!(c.rope_theta > 1.0)) throw ConfigError("config.json: 'rope_theta' must be > 1");
  c.rotary_dim =
      partialRotaryDim(optionalNumber(j, "partial_rotary_factor", 1.0), c.d_head, "partial_rotary_factor");
  c.rope_scaling = parsePhi3RopeScaling(j, c);
  c.sliding_window = optionalInt(j, "sliding_window", 0);  // every layer (modeling_phi3 masks them all)
  c.hidden_act = optionalString(j, "hidden_act", "silu");
  if (c.hidden_act != "silu")
    throw ConfigError("config.json: hidden_act '" + escapeForMessage(c.hidden_act) +
                      "' is not supported (silu)");
}

}  // namespace attnscope::config_parse
