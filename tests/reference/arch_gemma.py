"""Gemma 2 and Gemma 3 (text) for the float64 reference, written from Hugging Face's modeling_gemma2,
modeling_gemma3, configuration_gemma2 and configuration_gemma3:
- embeddings times sqrt(hidden_size), that factor a float32 scalar cast to the weights' dtype;
- RMSNorm scaling by (1 + weight), weights stored around 0;
- four norms per block: input_layernorm and post_attention_layernorm around attention, pre_feedforward_layernorm
  and post_feedforward_layernorm around the MLP, the post-norms applied before the residual add;
- gated MLP with GELU, tanh approximation (hidden_activation gelu_pytorch_tanh);
- scores scaled by query_pre_attn_scalar^-0.5 and, with attn_logit_softcapping, capped: cap * tanh(z / cap);
- logits capped likewise with final_logit_softcapping (Gemma 2 defaults 50 and 30, Gemma 3 none);
- sliding-window layers from layer_types; without it, Gemma 2 alternates sliding and full layers (sliding first)
  and Gemma 3 makes every sliding_window_pattern-th layer full;
- Gemma 3 only: q_norm and k_norm ((1 + weight) RMSNorm over each head's head_dim) before RoPE, and RoPE with
  rope_local_base_freq (no scaling) on sliding layers, rope_theta and rope_scaling on full ones.
The normalizer's multiplier m scales the capped scores: m * cap * tanh(z / cap)."""
import math

import torch

from reference_common import (F64, HF_DTYPE, Case, Weights, attend, linear as common_linear, random_attention,
                              rope_cos_sin, rope_inv_freq, rotate, seed_of)

TORCH_DTYPE = {name: dtype for dtype, name in HF_DTYPE.items()}


def gemma_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * (1.0 + w)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gemma_layer_types(cfg):
    if cfg.get("layer_types") is not None:
        return cfg["layer_types"]
    pattern = cfg.get("sliding_window_pattern", 6) if cfg["model_type"] == "gemma3_text" else 2
    return ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(cfg["num_hidden_layers"])]


def gemma_forward(cfg, W, ids, run):
    gemma3 = cfg["model_type"] == "gemma3_text"
    H, KV, T, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], len(ids), cfg["hidden_size"]
    d, eps = cfg.get("head_dim", 256), cfg.get("rms_norm_eps", 1e-6)
    scale = cfg.get("query_pre_attn_scalar", 256) ** -0.5
    attn_cap = cfg.get("attn_logit_softcapping", None if gemma3 else 50.0)
    final_cap = cfg.get("final_logit_softcapping", None if gemma3 else 30.0)
    types = gemma_layer_types(cfg)
    rope = {"full_attention": rope_cos_sin(*rope_inv_freq(cfg, d, T), T)}
    if gemma3:
        local = {"rope_theta": cfg.get("rope_local_base_freq", 10000.0), "max_position_embeddings": 1}
        rope["sliding_attention"] = rope_cos_sin(*rope_inv_freq(local, d, T), T)
    else:
        rope["sliding_attention"] = rope["full_attention"]

    bias = cfg.get("attention_bias", False)

    def linear(x, name, with_bias=False):
        return common_linear(W, x, name, with_bias)

    weight_dtype = TORCH_DTYPE.get(cfg.get("torch_dtype"), torch.float32)
    normalizer = torch.tensor(math.sqrt(D), dtype=torch.float32).to(weight_dtype).to(F64)
    h = W["model.embed_tokens.weight"][ids] * normalizer
    patterns, scores = [], []
    for l in range(cfg["num_hidden_layers"]):
        p, a = f"model.layers.{l}.", f"model.layers.{l}.self_attn."
        x = gemma_norm(h, W[p + "input_layernorm.weight"], eps)
        q = linear(x, a + "q_proj", bias).view(T, H, d)
        k = linear(x, a + "k_proj", bias).view(T, KV, d)
        v = linear(x, a + "v_proj", bias).view(T, KV, d).transpose(0, 1)
        if gemma3:
            q, k = gemma_norm(q, W[a + "q_norm.weight"], eps), gemma_norm(k, W[a + "k_norm.weight"], eps)
        cos, sin = rope[types[l]]
        q, k = rotate(q.transpose(0, 1), cos, sin), rotate(k.transpose(0, 1), cos, sin)
        k, v = k.repeat_interleave(H // KV, dim=0), v.repeat_interleave(H // KV, dim=0)
        window = cfg.get("sliding_window", 4096) if types[l] == "sliding_attention" else None
        out, pat, z = attend(q, k, v, window, run, l, scale=scale, softcap=attn_cap)
        patterns.append(pat), scores.append(z)
        attn = linear(out.transpose(0, 1).reshape(T, H * d), a + "o_proj", bias)
        h = h + gemma_norm(attn, W[p + "post_attention_layernorm.weight"], eps)
        x = gemma_norm(h, W[p + "pre_feedforward_layernorm.weight"], eps)
        mlp = linear(gelu_tanh(linear(x, p + "mlp.gate_proj")) * linear(x, p + "mlp.up_proj"), p + "mlp.down_proj")
        h = h + gemma_norm(mlp, W[p + "post_feedforward_layernorm.weight"], eps)
    h = gemma_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", True) else W["lm_head.weight"]
    logits = h @ head.T
    if final_cap is not None:
        logits = torch.tanh(logits / final_cap) * final_cap
    return logits, patterns, scores


def gemma_model(name, model_type, V, D, n_kv, n_layer=2, n_head=4, hd=16, dtype=torch.float32, tied=True,
                bias=False, **extra):
    arch = {"gemma2": "Gemma2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM"}[model_type]
    cfg = {"architectures": [arch], "model_type": model_type, "vocab_size": V, "hidden_size": D,
           "intermediate_size": 2 * D, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
           "num_key_value_heads": n_kv, "head_dim": hd, "hidden_activation": "gelu_pytorch_tanh",
           "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "attention_bias": bias,
           "attention_dropout": 0.0, "tie_word_embeddings": tied, "torch_dtype": HF_DTYPE[dtype],
           "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2, "cache_implementation": "hybrid"}
    if model_type == "gemma2":
        cfg["hidden_act"] = "gelu_pytorch_tanh"  # Gemma 2 configs carry both; modeling_gemma2 reads the other
    cfg.update(extra)
    w = Weights(seed_of(name), dtype)
    w.randn("model.embed_tokens.weight", (V, D), 0.05)
    for l in range(n_layer):
        p = f"model.layers.{l}."
        random_attention(w, p, D, n_head, n_kv, hd, 0.2, bias)
        if model_type == "gemma3_text":
            w.randn(p + "self_attn.q_norm.weight", (hd,), 0.3, 0.3)
            w.randn(p + "self_attn.k_norm.weight", (hd,), 0.3, 0.3)
        for norm in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                     "post_feedforward_layernorm"):
            w.randn(p + norm + ".weight", (D,), 0.1)
        w.randn(p + "mlp.gate_proj.weight", (2 * D, D), 0.15)
        w.randn(p + "mlp.up_proj.weight", (2 * D, D), 0.15)
        w.randn(p + "mlp.down_proj.weight", (D, 2 * D), 0.15)
    w.randn("model.norm.weight", (D,), 0.1)
    if not tied:
        w.randn("lm_head.weight", (V, D), 0.2)
    return Case(name, cfg, w)
