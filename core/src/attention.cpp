#include "attention.h"

#include <algorithm>
#include <cmath>

namespace attnscope {
namespace {

// Returns the multiplier m [H or 1, q1-q0] the normalizer applies to each query's logits, or an undefined
// tensor for plain softmax (m = 1, nothing to multiply).
torch::Tensor queryMultipliers(const LayerAttention& layer, const ForwardContext& ctx, int64_t q0,
                               int64_t q1) {
  const NormalizerSpec& spec = ctx.normalizer;
  const int64_t nq = q1 - q0;
  if (spec.kind == NormalizerKind::Softmax) return {};
  // Learned SSMax on chosen layers only (ssmax_layers): the others attend with plain softmax.
  if (spec.kind == NormalizerKind::Ssmax && spec.use_learned && !layer.ssmax_s.defined()) return {};
  if (spec.kind == NormalizerKind::Ssmax) {
    auto log_n = torch::empty({1, nq}, torch::kFloat32);
    float* ln = log_n.data_ptr<float>();
    for (int64_t i = 0; i < nq; ++i) ln[i] = static_cast<float>(std::log(visibleKeys(q0 + i, layer.window)));
    torch::Tensor s, b;
    if (spec.use_learned) {
      s = layer.ssmax_s.view({-1, 1});
      if (layer.ssmax_b.defined()) b = layer.ssmax_b.view({-1, 1});
    } else {
      const int64_t n_head = ctx.config.n_head;
      s = torch::empty({n_head, 1}, torch::kFloat32);
      b = torch::empty({n_head, 1}, torch::kFloat32);
      for (int64_t h = 0; h < n_head; ++h) {
        s[h][0] = spec.sAt(layer.layer, h, ctx.config.n_layer, n_head);
        b[h][0] = spec.bAt(layer.layer, h, ctx.config.n_layer, n_head);
      }
    }
    auto m = s * log_n;
    return b.defined() ? m + b : m;
  }
  auto m = torch::empty({1, nq}, torch::kFloat32);
  float* mp = m.data_ptr<float>();
  for (int64_t i = 0; i < nq; ++i)
    mp[i] = static_cast<float>(positionMultiplier(spec, q0 + i, visibleKeys(q0 + i, layer.window)));
  return m;
}

// Returns the [q1-q0, k1-k0] mask of keys a query must not see (later keys, keys outside the window).
torch::Tensor hiddenKeys(int64_t q0, int64_t q1, int64_t k0, int64_t k1, int64_t window) {
  auto qpos = torch::arange(q0, q1, torch::kInt64).view({-1, 1});
  auto kpos = torch::arange(k0, k1, torch::kInt64).view({1, -1});
  auto hidden = kpos > qpos;
  if (window > 0) hidden = hidden.logical_or(qpos - kpos >= window);
  return hidden;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> layerKeysValues(const torch::Tensor& k, const torch::Tensor& v,
                                                        int64_t layer, const ForwardContext& ctx) {
  if (!ctx.cache) return {k, v.to(ctx.matrix_dtype)};
  return ctx.cache->append(layer, k, v.to(ctx.matrix_dtype));
}

int64_t queryBlockSize(int64_t batch, int64_t n_head, int64_t n_keys, const AttentionOptions& options) {
  if (options.query_block > 0) return options.query_block;
  const int64_t row_bytes = std::max<int64_t>(1, batch * n_head * n_keys * 4);
  return std::max<int64_t>(16, options.max_block_bytes / row_bytes);
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const LayerAttention& layer, const ForwardContext& ctx) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3);
  const int64_t Hkv = k.size(1), group = H / Hkv, N = k.size(2);
  const int64_t offset = N - T;  // absolute position of query 0
  const double scale = layer.scale > 0.0 ? layer.scale : 1.0 / std::sqrt(static_cast<double>(d));
  const BlockHookNames& names = ctx.names[layer.layer];
  bool observer_scores = false;
  const bool observe = ctx.hooks.observesAttention(names.attn, &observer_scores);
  const bool want_scores = ctx.hooks.listens(names.scores);
  const bool want_multiplier = ctx.hooks.listens(names.multiplier);
  const bool want_logits = ctx.hooks.listens(names.logits);
  const bool want_pattern = ctx.hooks.listens(names.pattern);
  const bool want_z = ctx.hooks.listens(names.z);

  const int64_t block = std::min(T, queryBlockSize(B, H, N, ctx.options));
  const auto value_type = ctx.matrix_dtype;
  const torch::Tensor values = v.to(value_type);
  std::vector<torch::Tensor> outputs;
  outputs.reserve((T + block - 1) / block);
  for (int64_t i0 = 0; i0 < T; i0 += block) {
    // q0, q1, k0, k1: absolute positions; i0: the block's first row of q.
    const int64_t nq = std::min(T, i0 + block) - i0, q0 = offset + i0, q1 = q0 + nq;
    const int64_t k0 = layer.window > 0 ? std::max<int64_t>(0, q0 - layer.window + 1) : 0, k1 = q1;
    const int64_t nk = k1 - k0;
    // Grouped-query attention without copying K/V: query heads h = kv·group + j share kv head kv.
    auto qb = q.narrow(2, i0, nq).reshape({B, Hkv, group * nq, d});
    auto kb = k.narrow(2, k0, nk);
    auto vb = values.narrow(2, k0, nk);
    auto z = torch::matmul(qb, kb.transpose(-1, -2)).mul_(scale).view({B, H, nq, nk});
    // Soft-capping bounds the scores before the normalizer, so its multiplier scales the capped scores:
    // m · cap·tanh(z/cap). Capping after m would let tanh clip SSMax's growth with n.
    if (layer.softcap > 0.0) z = torch::tanh(z / layer.softcap) * layer.softcap;
    auto hidden = hiddenKeys(q0, q1, k0, k1, layer.window);
    const float neg_inf = -std::numeric_limits<float>::infinity();
    torch::Tensor masked, full;  // scores and multipliers [H, nq], made only for those who read them
    if (want_scores || observer_scores) masked = z.masked_fill(hidden, neg_inf);
    if (want_scores) ctx.hooks.fire({names.scores, layer.layer, q0, q1, k0, k1, masked});
    auto m = queryMultipliers(layer, ctx, q0, q1);
    if (want_multiplier || observe)
      full = m.defined() ? m.expand({H, nq}).contiguous() : torch::ones({H, nq});
    if (want_multiplier) ctx.hooks.fire({names.multiplier, layer.layer, q0, q1, 0, 0, full});
    // Multiply before masking: m may be 0 (SSMax with n = 1) and 0·(−inf) would be NaN.
    auto logits = m.defined() ? z * m.view({1, m.size(0), nq, 1}) : z;
    logits.masked_fill_(hidden, neg_inf);  // logits is a fresh tensor no backward pass reads
    if (want_logits) ctx.hooks.fire({names.logits, layer.layer, q0, q1, k0, k1, logits});
    auto pattern = torch::softmax(logits, -1);
    if (want_pattern) ctx.hooks.fire({names.pattern, layer.layer, q0, q1, k0, k1, pattern});
    if (observe)
      ctx.hooks.fireAttention(names.attn, {layer.layer, q0, q1, k0, k1, masked, full, logits, pattern});
    if (ctx.hooks.stopped()) return torch::zeros({B, T, H * d});  // the pass ends; nobody reads this
    auto out = torch::matmul(pattern.view({B, Hkv, group * nq, nk}).to(value_type), vb).view({B, H, nq, d});
    if (value_type != torch::kFloat32) out = out.to(torch::kFloat32);
    if (want_z) ctx.hooks.fire({names.z, layer.layer, q0, q1, k0, k1, out});
    outputs.push_back(out);
  }
  auto all = outputs.size() == 1 ? outputs[0] : torch::cat(outputs, 2);
  return all.transpose(1, 2).reshape({B, T, H * d});
}

}  // namespace attnscope
