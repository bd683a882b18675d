#pragma once
// Model configuration read from a Hugging Face config.json. No torch in this header.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnscope {

/// Thrown for a config.json that is missing, malformed or asks for something attnscope does not implement.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Largest value accepted for any size or count in config.json (vocabulary, widths, layers, heads, context,
/// window): 2^24, above every released model and small enough that a product of two never overflows int64.
constexpr int64_t kMaxConfigDimension = int64_t{1} << 24;
/// Most parameters a config.json may imply (minimumParameterCount): 2^40, about 1.1 trillion.
constexpr int64_t kMaxParameterCount = int64_t{1} << 40;

enum class Architecture { Gpt2, Llama, GptNeox, Phi3 };

/// Returns the family's display name ("GPT-2", "Llama", "GPT-NeoX", "Phi-3").
const char* architectureName(Architecture arch);

/// Normalisation of q and k before RoPE: none (llama), RMSNorm over each head's d_head (qwen3, gemma3) or
/// over the whole projection before the heads are split (olmo2).
enum class QkNorm { None, PerHead, Whole };

/// Where a decoder block's RMSNorms sit: before attention and MLP (llama, qwen3), on their outputs only
/// (olmo2), or both (gemma2, gemma3).
enum class NormLayout { Pre, Post, PrePost };

/// RoPE frequency scaling, as in transformers' modeling_rope_utils.
struct RopeScaling {
  std::string type = "default";  // default, linear, dynamic, llama3, yarn, longrope
  double factor = 1.0;
  double low_freq_factor = 1.0;                  // llama3
  double high_freq_factor = 4.0;                 // llama3
  int64_t original_max_position_embeddings = 0;  // llama3, yarn (0: use max_position_embeddings)
  double beta_fast = 32.0;                       // yarn
  double beta_slow = 1.0;                        // yarn
  std::optional<double> attention_factor;        // yarn (default 0.1 ln(factor) + 1), longrope
  // longrope (phi3): per-frequency divisors [rotary dims / 2], the long ones for sequences longer than
  // original_max_position_embeddings
  std::vector<double> short_factor, long_factor;
};

/// Everything the model code needs from config.json, in one naming scheme for every architecture.
struct ModelConfig {
  std::string model_type;  // as written in config.json: gpt2, llama, qwen2, qwen3, olmo2, gemma2, ...
  Architecture arch = Architecture::Llama;
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_kv_head = 0;
  int64_t d_head = 0;
  int64_t d_ff = 0;
  int64_t n_ctx = 0;  // max_position_embeddings / n_positions
  double norm_eps = 1e-5;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q, k, v (and o for llama) projection biases
  bool o_proj_bias = false;
  // Llama family
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t sliding_window = 0;      // 0: none
  int64_t window_first_layer = 0;  // sliding window applies to layers >= this (qwen2 max_window_layers)
  // Newer Llama-family features (qwen3, olmo2, gemma2, gemma3_text); the defaults are Llama's.
  QkNorm qk_norm = QkNorm::None;
  NormLayout norm_layout = NormLayout::Pre;
  bool norm_plus_one = false;     // gemma: RMSNorm scales by (1 + weight), computed in float32
  bool gelu_mlp = false;          // gemma: gated MLP with GELU (tanh approximation) instead of SiLU
  bool embed_scaled = false;      // gemma: embeddings times sqrt(d_model), rounded to torch_dtype
  double attn_scale = 0.0;        // score scale; 0: 1/sqrt(d_head) (gemma: query_pre_attn_scalar^-0.5)
  double attn_softcap = 0.0;      // gemma: scores become cap·tanh(z/cap) before the normalizer; 0: none
  double final_softcap = 0.0;     // gemma: logits become cap·tanh(l/cap); 0: none
  double rope_local_theta = 0.0;  // gemma3: RoPE base of sliding layers, never scaled; 0: as full layers
  /// layer_types: true where a layer is "sliding_attention"; empty when the config gives none (then
  /// window_first_layer decides).
  std::vector<bool> sliding_layers;
  int64_t rotary_dim = 0;  // leading dimensions of each head that RoPE rotates; 0: all of d_head
  /// no_rope_layers (Llama 4's key, any Llama-family model may carry it): true where a layer uses no position
  /// encoding at all (NoPE); empty: every layer rotates.
  std::vector<bool> nope_layers;
  // GPT-NeoX
  bool parallel_residual = false;  // x + attn(ln1(x)) + mlp(ln2(x)) instead of two residual steps
  std::string hidden_act;          // MLP activation as config.json names it, where the family lets it vary
  // SSMax learned in training (config "attention_normalizer": "ssmax")
  bool ssmax_learned = false;
  bool ssmax_bias = false;
  /// ssmax_layers: the layers that carry learned SSMax parameters (the others attend with softmax); empty:
  /// all.
  std::vector<bool> ssmax_layers;
  std::string torch_dtype;  // informational
  std::string json;         // the config.json text as read

  /// Returns whether a layer is a sliding-window layer (layer_types, else from window_first_layer on).
  bool isSlidingLayer(int64_t layer) const {
    if (!sliding_layers.empty()) return sliding_layers.at(static_cast<std::size_t>(layer));
    return sliding_window > 0 && layer >= window_first_layer;
  }
  /// Returns the sliding window of a layer, or 0 when the layer attends to every earlier key.
  int64_t windowOf(int64_t layer) const { return isSlidingLayer(layer) ? sliding_window : 0; }
  /// Returns whether a layer rotates q and k by position (false for NoPE layers and architectures without
  /// RoPE are not asked).
  bool usesRope(int64_t layer) const {
    return nope_layers.empty() || !nope_layers.at(static_cast<std::size_t>(layer));
  }
  /// Returns whether a layer has learned SSMax parameters (s, and b with ssmax_bias).
  bool hasLearnedSsmax(int64_t layer) const {
    return ssmax_learned && (ssmax_layers.empty() || ssmax_layers.at(static_cast<std::size_t>(layer)));
  }
  /// Returns how many leading dimensions of each head RoPE rotates (partial rotary); the rest pass unchanged.
  int64_t rotaryDim() const { return rotary_dim > 0 ? rotary_dim : d_head; }
};

/// Returns the architecture-specific features a config turns on, one short phrase each ("partial rotary: 32
/// of 128 head dims", "parallel residual", ...), for `info`; empty for a plain model of its family.
std::vector<std::string> architectureFeatures(const ModelConfig& config);

/// Formats a count with thousands separators ("494,032,768"), for sizes in messages and summaries.
std::string withCommas(uint64_t n);

/// Parses a config.json text; throws ConfigError with a one-line message naming the key at fault.
ModelConfig parseConfig(const std::string& json_text);
/// Reads and parses <model_dir>/config.json.
ModelConfig loadConfig(const std::string& model_dir);
/// Returns a lower bound on the model's parameter count: the embeddings and every block's weight matrices
/// (biases, norms and SSMax scalars left out, so it stays a bound whatever else a model adds); saturates at
/// INT64_MAX instead of overflowing.
int64_t minimumParameterCount(const ModelConfig& config);
/// Throws ConfigError when the weights the config asks for cannot fit in checkpoint_bytes even at 2 bytes per
/// parameter: checked before the model is built, so an absurd config fails at once instead of allocating.
void requireWeightsFit(const ModelConfig& config, uint64_t checkpoint_bytes, const std::string& model_dir);
/// Returns the config with rope_theta replaced in the fields and the JSON text alike (e.g. raised at
/// evaluation); throws ConfigError for an architecture without RoPE.
ModelConfig withRopeTheta(const ModelConfig& config, double rope_theta);

}  // namespace attnscope
