"""Qwen3 for the float64 reference, written from Hugging Face's modeling_qwen3 and configuration_qwen3: Qwen2's
block with an RMSNorm over each head's d_head on q and k (q_norm, k_norm) before RoPE, attention_bias on q, k, v
and o, head_dim 128 unless the config says otherwise, and a sliding window on the layers layer_types marks
sliding_attention (by default those from max_window_layers on, and only with use_sliding_window)."""
import torch

from reference_common import (HF_DTYPE, Case, Weights, attend, linear as common_linear, random_attention,
                              rms_norm, rope_cos_sin, rope_inv_freq, rotate, seed_of, uses_rope)


def qwen3_layer_types(cfg):
    window = cfg.get("sliding_window", 4096) if cfg.get("use_sliding_window", False) else None
    if cfg.get("layer_types") is not None:
        return cfg["layer_types"]
    return ["sliding_attention" if window is not None and i >= cfg.get("max_window_layers", 28) else "full_attention"
            for i in range(cfg["num_hidden_layers"])]


def qwen3_forward(cfg, W, ids, run):
    H, KV, T = cfg["num_attention_heads"], cfg["num_key_value_heads"], len(ids)
    d, eps, bias = cfg.get("head_dim", 128), cfg.get("rms_norm_eps", 1e-6), cfg.get("attention_bias", False)
    window = cfg.get("sliding_window", 4096) if cfg.get("use_sliding_window", False) else None
    types = qwen3_layer_types(cfg)
    cos, sin = rope_cos_sin(*rope_inv_freq(cfg, d, T), T)

    def linear(x, name, with_bias=False):
        return common_linear(W, x, name, with_bias)

    h = W["model.embed_tokens.weight"][ids]
    patterns, scores = [], []
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}.self_attn."
        x = rms_norm(h, W[f"model.layers.{l}.input_layernorm.weight"], eps)
        # [T, heads, d]: the norm runs over d alone, per head, before the heads move to the front
        q = rms_norm(linear(x, p + "q_proj", bias).view(T, H, d), W[p + "q_norm.weight"], eps).transpose(0, 1)
        k = rms_norm(linear(x, p + "k_proj", bias).view(T, KV, d), W[p + "k_norm.weight"], eps).transpose(0, 1)
        v = linear(x, p + "v_proj", bias).view(T, KV, d).transpose(0, 1)
        if uses_rope(cfg, l):
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k, v = k.repeat_interleave(H // KV, dim=0), v.repeat_interleave(H // KV, dim=0)
        out, pat, z = attend(q, k, v, window if types[l] == "sliding_attention" else None, run, l)
        patterns.append(pat), scores.append(z)
        h = h + linear(out.transpose(0, 1).reshape(T, H * d), p + "o_proj", bias)
        x = rms_norm(h, W[f"model.layers.{l}.post_attention_layernorm.weight"], eps)
        m = f"model.layers.{l}.mlp."
        gate = linear(x, m + "gate_proj")
        h = h + linear(gate * torch.sigmoid(gate) * linear(x, m + "up_proj"), m + "down_proj")
    h = rms_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return h @ head.T, patterns, scores


def qwen3_model(name, V, D, n_kv, n_layer=2, n_head=4, hd=16, dtype=torch.float32, tied=False, bias=False,
                **extra):
    cfg = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": V, "hidden_size": D,
           "intermediate_size": 2 * D, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
           "num_key_value_heads": n_kv, "head_dim": hd, "hidden_act": "silu", "max_position_embeddings": 128,
           "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": None, "attention_bias": bias,
           "attention_dropout": 0.0, "tie_word_embeddings": tied, "torch_dtype": HF_DTYPE[dtype],
           "use_sliding_window": False, "sliding_window": None, "max_window_layers": n_layer}
    cfg.update(extra)
    w = Weights(seed_of(name), dtype)
    w.randn("model.embed_tokens.weight", (V, D), 0.3)
    for l in range(n_layer):
        p = f"model.layers.{l}."
        w.randn(p + "input_layernorm.weight", (D,), 0.1, 1.0)
        random_attention(w, p, D, n_head, n_kv, hd, 0.15, bias)
        # q/k norm weights well away from 1, so that a forward pass that skipped them would disagree
        w.randn(p + "self_attn.q_norm.weight", (hd,), 0.3, 0.8)
        w.randn(p + "self_attn.k_norm.weight", (hd,), 0.3, 0.8)
        w.randn(p + "post_attention_layernorm.weight", (D,), 0.1, 1.0)
        w.randn(p + "mlp.gate_proj.weight", (2 * D, D), 0.12)
        w.randn(p + "mlp.up_proj.weight", (2 * D, D), 0.12)
        w.randn(p + "mlp.down_proj.weight", (D, 2 * D), 0.12)
    w.randn("model.norm.weight", (D,), 0.1, 1.0)
    if not tied:
        w.randn("lm_head.weight", (V, D), 0.2)
    return Case(name, cfg, w)
