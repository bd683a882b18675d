#pragma once
// Internal: the building blocks every architecture shares (linear, embedding, norms), written so that a model
// can be built without allocating its weights and then point them at the memory-mapped checkpoint, and so
// that the weight matrices may be bfloat16 while activations, norms and the residual stream stay float32.

#include <torch/torch.h>

namespace attnscope {

/// How a module's parameters come into being.
struct ParamInit {
  /// true: real float32 tensors (random init or training follows); false: placeholders of the right shape and
  /// dtype that own no memory, for Model::loadWeights to replace with the checkpoint's tensors.
  bool allocate = true;
  /// dtype of the weight matrices and projection biases (float32 or bfloat16); norms are always float32.
  torch::ScalarType matrix_dtype = torch::kFloat32;
  /// The decoder layer the parameters belong to (set by each architecture's layer loop; -1 outside layers),
  /// for per-layer choices such as which layers carry learned SSMax.
  int64_t layer = -1;

  /// Returns these settings for the parameters of decoder layer `index`.
  ParamInit forLayer(int64_t index) const {
    ParamInit init = *this;
    init.layer = index;
    return init;
  }

  /// A new matrix-class parameter (projection, embedding, head) of this shape.
  /// Its values are left unset: Model initialises matrices randomly or loads them.
  torch::Tensor matrix(c10::IntArrayRef shape) const;
  /// A new float32 vector parameter (norm weight or bias) filled with `value`.
  torch::Tensor vector(int64_t size, double value) const;
};

/// Returns whether a parameter is a placeholder from ParamInit{allocate = false}: its storage is smaller than
/// its shape needs.
bool isPlaceholder(const torch::Tensor& parameter);

/// x · Wᵀ (+ b) for float32 activations x [..., in] and W [out, in] of the compute dtype; the product runs in
/// W's dtype and the result comes back as float32. With float32 weights it is exactly torch::linear.
torch::Tensor project(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias = {});

/// A dense layer y = x Wᵀ + b (HF nn.Linear; parameters "weight" [out, in] and "bias" [out]).
struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t n_in, int64_t n_out, bool with_bias, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& x) { return project(x, weight, bias); }
  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

/// A token-embedding table [vocab, d] (parameter "weight"); rows come back as float32.
struct EmbeddingImpl : torch::nn::Module {
  EmbeddingImpl(int64_t n_rows, int64_t dim, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& ids);
  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

/// LayerNorm over the last dimension (parameters "weight", "bias").
struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(int64_t dim, double eps, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  int64_t dim;
  double eps;
};
TORCH_MODULE(LayerNorm);

/// RMSNorm x / sqrt(mean(x²) + eps) · weight (parameter "weight"), or · (1 + weight) with plus_one (Gemma,
/// whose weights are stored around 0 and start at 0). x is float32, so the norm runs in float32.
struct RmsNormImpl : torch::nn::Module {
  RmsNormImpl(int64_t dim, double eps, const ParamInit& init, bool plus_one = false);
  torch::Tensor forward(const torch::Tensor& x) {
    auto normed = x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps);
    return plus_one ? normed * (weight + 1.0) : normed * weight;
  }
  torch::Tensor weight;
  double eps;
  bool plus_one;
};
TORCH_MODULE(RmsNorm);

/// Returns x + f(x) for a position-wise sublayer f (norm and MLP), computed over slices of at most `block`
/// positions of x [B, T, d] so that f's [B, block, d_ff] intermediates stay bounded whatever T is.
torch::Tensor addPositionwise(const torch::Tensor& x, int64_t block,
                              const std::function<torch::Tensor(const torch::Tensor&)>& f);

/// Returns the positions per slice for addPositionwise under a bound on one fp32 [B, slice, width] tensor.
int64_t positionBlock(int64_t batch, int64_t width, int64_t max_bytes);

}  // namespace attnscope
