// GPT-NeoX (model_type gpt_neox; the Pythia suite), as Hugging Face's modeling_gpt_neox.py: LayerNorms with
// biases, a fused query_key_value projection whose output holds each head's q, k and v side by side, partial
// rotary (the first rotaryDim() dimensions of each head turn), a GELU MLP with biases, parallel or sequential
// residual, and an untied embed_out head.

#include <regex>

#include "attention.h"
#include "layers.h"
#include "rope.h"
#include "transformer.h"

namespace attnscope {
namespace {

struct GptNeoxAttentionImpl : torch::nn::Module {
  GptNeoxAttentionImpl(const ModelConfig& c, const ParamInit& init)
      : query_key_value(
            register_module("query_key_value", Linear(c.d_model, 3 * c.d_model, c.attention_bias, init))),
        dense(register_module("dense", Linear(c.d_model, c.d_model, c.attention_bias, init))) {
    registerSsmax(*this, c, init.layer, ssmax_s, ssmax_b);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        int64_t layer, const ForwardContext& ctx) {
    const ModelConfig& c = ctx.config;
    const int64_t B = x.size(0), T = x.size(1), p0 = ctx.n_past, p1 = p0 + T;
    // The output is laid out [head, (q, k, v), d_head], not [(q, k, v), head, d_head] as GPT-2's c_attn.
    auto qkv = query_key_value(x).view({B, T, c.n_head, 3, c.d_head});
    auto part = [&](int64_t i) { return qkv.select(3, i).transpose(1, 2); };  // [B, H, T, d]
    auto q = Rope::apply(part(0), cos, sin);
    auto k = Rope::apply(part(1), cos, sin);
    auto v = part(2);
    const BlockHookNames& names = ctx.names[layer];
    if (ctx.hooks.listens(names.q)) ctx.hooks.fire({names.q, layer, p0, p1, p0, p1, q});
    if (ctx.hooks.listens(names.k)) ctx.hooks.fire({names.k, layer, p0, p1, p0, p1, k});
    if (ctx.hooks.listens(names.v)) ctx.hooks.fire({names.v, layer, p0, p1, p0, p1, v});
    auto [keys, values] = layerKeysValues(k, v, layer, ctx);  // [B, Hkv, n_past + T, d]
    return dense(attend(q, keys, values, {layer, c.windowOf(layer), ssmax_s, ssmax_b}, ctx));
  }
  Linear query_key_value, dense;
  torch::Tensor ssmax_s, ssmax_b;
};
TORCH_MODULE(GptNeoxAttention);

struct GptNeoxMlpImpl : torch::nn::Module {
  GptNeoxMlpImpl(const ModelConfig& c, const ParamInit& init)
      : dense_h_to_4h(register_module("dense_h_to_4h", Linear(c.d_model, c.d_ff, true, init))),
        dense_4h_to_h(register_module("dense_4h_to_h", Linear(c.d_ff, c.d_model, true, init))),
        approximate(c.hidden_act == "gelu" ? "none" : "tanh") {}  // gelu_new, gelu_fast: the tanh form
  torch::Tensor forward(const torch::Tensor& x) {
    return dense_4h_to_h(torch::gelu(dense_h_to_4h(x), approximate));
  }
  Linear dense_h_to_4h, dense_4h_to_h;
  std::string approximate;
};
TORCH_MODULE(GptNeoxMlp);

struct GptNeoxLayerImpl : torch::nn::Module {
  GptNeoxLayerImpl(const ModelConfig& c, const ParamInit& init)
      : input_layernorm(register_module("input_layernorm", LayerNorm(c.d_model, c.norm_eps, init))),
        post_attention_layernorm(
            register_module("post_attention_layernorm", LayerNorm(c.d_model, c.norm_eps, init))),
        attention(register_module("attention", GptNeoxAttention(c, init))),
        mlp(register_module("mlp", GptNeoxMlp(c, init))) {}
  LayerNorm input_layernorm, post_attention_layernorm;
  GptNeoxAttention attention;
  GptNeoxMlp mlp;
};
TORCH_MODULE(GptNeoxLayer);

/// The "gpt_neox." part of the HF parameter names.
struct GptNeoxBodyImpl : torch::nn::Module {
  GptNeoxBodyImpl(const ModelConfig& c, const ParamInit& init)
      : embed_in(register_module("embed_in", Embedding(c.vocab_size, c.d_model, init))),
        layers(register_module("layers", torch::nn::ModuleList())),
        final_layer_norm(register_module("final_layer_norm", LayerNorm(c.d_model, c.norm_eps, init))) {
    for (int64_t i = 0; i < c.n_layer; ++i) {
      typed_layers.push_back(GptNeoxLayer(c, init.forLayer(i)));
      layers->push_back(typed_layers.back());
    }
  }
  Embedding embed_in;
  torch::nn::ModuleList layers;
  LayerNorm final_layer_norm;
  std::vector<GptNeoxLayer> typed_layers;
};
TORCH_MODULE(GptNeoxBody);

class GptNeox : public TransformerImpl {
 public:
  GptNeox(const ModelConfig& c, const ParamInit& init)
      : gpt_neox(register_module("gpt_neox", GptNeoxBody(c, init))), rope(c) {
    if (!c.tie_word_embeddings)
      embed_out = register_module("embed_out", Linear(c.d_model, c.vocab_size, false, init));
  }

  torch::Tensor hidden(const torch::Tensor& ids, const ForwardContext& ctx) override {
    const int64_t T = ids.size(1), p0 = ctx.n_past, p1 = p0 + T;
    auto [cos, sin] = rope.cosSinAt(ctx.n_past, T);
    const int64_t mlp_block = positionBlock(ids.size(0), ctx.config.d_ff, ctx.options.max_mlp_bytes);
    auto x = gpt_neox->embed_in(ids);
    for (int64_t i = 0; i < static_cast<int64_t>(gpt_neox->typed_layers.size()); ++i) {
      const BlockHookNames& names = ctx.names[i];
      GptNeoxLayer& layer = gpt_neox->typed_layers[i];
      if (ctx.hooks.listens(names.resid_pre)) ctx.hooks.fire({names.resid_pre, i, p0, p1, p0, p1, x});
      auto attn_out = layer->attention->forward(layer->input_layernorm(x), cos, sin, i, ctx);
      auto mlp = [&](const torch::Tensor& part) { return layer->mlp(layer->post_attention_layernorm(part)); };
      if (ctx.config.parallel_residual) {
        x = addPositionwise(x, mlp_block, mlp) + attn_out;  // both sublayers read the same x
      } else {
        x = addPositionwise(x + attn_out, mlp_block, mlp);
      }
      if (ctx.hooks.listens(names.resid_post)) ctx.hooks.fire({names.resid_post, i, p0, p1, p0, p1, x});
    }
    return gpt_neox->final_layer_norm(x);
  }

  torch::Tensor unembed(const torch::Tensor& x) override {
    return embed_out ? embed_out(x) : project(x, gpt_neox->embed_in->weight);
  }

  torch::Tensor ssmaxS(int64_t layer) const override {
    return gpt_neox->typed_layers.at(layer)->attention->ssmax_s;
  }
  torch::Tensor ssmaxB(int64_t layer) const override {
    return gpt_neox->typed_layers.at(layer)->attention->ssmax_b;
  }

  bool ignorable(const std::string& name) const override {
    // Buffers the Pythia exports carry: the causal mask, its fill value and the RoPE frequencies (all
    // recomputed here); a tied head some exports write out anyway.
    static const std::regex buffers(
        R"(gpt_neox\.layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq))");
    return std::regex_match(name, buffers) || (!embed_out && name == "embed_out.weight");
  }

 private:
  GptNeoxBody gpt_neox;
  Linear embed_out{nullptr};
  Rope rope;
};

}  // namespace

std::shared_ptr<TransformerImpl> makeGptNeox(const ModelConfig& config, const ParamInit& init) {
  return std::make_shared<GptNeox>(config, init);
}

}  // namespace attnscope
