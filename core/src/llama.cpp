// Llama family: RMSNorm, RoPE, grouped-query attention, gated MLP, optional sliding window per layer. llama,
// mistral and qwen2 as they are; the families that only add norms and scalings to the same block are the same
// code with ModelConfig's feature fields: qwen3 (q/k RMSNorm per head), olmo2 (q/k RMSNorm over the whole
// projections, norms on the sublayer outputs instead of their inputs), gemma2 and gemma3_text ((1 + w)
// RMSNorm before and after each sublayer, embeddings times sqrt(d_model), GELU-tanh MLP,
// query_pre_attn_scalar, soft-capped scores and logits, local and global layers with their own RoPE base in
// gemma3).

#include <cmath>
#include <optional>
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
    if (c.qk_norm != QkNorm::None) {
      const bool whole = c.qk_norm == QkNorm::Whole;
      q_norm = register_module(
          "q_norm", RmsNorm(whole ? c.n_head * c.d_head : c.d_head, c.norm_eps, init, c.norm_plus_one));
      k_norm = register_module(
          "k_norm", RmsNorm(whole ? c.n_kv_head * c.d_head : c.d_head, c.norm_eps, init, c.norm_plus_one));
    }
    registerSsmax(*this, c, init.layer, ssmax_s, ssmax_b);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        int64_t layer, const ForwardContext& ctx) {
    const ModelConfig& c = ctx.config;
    const int64_t B = x.size(0), T = x.size(1), p0 = ctx.n_past, p1 = p0 + T;
    auto heads = [&](const torch::Tensor& t, int64_t n) {
      return t.view({B, T, n, c.d_head}).transpose(1, 2);
    };
    auto q = q_proj(x), k = k_proj(x);  // [B, T, H·d], [B, T, Hkv·d]
    if (c.qk_norm == QkNorm::Whole) q = q_norm(q), k = k_norm(k);
    q = heads(q, c.n_head), k = heads(k, c.n_kv_head);  // [B, H, T, d], [B, Hkv, T, d]
    if (c.qk_norm == QkNorm::PerHead) q = q_norm(q), k = k_norm(k);
    if (c.usesRope(layer)) q = Rope::apply(q, cos, sin), k = Rope::apply(k, cos, sin);  // else NoPE
    auto v = heads(v_proj(x), c.n_kv_head);                                             // [B, Hkv, T, d]
    const BlockHookNames& names = ctx.names[layer];
    if (ctx.hooks.listens(names.q)) ctx.hooks.fire({names.q, layer, p0, p1, p0, p1, q});
    if (ctx.hooks.listens(names.k)) ctx.hooks.fire({names.k, layer, p0, p1, p0, p1, k});
    if (ctx.hooks.listens(names.v)) ctx.hooks.fire({names.v, layer, p0, p1, p0, p1, v});
    auto [keys, values] = layerKeysValues(k, v, layer, ctx);  // [B, Hkv, n_past + T, d]
    return o_proj(attend(q, keys, values,
                         {layer, c.windowOf(layer), ssmax_s, ssmax_b, c.attn_scale, c.attn_softcap}, ctx));
  }
  Linear q_proj, k_proj, v_proj, o_proj;
  RmsNorm q_norm{nullptr}, k_norm{nullptr};
  torch::Tensor ssmax_s, ssmax_b;
};
TORCH_MODULE(LlamaAttention);

struct LlamaMlpImpl : torch::nn::Module {
  LlamaMlpImpl(const ModelConfig& c, const ParamInit& init)
      : gate_proj(register_module("gate_proj", Linear(c.d_model, c.d_ff, false, init))),
        up_proj(register_module("up_proj", Linear(c.d_model, c.d_ff, false, init))),
        down_proj(register_module("down_proj", Linear(c.d_ff, c.d_model, false, init))),
        gelu(c.gelu_mlp) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto gate = gate_proj(x);
    return down_proj((gelu ? torch::gelu(gate, "tanh") : torch::silu(gate)) * up_proj(x));
  }
  Linear gate_proj, up_proj, down_proj;
  bool gelu;
};
TORCH_MODULE(LlamaMlp);

struct LlamaLayerImpl : torch::nn::Module {
  LlamaLayerImpl(const ModelConfig& c, const ParamInit& init) {
    auto norm = [&](const char* name) {
      return register_module(name, RmsNorm(c.d_model, c.norm_eps, init, c.norm_plus_one));
    };
    // One name, two roles: Llama's post_attention_layernorm normalises the MLP's input, OLMo 2's and Gemma's
    // the attention's output.
    if (c.norm_layout != NormLayout::Post) attn_in = norm("input_layernorm");
    self_attn = register_module("self_attn", LlamaAttention(c, init));
    if (c.norm_layout == NormLayout::Pre) mlp_in = norm("post_attention_layernorm");
    if (c.norm_layout != NormLayout::Pre) attn_out = norm("post_attention_layernorm");
    if (c.norm_layout == NormLayout::PrePost) mlp_in = norm("pre_feedforward_layernorm");
    if (c.norm_layout != NormLayout::Pre) mlp_out = norm("post_feedforward_layernorm");
    mlp = register_module("mlp", LlamaMlp(c, init));
  }
  /// The attention sublayer's contribution to the residual stream x [B, T, d_model].
  torch::Tensor attention(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                          int64_t layer, const ForwardContext& ctx) {
    auto out = self_attn->forward(attn_in ? attn_in(x) : x, cos, sin, layer, ctx);
    return attn_out ? attn_out(out) : out;
  }
  /// The MLP sublayer's contribution for a slice of positions x [B, slice, d_model].
  torch::Tensor feedForward(const torch::Tensor& x) {
    auto out = mlp(mlp_in ? mlp_in(x) : x);
    return mlp_out ? mlp_out(out) : out;
  }
  RmsNorm attn_in{nullptr}, attn_out{nullptr}, mlp_in{nullptr}, mlp_out{nullptr};
  LlamaAttention self_attn{nullptr};
  LlamaMlp mlp{nullptr};
};
TORCH_MODULE(LlamaLayer);

/// The "model." part of the HF parameter names.
struct LlamaBodyImpl : torch::nn::Module {
  LlamaBodyImpl(const ModelConfig& c, const ParamInit& init)
      : embed_tokens(register_module("embed_tokens", Embedding(c.vocab_size, c.d_model, init))),
        layers(register_module("layers", torch::nn::ModuleList())),
        norm(register_module("norm", RmsNorm(c.d_model, c.norm_eps, init, c.norm_plus_one))) {
    for (int64_t i = 0; i < c.n_layer; ++i) {
      typed_layers.push_back(LlamaLayer(c, init.forLayer(i)));
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
      : model(register_module("model", LlamaBody(c, init))),
        rope(c),
        embed_scale(c.embed_scaled ? embedScale(c) : 1.0),
        final_softcap(c.final_softcap) {
    if (!c.tie_word_embeddings)
      lm_head = register_module("lm_head", Linear(c.d_model, c.vocab_size, false, init));
    if (c.rope_local_theta > 0.0) {  // gemma3: sliding layers rotate with their own base and no scaling
      ModelConfig local = c;
      local.rope_theta = c.rope_local_theta;
      local.rope_scaling = RopeScaling{};
      local_rope.emplace(local);
    }
  }

  torch::Tensor hidden(const torch::Tensor& ids, const ForwardContext& ctx) override {
    const int64_t T = ids.size(1), p0 = ctx.n_past, p1 = p0 + T;
    auto cosSin = [&](Rope& r) {
      return ctx.positions.defined() ? r.cosSinOf(ctx.positions) : r.cosSinAt(ctx.n_past, T);
    };
    auto [cos, sin] = cosSin(rope);
    torch::Tensor local_cos, local_sin;
    if (local_rope) std::tie(local_cos, local_sin) = cosSin(*local_rope);
    const int64_t mlp_block = positionBlock(ids.size(0), ctx.config.d_ff, ctx.options.max_mlp_bytes);
    auto x = model->embed_tokens(ids);
    if (embed_scale != 1.0) x = x * embed_scale;
    for (int64_t i = 0; i < static_cast<int64_t>(model->typed_layers.size()); ++i) {
      const BlockHookNames& names = ctx.names[i];
      LlamaLayer& layer = model->typed_layers[i];
      if (ctx.hooks.listens(names.resid_pre)) ctx.hooks.fire({names.resid_pre, i, p0, p1, p0, p1, x});
      const bool local = local_rope && ctx.config.isSlidingLayer(i);
      x = x + layer->attention(x, local ? local_cos : cos, local ? local_sin : sin, i, ctx);
      x = addPositionwise(x, mlp_block, [&](const torch::Tensor& part) { return layer->feedForward(part); });
      if (ctx.hooks.listens(names.resid_post)) ctx.hooks.fire({names.resid_post, i, p0, p1, p0, p1, x});
      if (ctx.hooks.stopped()) break;  // a hook ended the pass
    }
    return model->norm(x);
  }

  torch::Tensor unembed(const torch::Tensor& x) override {
    auto logits = lm_head ? lm_head(x) : project(x, model->embed_tokens->weight);
    return final_softcap > 0.0 ? torch::tanh(logits / final_softcap) * final_softcap : logits;
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
  /// Gemma's embedding multiplier: sqrt(d_model) as a float32 scalar cast to the checkpoint's dtype
  /// (config torch_dtype, float32 when it names none), as transformers computes it.
  static double embedScale(const ModelConfig& c) {
    auto scale = torch::tensor(static_cast<float>(std::sqrt(static_cast<double>(c.d_model))));
    if (c.torch_dtype == "bfloat16") scale = scale.to(torch::kBFloat16);
    if (c.torch_dtype == "float16") scale = scale.to(torch::kFloat16);
    return scale.to(torch::kFloat64).item<double>();
  }

  LlamaBody model;
  Linear lm_head{nullptr};
  Rope rope;
  std::optional<Rope> local_rope;
  double embed_scale, final_softcap;
};

}  // namespace

std::shared_ptr<TransformerImpl> makeLlama(const ModelConfig& config, const ParamInit& init) {
  return std::make_shared<Llama>(config, init);
}

}  // namespace attnscope
