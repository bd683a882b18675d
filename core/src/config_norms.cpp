// config.json of the Llama-family decoders with extra norms (qwen3, olmo2, gemma2, gemma3_text), layer_types,
// and the keys attnscope refuses rather than ignore. Defaults follow each family's configuration_*.py in
// Hugging Face transformers: a key a config leaves out means what transformers would make of it.

#include <algorithm>
#include <cmath>

#include "attnscope/untrusted_text.h"
#include "config_parse.h"

namespace attnscope::config_parse {
namespace {

bool given(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null();
}

/// A soft-capping value: absent means the family's default, null means none (0), otherwise a positive number.
double softcap(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_null()) return 0.0;
  const double cap = optionalNumber(j, key, 0.0);
  if (!(cap > 0.0) || !std::isfinite(cap))
    throw ConfigError(std::string("config.json: '") + key + "' must be a positive number or null");
  return cap;
}

/// The sliding window: the family's default when the key is absent, none (0) when it is null, as transformers
/// reads None.
int64_t slidingWindow(const json& j, int64_t fallback) {
  return j.contains("sliding_window") ? optionalInt(j, "sliding_window", 0) : fallback;
}

/// The context length a family assumes when config.json gives none; rope_scaling is read again against it.
void defaultContext(const json& j, ModelConfig& c, int64_t n_ctx) {
  if (given(j, "max_position_embeddings")) return;
  c.n_ctx = n_ctx;
  c.rope_scaling = parseRopeScaling(j, c.n_ctx);
}

void parseQwen3(const json& j, ModelConfig& c) {
  c.qk_norm = QkNorm::PerHead;
  if (!given(j, "head_dim")) c.d_head = 128;  // Qwen3Config's default, not hidden_size / heads
  defaultContext(j, c, 32768);
  // As Qwen3Config: the window exists only with use_sliding_window, on layers from max_window_layers on
  // (unless layer_types says otherwise).
  if (optionalBool(j, "use_sliding_window", false)) {
    c.sliding_window = slidingWindow(j, 4096);
    c.window_first_layer = optionalInt(j, "max_window_layers", 28);
  }
}

void parseOlmo2(const json& j, ModelConfig& c) {
  c.qk_norm = QkNorm::Whole;
  c.norm_layout = NormLayout::Post;
  c.norm_eps = optionalNumber(j, "rms_norm_eps", 1e-5);
}

void parseGemma(const json& j, ModelConfig& c) {
  const bool gemma3 = c.model_type == "gemma3_text";
  c.norm_layout = NormLayout::PrePost;
  c.norm_plus_one = true;
  c.embed_scaled = true;
  c.gelu_mlp = true;
  // Gemma 2 and 3 read hidden_activation; their configs may also carry hidden_act, which they ignore.
  const std::string act = optionalString(j, "hidden_activation", "gelu_pytorch_tanh");
  if (act != "gelu_pytorch_tanh" && act != "gelu_new")
    throw ConfigError("config.json: hidden_activation '" + escapeForMessage(act) +
                      "' is not supported (gelu_pytorch_tanh)");
  if (!given(j, "head_dim")) c.d_head = 256;
  c.tie_word_embeddings = optionalBool(j, "tie_word_embeddings", true);
  if (gemma3) c.rope_theta = optionalNumber(j, "rope_theta", 1000000.0);
  defaultContext(j, c, gemma3 ? 131072 : 8192);
  const double scalar = optionalNumber(j, "query_pre_attn_scalar", 256.0);
  if (!(scalar > 0.0) || !std::isfinite(scalar))
    throw ConfigError("config.json: 'query_pre_attn_scalar' must be a positive number");
  c.attn_scale = 1.0 / std::sqrt(scalar);
  c.attn_softcap = softcap(j, "attn_logit_softcapping", gemma3 ? 0.0 : 50.0);
  c.final_softcap = softcap(j, "final_logit_softcapping", gemma3 ? 0.0 : 30.0);
  c.sliding_window = slidingWindow(j, 4096);
  // Without layer_types, Gemma 2 alternates sliding and full layers (sliding first); Gemma 3 makes every
  // sliding_window_pattern-th layer full (5 local : 1 global by default).
  int64_t pattern = 2;
  if (gemma3) {
    c.qk_norm = QkNorm::PerHead;
    pattern = optionalInt(j, "sliding_window_pattern", 6);
    if (pattern < 1) throw ConfigError("config.json: 'sliding_window_pattern' must be a positive integer");
    c.rope_local_theta = optionalNumber(j, "rope_local_base_freq", 10000.0);
    if (!(c.rope_local_theta > 1.0)) throw ConfigError("config.json: 'rope_local_base_freq' must be > 1");
  }
  c.sliding_layers.assign(static_cast<std::size_t>(c.n_layer), false);
  for (int64_t i = 0; i < c.n_layer; ++i)
    c.sliding_layers[static_cast<std::size_t>(i)] = (i + 1) % pattern != 0;
}

/// A key attnscope refuses when it is set (not absent, null or false) for a model_type that does not
/// implement it.
struct UnimplementedKey {
  const char* key;
  const char* what;
  const char* implemented_by[2];  // the model_types that implement it (nullptr: none)
};

const UnimplementedKey kUnimplementedKeys[] = {
    {"quantization_config", "quantized weights", {nullptr, nullptr}},
    {"rope_parameters",
     "the transformers 5 form of rope_theta and rope_scaling; give those instead",
     {nullptr, nullptr}},
    {"use_bidirectional_attention", "non-causal attention", {nullptr, nullptr}},
    {"attn_logit_softcapping", "attention logit soft-capping", {"gemma2", "gemma3_text"}},
    {"final_logit_softcapping", "final logit soft-capping", {"gemma2", "gemma3_text"}},
    {"query_pre_attn_scalar", "a score scale other than 1/sqrt(head_dim)", {"gemma2", "gemma3_text"}},
    {"rope_local_base_freq", "a RoPE base for sliding layers", {"gemma3_text", nullptr}},
    {"sliding_window_pattern", "a local:global layer pattern", {"gemma3_text", nullptr}},
    {"use_qk_norm", "q/k norms", {nullptr, nullptr}},
    {"qk_layernorm", "q/k LayerNorms", {nullptr, nullptr}},
    {"clip_qkv", "clipped q, k and v", {nullptr, nullptr}},
    {"attention_multiplier", "a score multiplier", {nullptr, nullptr}},
    {"embedding_multiplier", "an embedding multiplier", {nullptr, nullptr}},
    {"residual_multiplier", "a residual multiplier", {nullptr, nullptr}},
    {"logits_scaling", "scaled logits", {nullptr, nullptr}},
    {"attention_chunk_size", "chunked attention", {nullptr, nullptr}},
    {"use_logn_attn", "log-n attention scaling (use --normalizer logn instead)", {nullptr, nullptr}},
};

}  // namespace

bool isGemmaFamily(const std::string& model_type) {
  return model_type == "gemma2" || model_type == "gemma3_text";
}

bool isNormsFamily(const std::string& model_type) {
  return model_type == "qwen3" || model_type == "olmo2" || isGemmaFamily(model_type);
}

void parseNormsFamily(const json& j, ModelConfig& c) {
  if (c.model_type == "qwen3") {
    parseQwen3(j, c);
  } else if (c.model_type == "olmo2") {
    parseOlmo2(j, c);
  } else {
    parseGemma(j, c);
  }
  if (c.d_head % 2 != 0) throw ConfigError("config.json: head dimension must be even for RoPE");
}

void parseLayerTypes(const json& j, ModelConfig& c) {
  auto it = j.find("layer_types");
  if (it == j.end() || it->is_null()) return;
  if (!it->is_array() || static_cast<int64_t>(it->size()) != c.n_layer)
    throw ConfigError("config.json: 'layer_types' must list one type per layer (num_hidden_layers " +
                      std::to_string(c.n_layer) + ")");
  // Llama itself has no layer_types; a llama config that gives them (attnscope's trainer writes such hybrid
  // layouts) gives its window too.
  if (c.model_type == "llama" && c.sliding_window == 0)
    c.sliding_window = optionalInt(j, "sliding_window", 0);
  std::vector<bool> sliding;
  for (const json& type : *it) {
    const std::string name = type.is_string() ? type.get<std::string>() : type.dump();
    if (name != "full_attention" && name != "sliding_attention")
      throw ConfigError("config.json: layer_types entry '" + escapeForMessage(name) +
                        "' is not supported (full_attention, sliding_attention)");
    sliding.push_back(name == "sliding_attention");
  }
  const bool any_sliding = std::find(sliding.begin(), sliding.end(), true) != sliding.end();
  if (any_sliding && c.sliding_window <= 0)
    throw ConfigError(
        "config.json: 'layer_types' has sliding_attention layers but the config sets no sliding "
        "window ('sliding_window'" +
        std::string(c.model_type.rfind("qwen", 0) == 0 ? " with use_sliding_window true)" : ")"));
  c.sliding_layers = sliding;
}

void parseNopeLayers(const json& j, ModelConfig& c) {
  auto it = j.find("no_rope_layers");
  if (it == j.end() || it->is_null()) return;
  if (c.arch != Architecture::Llama)
    throw ConfigError(
        "config.json: 'no_rope_layers' (layers without RoPE) is not implemented for model_type '" +
        escapeForMessage(c.model_type) + "'; attnscope refuses it rather than ignore it");
  if (!it->is_array() || static_cast<int64_t>(it->size()) != c.n_layer)
    throw ConfigError("config.json: 'no_rope_layers' must list one 0 or 1 per layer (num_hidden_layers " +
                      std::to_string(c.n_layer) + ")");
  std::vector<bool> nope;
  for (const json& flag : *it) {
    // As Llama 4: 1 means the layer uses RoPE, 0 that it is a NoPE layer.
    if (flag.is_boolean()) {
      nope.push_back(!flag.get<bool>());
    } else if (flag.is_number_integer() && (flag.get<int64_t>() == 0 || flag.get<int64_t>() == 1)) {
      nope.push_back(flag.get<int64_t>() == 0);
    } else {
      throw ConfigError("config.json: 'no_rope_layers' entries must be 0 (NoPE) or 1 (RoPE), not " +
                        escapeForMessage(flag.dump()));
    }
  }
  if (std::find(nope.begin(), nope.end(), true) != nope.end()) c.nope_layers = nope;
}

void refuseUnimplementedKeys(const json& j, const ModelConfig& c) {
  for (const UnimplementedKey& rule : kUnimplementedKeys) {
    auto it = j.find(rule.key);
    if (it == j.end() || it->is_null() || (it->is_boolean() && !it->get<bool>())) continue;
    bool implemented = false;
    for (const char* type : rule.implemented_by) implemented = implemented || (type && c.model_type == type);
    if (!implemented)
      throw ConfigError(std::string("config.json: '") + rule.key + "' (" + rule.what +
                        ") is not implemented for model_type '" + escapeForMessage(c.model_type) +
                        "'; attnscope refuses it rather than ignore it");
  }
}

}  // namespace attnscope::config_parse
