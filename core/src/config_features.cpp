// What `info` says about a config beyond its sizes: the family's name and the features it turns on.

#include <cstdio>

#include "attnscope/config.h"

namespace attnscope {
namespace {

/// Returns the layers where the layer type is (or is not) sliding, as ranges: "0-4, 6-10, 12".
/// Returns the layers where has(layer) equals want, as ranges ("0-2, 5"), or "none".
template <typename Has>
std::string layerRanges(const ModelConfig& c, bool want, Has has) {
  std::string text;
  for (int64_t l = 0; l < c.n_layer; ++l) {
    if (has(l) != want) continue;
    int64_t last = l;
    while (last + 1 < c.n_layer && has(last + 1) == want) ++last;
    text += (text.empty() ? "" : ", ") + std::to_string(l) + (last > l ? "-" + std::to_string(last) : "");
    l = last;
  }
  return text.empty() ? "none" : text;
}

std::string capText(double cap) {
  if (cap <= 0) return "none";
  char text[64];
  std::snprintf(text, sizeof text, "%g x tanh(x / %g)", cap, cap);
  return text;
}

}  // namespace

const char* architectureName(Architecture arch) {
  switch (arch) {
    case Architecture::Gpt2:
      return "GPT-2";
    case Architecture::Llama:
      return "Llama";
    case Architecture::GptNeox:
      return "GPT-NeoX";
    case Architecture::Phi3:
      return "Phi-3";
  }
  return "unknown";
}

std::vector<std::string> architectureFeatures(const ModelConfig& c) {
  std::vector<std::string> features;
  char buf[200];
  if (c.arch == Architecture::GptNeox) features.push_back("fused query_key_value (per head: q, k, v)");
  if (c.arch == Architecture::Phi3) features.push_back("fused qkv_proj and gate_up_proj");
  if (c.arch != Architecture::Gpt2 && c.rotaryDim() < c.d_head) {
    std::snprintf(buf, sizeof buf, "partial rotary: first %lld of %lld head dims rotated, the rest unchanged",
                  static_cast<long long>(c.rotaryDim()), static_cast<long long>(c.d_head));
    features.push_back(buf);
  }
  if (c.arch == Architecture::GptNeox) {
    features.push_back(c.parallel_residual ? "parallel residual: x + attn(ln1(x)) + mlp(ln2(x))"
                                           : "sequential residual: attention, then MLP");
    features.push_back("MLP activation " + c.hidden_act +
                       (c.hidden_act == "gelu" ? " (exact, erf)" : " (tanh)"));
    features.push_back(c.tie_word_embeddings ? "embed_out tied to embed_in" : "untied embed_out");
  }
  // What qwen3, olmo2, gemma2 and gemma3_text add to the Llama block.
  if (c.qk_norm != QkNorm::None)
    features.push_back(std::string("q/k norms: RMSNorm") + (c.norm_plus_one ? " (1 + w)" : "") +
                       (c.qk_norm == QkNorm::PerHead ? " per head over the head dim"
                                                     : " over the whole q and k projections") +
                       ", before RoPE");
  if (c.norm_layout == NormLayout::Post)
    features.push_back("block norms on the attention and MLP outputs only (none on their inputs)");
  if (c.norm_layout == NormLayout::PrePost) {
    std::snprintf(buf, sizeof buf,
                  "block norms: (1 + w) RMSNorm before and after attention and MLP; embeddings x sqrt(%lld)",
                  static_cast<long long>(c.d_model));
    features.push_back(buf);
  }
  if (c.attn_scale > 0) {
    std::snprintf(buf, sizeof buf, "scores z = q.k x %g (query_pre_attn_scalar %g)", c.attn_scale,
                  1.0 / (c.attn_scale * c.attn_scale));
    features.push_back(buf);
  }
  if (c.attn_softcap > 0 || c.final_softcap > 0)
    features.push_back("soft-capping: scores " + capText(c.attn_softcap) + "; logits " +
                       capText(c.final_softcap));
  auto sliding = [&](int64_t l) { return c.isSlidingLayer(l); };
  if (!c.nope_layers.empty()) {
    auto rope = [&](int64_t l) { return c.usesRope(l); };
    features.push_back("no position encoding (NoPE) on layers " + layerRanges(c, false, rope) + "; RoPE on " +
                       layerRanges(c, true, rope));
  }
  if (!c.ssmax_layers.empty()) {
    auto ssmax = [&](int64_t l) { return c.hasLearnedSsmax(l); };
    features.push_back("learned SSMax on layers " + layerRanges(c, true, ssmax) + "; softmax on " +
                       layerRanges(c, false, ssmax));
  }
  if (c.sliding_window > 0 || !c.sliding_layers.empty()) {
    features.push_back("layer types: sliding (window " + std::to_string(c.sliding_window) + ") on " +
                       layerRanges(c, true, sliding) + "; full on " + layerRanges(c, false, sliding));
    if (c.rope_local_theta > 0) {
      std::snprintf(buf, sizeof buf, "local RoPE: theta %g, no scaling, on sliding layers",
                    c.rope_local_theta);
      features.push_back(buf);
    }
  }
  if (c.gelu_mlp) features.push_back("MLP: gated, GELU (tanh approximation)");
  if (c.rope_scaling.type == "longrope") {
    const RopeScaling& rs = c.rope_scaling;
    std::snprintf(buf, sizeof buf,
                  "longrope: short factors up to %lld tokens, long factors beyond; attention factor %.6g "
                  "(scaling factor %g)",
                  static_cast<long long>(rs.original_max_position_embeddings),
                  rs.attention_factor.value_or(1.0), rs.factor);
    features.push_back(buf);
  }
  return features;
}

}  // namespace attnscope
