// What `info` says about a config beyond its sizes: the family's name and the features it turns on.

#include <cstdio>

#include "attnscope/config.h"

namespace attnscope {

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
