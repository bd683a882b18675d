#include "layers.h"

namespace attnscope {

namespace {

// One element broadcast to the shape: the sizes say what the checkpoint must hold, at no memory cost.
torch::Tensor placeholder(c10::IntArrayRef shape, torch::ScalarType dtype) {
  return torch::empty({}, torch::TensorOptions().dtype(dtype)).expand(shape);
}

}  // namespace

torch::Tensor ParamInit::matrix(c10::IntArrayRef shape) const {
  return allocate ? torch::empty(shape, torch::kFloat32) : placeholder(shape, matrix_dtype);
}

torch::Tensor ParamInit::vector(int64_t size, double value) const {
  return allocate ? torch::full({size}, value, torch::kFloat32) : placeholder({size}, torch::kFloat32);
}

bool isPlaceholder(const torch::Tensor& parameter) {
  return parameter.numel() > 1 && parameter.storage().nbytes() <
                                      static_cast<std::size_t>(parameter.numel()) * parameter.element_size();
}

torch::Tensor project(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (weight.scalar_type() == x.scalar_type()) return torch::linear(x, weight, bias);
  return torch::linear(x.to(weight.scalar_type()), weight, bias).to(x.scalar_type());
}

LinearImpl::LinearImpl(int64_t n_in, int64_t n_out, bool with_bias, const ParamInit& init)
    : weight(register_parameter("weight", init.matrix({n_out, n_in}))) {
  if (with_bias) bias = register_parameter("bias", init.matrix({n_out}));
}

EmbeddingImpl::EmbeddingImpl(int64_t n_rows, int64_t dim, const ParamInit& init)
    : weight(register_parameter("weight", init.matrix({n_rows, dim}))) {}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) {
  auto rows = torch::embedding(weight, ids);
  return rows.scalar_type() == torch::kFloat32 ? rows : rows.to(torch::kFloat32);
}

LayerNormImpl::LayerNormImpl(int64_t dim, double eps, const ParamInit& init)
    : weight(register_parameter("weight", init.vector(dim, 1.0))),
      bias(register_parameter("bias", init.vector(dim, 0.0))),
      dim(dim),
      eps(eps) {}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x, {dim}, weight, bias, eps);
}

RmsNormImpl::RmsNormImpl(int64_t dim, double eps, const ParamInit& init, bool plus_one)
    : weight(register_parameter("weight", init.vector(dim, plus_one ? 0.0 : 1.0))),
      eps(eps),
      plus_one(plus_one) {}

torch::Tensor addPositionwise(const torch::Tensor& x, int64_t block,
                              const std::function<torch::Tensor(const torch::Tensor&)>& f) {
  const int64_t T = x.size(1);
  if (T <= block) return x + f(x);
  std::vector<torch::Tensor> parts;
  for (int64_t t0 = 0; t0 < T; t0 += block) {
    auto slice = x.narrow(1, t0, std::min(block, T - t0));
    parts.push_back(slice + f(slice));
  }
  return torch::cat(parts, 1);
}

int64_t positionBlock(int64_t batch, int64_t width, int64_t max_bytes) {
  return std::max<int64_t>(64, max_bytes / std::max<int64_t>(1, batch * width * 4));
}

}  // namespace attnscope
