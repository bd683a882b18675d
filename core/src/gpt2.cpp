// GPT-2 (model_type gpt2): learned positions, pre-LayerNorm blocks, fused c_attn, GELU (tanh), tied lm_head.

#include <regex>

#include "attention.h"
#include "layers.h"
#include "transformer.h"

namespace attnscope {
namespace {

/// HF's Conv1D: a linear layer whose weight is stored [in, out], y = x W + b; the product runs in the
/// weight's dtype and comes back as float32.
struct Conv1DImpl : torch::nn::Module {
  Conv1DImpl(int64_t n_in, int64_t n_out, const ParamInit& init)
      : weight(register_parameter("weight", init.matrix({n_in, n_out}))),
        bias(register_parameter("bias", init.matrix({n_out}))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto flat = torch::addmm(bias, x.reshape({-1, x.size(-1)}).to(weight.scalar_type()), weight);
    auto shape = x.sizes().vec();
    shape.back() = weight.size(1);
    return flat.view(shape).to(x.scalar_type());
  }
  torch::Tensor weight, bias;
};
TORCH_MODULE(Conv1D);

struct Gpt2AttentionImpl : torch::nn::Module {
  Gpt2AttentionImpl(const ModelConfig& c, const ParamInit& init)
      : c_attn(register_module("c_attn", Conv1D(c.d_model, 3 * c.d_model, init))),
        c_proj(register_module("c_proj", Conv1D(c.d_model, c.d_model, init))) {
    registerSsmax(*this, c, init.layer, ssmax_s, ssmax_b);
  }
  torch::Tensor forward(const torch::Tensor& x, int64_t layer, const ForwardContext& ctx) {
    const ModelConfig& c = ctx.config;
    const int64_t B = x.size(0), T = x.size(1), p0 = ctx.n_past, p1 = p0 + T;
    auto qkv = c_attn(x).split(c.d_model, -1);  // 3 × [B, T, D]
    auto heads = [&](const torch::Tensor& t) { return t.view({B, T, c.n_head, c.d_head}).transpose(1, 2); };
    auto q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);  // [B, H, T, d]
    const BlockHookNames& names = ctx.names[layer];
    if (ctx.hooks.listens(names.q)) ctx.hooks.fire({names.q, layer, p0, p1, p0, p1, q});
    if (ctx.hooks.listens(names.k)) ctx.hooks.fire({names.k, layer, p0, p1, p0, p1, k});
    if (ctx.hooks.listens(names.v)) ctx.hooks.fire({names.v, layer, p0, p1, p0, p1, v});
    auto [keys, values] = layerKeysValues(k, v, layer, ctx);  // [B, Hkv, n_past + T, d]
    return c_proj(attend(q, keys, values, {layer, 0, ssmax_s, ssmax_b}, ctx));
  }
  Conv1D c_attn, c_proj;
  torch::Tensor ssmax_s, ssmax_b;
};
TORCH_MODULE(Gpt2Attention);

struct Gpt2MlpImpl : torch::nn::Module {
  Gpt2MlpImpl(const ModelConfig& c, const ParamInit& init)
      : c_fc(register_module("c_fc", Conv1D(c.d_model, c.d_ff, init))),
        c_proj(register_module("c_proj", Conv1D(c.d_ff, c.d_model, init))) {}
  torch::Tensor forward(const torch::Tensor& x) { return c_proj(torch::gelu(c_fc(x), "tanh")); }
  Conv1D c_fc, c_proj;
};
TORCH_MODULE(Gpt2Mlp);

struct Gpt2BlockImpl : torch::nn::Module {
  Gpt2BlockImpl(const ModelConfig& c, const ParamInit& init)
      : ln_1(register_module("ln_1", LayerNorm(c.d_model, c.norm_eps, init))),
        attn(register_module("attn", Gpt2Attention(c, init))),
        ln_2(register_module("ln_2", LayerNorm(c.d_model, c.norm_eps, init))),
        mlp(register_module("mlp", Gpt2Mlp(c, init))) {}
  LayerNorm ln_1;
  Gpt2Attention attn;
  LayerNorm ln_2;
  Gpt2Mlp mlp;
};
TORCH_MODULE(Gpt2Block);

class Gpt2 : public TransformerImpl {
 public:
  Gpt2(const ModelConfig& c, const ParamInit& init)
      : wte(register_module("wte", Embedding(c.vocab_size, c.d_model, init))),
        wpe(register_module("wpe", Embedding(c.n_ctx, c.d_model, init))),
        h(register_module("h", torch::nn::ModuleList())),
        ln_f(register_module("ln_f", LayerNorm(c.d_model, c.norm_eps, init))) {
    for (int64_t i = 0; i < c.n_layer; ++i) {
      blocks.push_back(Gpt2Block(c, init.forLayer(i)));
      h->push_back(blocks.back());
    }
  }

  torch::Tensor hidden(const torch::Tensor& ids, const ForwardContext& ctx) override {
    const int64_t T = ids.size(1), p0 = ctx.n_past, p1 = p0 + T;
    if (p1 > ctx.config.n_ctx)
      throw std::invalid_argument("gpt2: " + std::to_string(p1) + " tokens exceed n_positions " +
                                  std::to_string(ctx.config.n_ctx) +
                                  " (learned positions cannot extrapolate)");
    auto x = wte(ids) + wpe(torch::arange(p0, p1, torch::kInt64));
    const int64_t mlp_block = positionBlock(ids.size(0), ctx.config.d_ff, ctx.options.max_mlp_bytes);
    for (int64_t i = 0; i < static_cast<int64_t>(blocks.size()); ++i) {
      const BlockHookNames& names = ctx.names[i];
      Gpt2Block& block = blocks[i];
      if (ctx.hooks.listens(names.resid_pre)) ctx.hooks.fire({names.resid_pre, i, p0, p1, p0, p1, x});
      x = x + block->attn->forward(block->ln_1(x), i, ctx);
      x = addPositionwise(x, mlp_block,
                          [&](const torch::Tensor& part) { return block->mlp(block->ln_2(part)); });
      if (ctx.hooks.listens(names.resid_post)) ctx.hooks.fire({names.resid_post, i, p0, p1, p0, p1, x});
      if (ctx.hooks.stopped()) break;  // a hook ended the pass
    }
    return ln_f(x);
  }

  torch::Tensor unembed(const torch::Tensor& x) override { return project(x, wte->weight); }

  torch::Tensor ssmaxS(int64_t layer) const override { return blocks.at(layer)->attn->ssmax_s; }
  torch::Tensor ssmaxB(int64_t layer) const override { return blocks.at(layer)->attn->ssmax_b; }

  bool ignorable(const std::string& name) const override {
    // Causal-mask buffers of older exports, and the tied head some exports write out anyway.
    static const std::regex buffers(R"(h\.\d+\.attn\.(bias|masked_bias)|lm_head\.weight)");
    return std::regex_match(name, buffers);
  }

  std::string checkpointPrefix(const std::set<std::string>& names) const override {
    return names.count("transformer.wte.weight") ? "transformer." : "";
  }

 private:
  Embedding wte, wpe;
  torch::nn::ModuleList h;
  LayerNorm ln_f;
  std::vector<Gpt2Block> blocks;
};

}  // namespace

std::shared_ptr<TransformerImpl> makeGpt2(const ModelConfig& config, const ParamInit& init) {
  return std::make_shared<Gpt2>(config, init);
}

}  // namespace attnscope
