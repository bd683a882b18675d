// Llama family (llama, mistral, qwen2): RMSNorm, RoPE, grouped-query attention, SwiGLU, optional sliding window.

#include <regex>

#include "attention.h"
#include "rope.h"
#include "transformer.h"

namespace attnscope {
namespace {

struct RmsNormImpl : torch::nn::Module {
  RmsNormImpl(int64_t dim, double eps) : weight(register_parameter("weight", torch::ones({dim}))), eps(eps) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
  }
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RmsNorm);

torch::nn::Linear linear(int64_t n_in, int64_t n_out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(n_in, n_out).bias(bias));
}

struct LlamaAttentionImpl : torch::nn::Module {
  explicit LlamaAttentionImpl(const ModelConfig& c)
      : q_proj(register_module("q_proj", linear(c.d_model, c.n_head * c.d_head, c.attention_bias))),
        k_proj(register_module("k_proj", linear(c.d_model, c.n_kv_head * c.d_head, c.attention_bias))),
        v_proj(register_module("v_proj", linear(c.d_model, c.n_kv_head * c.d_head, c.attention_bias))),
        o_proj(register_module("o_proj", linear(c.n_head * c.d_head, c.d_model, c.o_proj_bias))) {
    registerSsmax(*this, c, ssmax_s, ssmax_b);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, int64_t layer,
                        const ForwardContext& ctx) {
    const ModelConfig& c = ctx.config;
    const int64_t B = x.size(0), T = x.size(1);
    auto heads = [&](const torch::Tensor& t, int64_t n) { return t.view({B, T, n, c.d_head}).transpose(1, 2); };
    auto q = Rope::apply(heads(q_proj(x), c.n_head), cos, sin);     // [B, H, T, d]
    auto k = Rope::apply(heads(k_proj(x), c.n_kv_head), cos, sin);  // [B, Hkv, T, d]
    auto v = heads(v_proj(x), c.n_kv_head);                         // [B, Hkv, T, d]
    const BlockHookNames& names = ctx.names[layer];
    if (ctx.hooks.listens(names.q)) ctx.hooks.fire({names.q, layer, 0, T, 0, T, q});
    if (ctx.hooks.listens(names.k)) ctx.hooks.fire({names.k, layer, 0, T, 0, T, k});
    if (ctx.hooks.listens(names.v)) ctx.hooks.fire({names.v, layer, 0, T, 0, T, v});
    return o_proj(attend(q, k, v, {layer, c.windowOf(layer), ssmax_s, ssmax_b}, ctx));
  }
  torch::nn::Linear q_proj, k_proj, v_proj, o_proj;
  torch::Tensor ssmax_s, ssmax_b;
};
TORCH_MODULE(LlamaAttention);

struct LlamaMlpImpl : torch::nn::Module {
  explicit LlamaMlpImpl(const ModelConfig& c)
      : gate_proj(register_module("gate_proj", linear(c.d_model, c.d_ff, false))),
        up_proj(register_module("up_proj", linear(c.d_model, c.d_ff, false))),
        down_proj(register_module("down_proj", linear(c.d_ff, c.d_model, false))) {}
  torch::Tensor forward(const torch::Tensor& x) { return down_proj(torch::silu(gate_proj(x)) * up_proj(x)); }
  torch::nn::Linear gate_proj, up_proj, down_proj;
};
TORCH_MODULE(LlamaMlp);

struct LlamaLayerImpl : torch::nn::Module {
  explicit LlamaLayerImpl(const ModelConfig& c)
      : input_layernorm(register_module("input_layernorm", RmsNorm(c.d_model, c.norm_eps))),
        self_attn(register_module("self_attn", LlamaAttention(c))),
        post_attention_layernorm(register_module("post_attention_layernorm", RmsNorm(c.d_model, c.norm_eps))),
        mlp(register_module("mlp", LlamaMlp(c))) {}
  RmsNorm input_layernorm;
  LlamaAttention self_attn;
  RmsNorm post_attention_layernorm;
  LlamaMlp mlp;
};
TORCH_MODULE(LlamaLayer);

/// The "model." part of the HF parameter names.
struct LlamaBodyImpl : torch::nn::Module {
  explicit LlamaBodyImpl(const ModelConfig& c)
      : embed_tokens(register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.d_model))),
        layers(register_module("layers", torch::nn::ModuleList())),
        norm(register_module("norm", RmsNorm(c.d_model, c.norm_eps))) {
    for (int64_t i = 0; i < c.n_layer; ++i) {
      typed_layers.push_back(LlamaLayer(c));
      layers->push_back(typed_layers.back());
    }
  }
  torch::nn::Embedding embed_tokens;
  torch::nn::ModuleList layers;
  RmsNorm norm;
  std::vector<LlamaLayer> typed_layers;
};
TORCH_MODULE(LlamaBody);

class Llama : public TransformerImpl {
 public:
  explicit Llama(const ModelConfig& c) : model(register_module("model", LlamaBody(c))), rope(c) {
    if (!c.tie_word_embeddings) lm_head = register_module("lm_head", linear(c.d_model, c.vocab_size, false));
  }

  torch::Tensor forward(const torch::Tensor& ids, const ForwardContext& ctx) override {
    const int64_t T = ids.size(1);
    auto [cos, sin] = rope.cosSin(T);
    auto x = model->embed_tokens(ids);
    for (int64_t i = 0; i < static_cast<int64_t>(model->typed_layers.size()); ++i) {
      const BlockHookNames& names = ctx.names[i];
      LlamaLayer& layer = model->typed_layers[i];
      if (ctx.hooks.listens(names.resid_pre)) ctx.hooks.fire({names.resid_pre, i, 0, T, 0, T, x});
      x = x + layer->self_attn->forward(layer->input_layernorm(x), cos, sin, i, ctx);
      x = x + layer->mlp(layer->post_attention_layernorm(x));
      if (ctx.hooks.listens(names.resid_post)) ctx.hooks.fire({names.resid_post, i, 0, T, 0, T, x});
    }
    x = model->norm(x);
    static const std::string final_name = "ln_final.hook_normalized";
    if (ctx.hooks.listens(final_name)) ctx.hooks.fire({final_name, -1, 0, T, 0, T, x});
    return lm_head ? lm_head(x) : torch::matmul(x, model->embed_tokens->weight.t());
  }

  torch::Tensor ssmaxS(int64_t layer) const override { return model->typed_layers.at(layer)->self_attn->ssmax_s; }
  torch::Tensor ssmaxB(int64_t layer) const override { return model->typed_layers.at(layer)->self_attn->ssmax_b; }

  bool ignorable(const std::string& name) const override {
    // RoPE frequency buffers of older exports; a tied head some exports write out anyway.
    static const std::regex buffers(R"(model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq)");
    return std::regex_match(name, buffers) || (!lm_head && name == "lm_head.weight");
  }

 private:
  LlamaBody model;
  torch::nn::Linear lm_head{nullptr};
  Rope rope;
};

}  // namespace

std::shared_ptr<TransformerImpl> makeLlama(const ModelConfig& config) { return std::make_shared<Llama>(config); }

}  // namespace attnscope
