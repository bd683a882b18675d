#pragma once
// Internal: blocked, observable scaled-dot-product attention with a pluggable normalizer.

#include <torch/torch.h>

#include "transformer.h"

namespace attnscope {

struct LayerAttention {
  int64_t layer = 0;
  int64_t window = 0;     // sliding window, 0 for none
  torch::Tensor ssmax_s;  // learned [n_head] or undefined
  torch::Tensor ssmax_b;  // learned [n_head] or undefined
  double scale = 0.0;     // z = scale · q·k; 0: 1/sqrt(d_head)
  double softcap = 0.0;   // > 0: z becomes softcap · tanh(z / softcap) before the normalizer (Gemma 2)
};

/// Returns the attention output [B, T, H·d_head] for q [B, H, T, d] and k, v [B, Hkv, N, d] (causal), N >= T:
/// the queries are the last T of the N positions (N > T when earlier keys come from a cache). Computes
/// queries in blocks and fires the attention hooks of this layer with absolute positions.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const LayerAttention& layer, const ForwardContext& ctx);

/// Returns the keys and values attention reads for this pass's k, v [B, Hkv, T, d]: with a cache in ctx,
/// every cached one after appending these ([B, Hkv, n_past + T, d]); else k and v themselves. Values come
/// back in ctx.matrix_dtype, the dtype attention multiplies them in.
std::pair<torch::Tensor, torch::Tensor> layerKeysValues(const torch::Tensor& k, const torch::Tensor& v,
                                                        int64_t layer, const ForwardContext& ctx);

/// Returns the query-block size for T keys under the options' memory bound.
int64_t queryBlockSize(int64_t batch, int64_t n_head, int64_t n_keys, const AttentionOptions& options);

}  // namespace attnscope
