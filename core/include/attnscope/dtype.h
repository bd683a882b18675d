#pragma once
// The precision a model computes in, chosen per run. No torch in this header, so the GUI can offer the
// choice.

#include <string>
#include <vector>

namespace attnscope {

/// Precision of the linear layers (projections, MLP, embeddings, output head). Attention scores, the
/// normalizer's multiplier, the softmax, the norms, the residual stream and every statistic and stored map
/// are float32 whatever this is.
enum class ComputeDtype {
  Auto,      // the checkpoint's own: bfloat16 for BF16 and F16 weights, float32 for F32 weights
  Float32,   // float32 weights (a float32 copy of 16-bit checkpoints: twice their size in memory)
  BFloat16,  // bfloat16 weights (BF16 checkpoints used in place, others converted once)
};

/// Returns "auto", "float32" or "bfloat16".
const char* computeDtypeName(ComputeDtype dtype);
/// Every accepted name, in the order a chooser lists them.
std::vector<std::string> computeDtypeNames();
/// Parses a name from computeDtypeNames() (also "fp32", "bf16"); throws std::invalid_argument.
ComputeDtype parseComputeDtype(const std::string& name);

}  // namespace attnscope
