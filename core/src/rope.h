#pragma once
// Internal: rotary position embeddings in Hugging Face's rotate-half layout, with rope_scaling variants and
// partial rotary (only the first rotaryDim() dimensions of each head turn; the rest pass unchanged).

#include <torch/torch.h>

#include "attnscope/config.h"

namespace attnscope {

class Rope {
 public:
  explicit Rope(const ModelConfig& config);
  /// Returns cos and sin [T, rotary dim] for positions 0..T-1 (attention factor applied).
  std::pair<torch::Tensor, torch::Tensor> cosSin(int64_t n_pos);
  /// Returns cos and sin [count, rotary dim] for positions first..first+count-1, the rows of cosSin(first +
  /// count): a cached pass's new tokens. (dynamic and longrope then pick frequencies by the total length, as
  /// transformers does with a cache, so earlier cached keys may have turned by others.)
  std::pair<torch::Tensor, torch::Tensor> cosSinAt(int64_t first, int64_t count);
  /// Returns cos and sin for explicit positions: [T, rotary dim] for positions [T], [B, 1, T, rotary dim] for
  /// [B, T] (broadcasting over heads). Frequencies that depend on the length use max(positions) + 1.
  std::pair<torch::Tensor, torch::Tensor> cosSinOf(const torch::Tensor& positions) const;
  /// Rotates the first cos.size(-1) dimensions of x [B, heads, T, d_head] by the given cos/sin; the others
  /// pass unchanged (partial rotary).
  static torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
  /// Returns the inverse frequencies [rotary dim / 2] for a sequence of n_pos positions (dynamic scaling and
  /// longrope's choice between short and long factors depend on it).
  std::vector<double> inverseFrequencies(int64_t n_pos) const;

 private:
  /// Returns which frequencies a sequence of n_pos positions gets, for the cache: 0 unless they depend on it.
  int64_t frequencySet(int64_t n_pos) const;

  ModelConfig m_config;
  double m_attention_factor = 1.0;
  int64_t m_cached_len = -1;
  bool m_depends_on_len = false;
  torch::Tensor m_cos, m_sin;
};

}  // namespace attnscope
