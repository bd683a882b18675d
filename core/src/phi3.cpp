// Phi-3 (model_type phi3, also Phi-4-mini), as Hugging Face's modeling_phi3.py: the Llama block with a fused
// qkv_proj ([q heads | k heads | v heads] along the output) and a fused gate_up_proj ([gate | up]), partial
// rotary, longrope scaling (short or long factors by sequence length) and one sliding window for every layer
// when the config sets it.

#include <regex>

#include "attention.h"
#include "layers.h"
#include "rope.h"
#include "transformer.h"

namespace attnscope {
namespace {

struct Phi3AttentionImpl : torch::nn::Module {
  Phi3AttentionImpl(const ModelConfig& c, const ParamInit& init)
      : qkv_proj(register_module("qkv_proj",
                                 Linear(c.d_model, (c.n_head + 2 * c.n_kv_head) * c.d_head, false, init))),
        o_proj(register_module("o_proj", Linear(c.n_head * c.d_head, c.d_model, false, init))) {
    registerSsmax(*this, c, init.layer, ssmax_s, ssmax_b);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        int64_t layer, const ForwardContext& ctx) {
    const ModelConfig& c = ctx.config;
    const int64_t B = x.size(0), T = x.size(1), p0 = ctx.n_past, p1 = p0 + T;
    auto qkv = qkv_proj(x).split({c.n_head * c.d_head, c.n_kv_head * c.d_head, c.n_kv_head * c.d_head}, -1);
    auto heads = [&](const torch::Tensor& t, int64_t n) {
      return t.view({B, T, n, c.d_head}).transpose(1, 2);
    };
    auto q = Rope::apply(heads(qkv[0], c.n_head), cos, sin);     // [B, H, T, d]
    auto k = Rope::apply(heads(qkv[1], c.n_kv_head), cos, sin);  // [B, Hkv, T, d]
    auto v = heads(qkv[2], c.n_kv_head);                         // [B, Hkv, T, d]
    const BlockHookNames& names = ctx.names[layer];
    if (ctx.hooks.listens(names.q)) ctx.hooks.fire({names.q, layer, p0, p1, p0, p1, q});
    if (ctx.hooks.listens(names.k)) ctx.hooks.fire({names.k, layer, p0, p1, p0, p1, k});
    if (ctx.hooks.listens(names.v)) ctx.hooks.fire({names.v, layer, p0, p1, p0, p1, v});
    auto [keys, values] = layerKeysValues(k, v, layer, ctx);  // [B, Hkv, n_past + T, d]
    return o_proj(attend(q, keys, values, {layer, c.windowOf(layer), ssmax_s, ssmax_b}, ctx));
  }
  Linear qkv_proj, o_proj;
  torch::Tensor ssmax_s, ssmax_b;
};
TORCH_MODULE(Phi3Attention);

struct Phi3MlpImpl : torch::nn::Module {
  Phi3MlpImpl(const ModelConfig& c, const ParamInit& init)
      : gate_up_proj(register_module("gate_up_proj", Linear(c.d_model, 2 * c.d_ff, false, init))),
        down_proj(register_module("down_proj", Linear(c.d_ff, c.d_model, false, init))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto gate_up = gate_up_proj(x).chunk(2, -1);  // gate first, then up
    return down_proj(gate_up[1] * torch::silu(gate_up[0]));
  }
  Linear gate_up_proj, down_proj;
};
TORCH_MODULE(Phi3Mlp);

struct Phi3LayerImpl : torch::nn::Module {
  Phi3LayerImpl(const ModelConfig& c, const ParamInit& init)
      : self_attn(register_module("self_attn", Phi3Attention(c, init))),
        mlp(register_module("mlp", Phi3Mlp(c, init))),
        input_layernorm(register_module("input_layernorm", RmsNorm(c.d_model, c.norm_eps, init))),
        post_attention_layernorm(
            register_module("post_attention_layernorm", RmsNorm(c.d_model, c.norm_eps, init))) {}
  Phi3Attention self_attn;
  Phi3Mlp mlp;
  RmsNorm input_layernorm, post_attention_layernorm;
};
TORCH_MODULE(Phi3Layer);

/// The "model." part of the HF parameter names.
struct Phi3BodyImpl : torch::nn::Module {
  Phi3BodyImpl(const ModelConfig& c, const ParamInit& init)
      : embed_tokens(register_module("embed_tokens", Embedding(c.vocab_size, c.d_model, init))),
        layers(register_module("layers", torch::nn::ModuleList())),
        norm(register_module("norm", RmsNorm(c.d_model, c.norm_eps, init))) {
    for (int64_t i = 0; i < c.n_layer; ++i) {
      typed_layers.push_back(Phi3Layer(c, init.forLayer(i)));
      layers->push_back(typed_layers.back());
    }
  }
  Embedding embed_tokens;
  torch::nn::ModuleList layers;
  RmsNorm norm;
  std::vector<Phi3Layer> typed_layers;
};
TORCH_MODULE(Phi3Body);

class Phi3 : public TransformerImpl {
 public:
  Phi3(const ModelConfig& c, const ParamInit& init)
      : model(register_module("model", Phi3Body(c, init))), rope(c) {
    if (!c.tie_word_embeddings)
      lm_head = register_module("lm_head", Linear(c.d_model, c.vocab_size, false, init));
  }

  torch::Tensor hidden(const torch::Tensor& ids, const ForwardContext& ctx) override {
    const int64_t T = ids.size(1), p0 = ctx.n_past, p1 = p0 + T;
    // longrope: the long factors once the sequence outgrows original_max_position_embeddings
    auto [cos, sin] = rope.cosSinAt(ctx.n_past, T);
    const int64_t mlp_block = positionBlock(ids.size(0), 2 * ctx.config.d_ff, ctx.options.max_mlp_bytes);
    auto x = model->embed_tokens(ids);
    for (int64_t i = 0; i < static_cast<int64_t>(model->typed_layers.size()); ++i) {
      const BlockHookNames& names = ctx.names[i];
      Phi3Layer& layer = model->typed_layers[i];
      if (ctx.hooks.listens(names.resid_pre)) ctx.hooks.fire({names.resid_pre, i, p0, p1, p0, p1, x});
      x = x + layer->self_attn->forward(layer->input_layernorm(x), cos, sin, i, ctx);
      x = addPositionwise(x, mlp_block, [&](const torch::Tensor& part) {
        return layer->mlp(layer->post_attention_layernorm(part));
      });
      if (ctx.hooks.listens(names.resid_post)) ctx.hooks.fire({names.resid_post, i, p0, p1, p0, p1, x});
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
  Phi3Body model;
  Linear lm_head{nullptr};
  Rope rope;
};

}  // namespace

std::shared_ptr<TransformerImpl> makePhi3(const ModelConfig& config, const ParamInit& init) {
  return std::make_shared<Phi3>(config, init);
}

}  // namespace attnscope
