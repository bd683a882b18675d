#pragma once
// Internal: the config.json readers config.cpp defines, shared with the parsers of each family
// (config_norms.cpp, config_fused.cpp). Every reader throws ConfigError naming the key at fault.

#include <string>

#include <nlohmann/json.hpp>

#include "attnscope/config.h"

namespace attnscope::config_parse {

using nlohmann::json;

/// Reads a required positive integer of at most kMaxConfigDimension.
int64_t requireInt(const json& j, const char* key);
/// Reads an optional non-negative integer of at most kMaxConfigDimension; fallback when absent or null.
int64_t optionalInt(const json& j, const char* key, int64_t fallback);
double optionalNumber(const json& j, const char* key, double fallback);
bool optionalBool(const json& j, const char* key, bool fallback);
std::string optionalString(const json& j, const char* key, const std::string& fallback);
/// Reads the sizes every Llama-style decoder config gives (vocab, hidden, layers, heads, kv heads,
/// intermediate, context, rms_norm_eps, tied head), with the family's defaults for context and epsilon.
void parseDecoderSizes(const json& j, ModelConfig& c, int64_t default_ctx, double default_eps);
/// Reads rope_scaling (null or absent: "default").
RopeScaling parseRopeScaling(const json& j, int64_t n_ctx);

/// Returns whether a model_type is one config_norms.cpp parses (qwen3, olmo2, gemma2, gemma3_text).
bool isNormsFamily(const std::string& model_type);
/// Returns whether a model_type is Gemma 2 or Gemma 3 (text).
bool isGemmaFamily(const std::string& model_type);
/// Reads what qwen3, olmo2, gemma2 and gemma3_text add to the Llama keys parseLlama has read.
void parseNormsFamily(const json& j, ModelConfig& c);
/// Reads a gpt_neox (Pythia) config: LayerNorm with biases, fused per-head query_key_value, rotary_pct of
/// each head rotated with base rotary_emb_base, GELU MLP with biases, untied embed_out.
void parseGptNeox(const json& j, ModelConfig& c);
/// Reads a phi3 config: the Llama block with fused qkv_proj and gate_up_proj, partial_rotary_factor, longrope
/// scaling and one sliding window for every layer when sliding_window is set.
void parsePhi3(const json& j, ModelConfig& c);
/// Reads layer_types (one "full_attention" or "sliding_attention" per layer) into c.sliding_layers.
void parseLayerTypes(const json& j, ModelConfig& c);
/// Reads no_rope_layers (Llama 4's form: one 1 for a RoPE layer or 0 for a NoPE layer, per layer) into
/// c.nope_layers, for the Llama family; refuses it elsewhere.
void parseNopeLayers(const json& j, ModelConfig& c);
/// Throws ConfigError for a key that would change the computation in a way attnscope does not implement for
/// this model_type (soft-capping outside Gemma, quantization, bidirectional attention, ...).
void refuseUnimplementedKeys(const json& j, const ModelConfig& c);

}  // namespace attnscope::config_parse
