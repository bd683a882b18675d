// Llama family (llama, mistral, qwen2): RMSNorm, RoPE, grouped-query attention, SwiGLU, optional sliding
// window.

#include <regex>

#include "attention.h"
#include "layers.h"
#include "rope.h"
#include "transformer.h"

namespace attnscope {
namespace {

struct LlamaAttentionImpl : torch::nn::Module {
  LlamaAttentionImpl(const ModelConfig& c, const ParamInit& init)
      : q_proj(register_module("q_proj", Linear(c.d_model, c.n_head * c.d_head, c.attention_bias, init))),
        k_proj(register_module("k_proj", Linear(c.d_model, c.n_kv_head * c.d_head, c.attention_bias, init))),
        v_proj(register_module("v_proj", Linear(c.d_model, c.n_kv_head * c.d_head, c.attention_bias, init))),
        o_proj(register_module("o_proj", Linear(c.n_head * c.d_head, c.d_model, c.o_proj_bias, init))) {
    registerSsmax(*this, c, ssmax_s, ssmax_b);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        int64_t layer, const ForwardContext& ctx) {
    const ModelConfig& c = ctx.config;
    const int64_t B = x.size(0), T = x.size(1);
    auto heads = [&](const torch::Tensor& t, int64_t n) {
      return t.view({B, T, n, c.d_head}).transpose(1, 2);
    };
    auto q = Rope::apply(heads(q_proj(x), c.n_head), cos, sin);     // [B, H, T, d]
    auto k = Rope::apply(heads(k_proj(x), c.n_kv_head), cos, sin);  // [B, Hkv, T, d]
    auto v = heads(v_proj(x), c.n_kv_head);                         // [B, Hkv, T, d]
    const BlockHookNames& names = ctx.names[layer];
    if (ctx.hooks.listens(names.q)) ctx.hooks.fire({names.q, layer, 0, T, 0, T, q});
    if (ctx.hooks.listens(names.k)) ctx.hooks.fire({names.k, layer, 0, T, 0, T, k});
    if (ctx.hooks.listens(names.v)) ctx.hooks.fire({names.v, layer, 0, T, 0, T, v});
    return o_proj(attend(q, k, v, {layer, c.windowOf(layer), ssmax_s, ssmax_b}, ctx));
  }
  Linear q_proj, k_proj, v_proj, o_proj;
  torch::Tensor ssmax_s, ssmax_b;
};
TORCH_MODULE(LlamaAttention);

struct LlamaMlpImpl : torch::nn::Module {
  LlamaMlpImpl(const ModelConfig& c, const ParamInit& init)
      : gate_proj(register_module("gate_proj", Linear(c.d_model, c.d_ff, false, init))),
        up_proj(register_module("up_proj", Linear(c.d_model, c.d_ff, false, init))),
        down_proj(register_module("down_proj", Linear(c.d_ff, c.d_model, false, init))) {}
  torch::Tensor forward(const torch::Tensor& x) { return down_proj(torch::silu(gate_proj(x)) * up_proj(x)); }
  Linear gate_proj, up_proj, down_proj;
};
TORCH_MODULE(LlamaMlp);

struct LlamaLayerImpl : torch::nn::Module {
  LlamaLayerImpl(const ModelConfig& c, const ParamInit& init)
      : input_layernorm(register_module("input_layernorm", RmsNorm(c.d_model, c.norm_eps, init))),
        self_attn(register_module("self_attn", LlamaAttention(c, init))),
        post_attention_layernorm(
            register_module("post_attention_layernorm", RmsNorm(c.d_model, c.norm_eps, init))),
        mlp(register_module("mlp", LlamaMlp(c, init))) {}
  RmsNorm input_layernorm;
  LlamaAttention self_attn;
  RmsNorm post_attention_layernorm;
  LlamaMlp mlp;
};
TORCH_MODULE(LlamaLayer);

/// The "model." part of the HF parameter names.
struct LlamaBodyImpl : torch::nn::Module {
  LlamaBodyImpl(const ModelConfig& c, const ParamInit& init)
      : embed_tokens(register_module("embed_tokens", Embedding(c.vocab_size, c.d_model, init))),
        layers(register_module("layers", torch::nn::ModuleList())),
        norm(register_module("norm", RmsNorm(c.d_model, c.norm_eps, init))) {
    for (int64_t i = 0; i < c.n_layer; ++i) {
      typed_layers.push_back(LlamaLayer(c, init));
      layers->push_back(typed_layers.back());
    }
  }
  Embedding embed_tokens;
  torch::nn::ModuleList layers;
  RmsNorm norm;
  std::vector<LlamaLayer> typed_layers;
};
TORCH_MODULE(LlamaBody);

class Llama : public TransformerImpl {
 public:
  Llama(const ModelConfig& c, const ParamInit& init)
      : model(register_module("model", LlamaBody(c, init))), rope(c) {
    if (!c.tie_word_embeddings)
      lm_head = register_module("lm_head", Linear(c.d_model, c.vocab_size, false, init));
  }

  torch::Tensor hidden(const torch::Tensor& ids, const ForwardContext& ctx) override {
    const int64_t T = ids.size(1);
    auto [cos, sin] = rope.cosSin(T);
    const int64_t mlp_block = positionBlock(ids.size(0), ctx.config.d_ff, ctx.options.max_mlp_bytes);
    auto x = model->embed_tokens(ids);
    for (int64_t i = 0; i < static_cast<int64_t>(model->typed_layers.size()); ++i) {
      const BlockHookNames& names = ctx.names[i];
      LlamaLayer& layer = model->typed_layers[i];
      if (ctx.hooks.listens(names.resid_pre)) ctx.hooks.fire({names.resid_pre, i, 0, T, 0, T, x});
      x = x + layer->self_attn->forward(layer->input_layernorm(x), cos, sin, i, ctx);
      x = addPositionwise(x, mlp_block, [&](const torch::Tensor& part) {
        return layer->mlp(layer->post_attention_layernorm(part));
      });
      if (ctx.hooks.listens(names.resid_post)) ctx.hooks.fire({names.resid_post, i, 0, T, 0, T, x});
      if (ctx.hooks.stopped()) break;  // a hook ended the pass
    }
    return model->norm(x);
  }

  torch::Tensor unembed(const torch::Tensor& x) override {
    return lm_head ? lm_head(x) : project(x, model->embed_tokens->weight);
  }

  torch::Tensor ssmaxS(int64_t layer) const override {
    return model->typed_layers.at(layer)->self_attn->ssmax_s;
  }
  torch::Tensor ssmaxB(int64_t layer) const override {
    return model->typed_layers.at(layer)->self_attn->ssmax_b;
  }

  bool ignorable(const std::string& name) const override {
    // RoPE frequency buffers of older exports; a tied head some exports write out anyway.
    static const std::regex buffers(R"(model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq)");
    return std::regex_match(name, buffers) || (!lm_head && name == "lm_head.weight");
  }

 private:
  LlamaBody model;
  Linear lm_head{nullptr};
  Rope rope;
};

}  // namespace

std::shared_ptr<TransformerImpl> makeLlama(const ModelConfig& config, const ParamInit& init) {
  return std::make_shared<Llama>(config, init);
}

}  // namespace attnscope
