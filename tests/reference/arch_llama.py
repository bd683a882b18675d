"""The Llama family (Llama, Mistral, Qwen2) for the float64 reference, written from Hugging Face's modeling_llama,
modeling_mistral, modeling_qwen2 and modeling_rope_utils."""
import torch

from reference_common import (F64, HF_DTYPE, Case, Weights, attend, head_dim, rms_norm, rope_inv_freq, rotate,
                              seed_of, uses_rope)


def biased_projections(cfg):
    if cfg["model_type"] == "qwen2":
        return {"q_proj", "k_proj", "v_proj"}
    if cfg.get("attention_bias"):  # llama
        return {"q_proj", "k_proj", "v_proj", "o_proj"}
    return set()


def sliding_window(cfg, layer):
    if cfg["model_type"] == "mistral":
        return cfg.get("sliding_window")
    if cfg["model_type"] == "qwen2" and cfg.get("use_sliding_window"):
        return cfg["sliding_window"] if layer >= cfg["max_window_layers"] else None
    if cfg["model_type"] == "llama" and cfg.get("layer_types") is not None:
        # attnscope's extension: a llama config may give layer_types (and a sliding_window), with the meaning
        # Qwen2/Qwen3/Gemma give them
        return cfg["sliding_window"] if cfg["layer_types"][layer] == "sliding_attention" else None
    return None  # qwen2 configs carry a sliding_window even when use_sliding_window is false: ignored



def llama_forward(cfg, W, ids, run, position_ids=None):
    """position_ids: RoPE positions [T] as transformers' position_ids (default 0..T-1); only RoPE reads them."""
    H, KV, d, T = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg), len(ids)
    eps, biased = cfg["rms_norm_eps"], biased_projections(cfg)
    positions = torch.arange(T) if position_ids is None else position_ids
    inv, attention_factor = rope_inv_freq(cfg, d, int(positions.max()) + 1)
    angles = positions.to(F64)[:, None] * inv[None]
    angles = torch.cat([angles, angles], dim=-1)
    cos, sin = angles.cos() * attention_factor, angles.sin() * attention_factor

    def linear(x, name, bias=False):  # nn.Linear stores [out, in]
        y = x @ W[name + ".weight"].T
        return y + W[name + ".bias"] if bias else y

    def project(x, p, proj, n_heads):
        return linear(x, p + "self_attn." + proj, proj in biased).reshape(T, n_heads, d).transpose(0, 1)

    h = W["model.embed_tokens.weight"][ids]
    patterns, scores = [], []
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        x = rms_norm(h, W[p + "input_layernorm.weight"], eps)
        q, k = project(x, p, "q_proj", H), project(x, p, "k_proj", KV)
        if uses_rope(cfg, l):
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        v = project(x, p, "v_proj", KV)
        # GQA: query head h reads kv head h // (H / KV)
        k, v = k.repeat_interleave(H // KV, dim=0), v.repeat_interleave(H // KV, dim=0)
        out, pat, z = attend(q, k, v, sliding_window(cfg, l), run, l)
        patterns.append(pat), scores.append(z)
        h = h + linear(out.transpose(0, 1).reshape(T, H * d), p + "self_attn.o_proj", "o_proj" in biased)
        x = rms_norm(h, W[p + "post_attention_layernorm.weight"], eps)
        gate = linear(x, p + "mlp.gate_proj")
        h = h + linear(gate * torch.sigmoid(gate) * linear(x, p + "mlp.up_proj"), p + "mlp.down_proj")
    h = rms_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return h @ head.T, patterns, scores


def llama_model(name, V, D, n_kv, model_type="llama", n_layer=2, n_head=4, inter=None, hd=None,
                dtype=torch.float32, tied=False, rope_theta=10000.0, rope_scaling=None, max_pos=128, **extra):
    arch = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM"}[model_type]
    cfg = {"architectures": [arch], "model_type": model_type, "vocab_size": V, "hidden_size": D,
           "intermediate_size": inter or 2 * D, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
           "num_key_value_heads": n_kv, "hidden_act": "silu", "max_position_embeddings": max_pos,
           "rms_norm_eps": 1e-5 if model_type == "llama" else 1e-6, "rope_theta": rope_theta,
           "rope_scaling": rope_scaling, "tie_word_embeddings": tied, "torch_dtype": HF_DTYPE[dtype]}
    if model_type == "llama":
        cfg.update(attention_bias=False, mlp_bias=False)
    if hd is not None:
        cfg["head_dim"] = hd
    cfg.update(extra)
    w, d, biased = Weights(seed_of(name), dtype), head_dim(cfg), biased_projections(cfg)
    w.randn("model.embed_tokens.weight", (V, D), 0.3)
    for l in range(n_layer):
        p = f"model.layers.{l}."
        w.randn(p + "input_layernorm.weight", (D,), 0.1, 1.0)
        for proj, n_out, n_in, std in (("q_proj", n_head * d, D, 0.2), ("k_proj", n_kv * d, D, 0.2),
                                       ("v_proj", n_kv * d, D, 0.15), ("o_proj", D, n_head * d, 0.15)):
            w.randn(p + f"self_attn.{proj}.weight", (n_out, n_in), std)
            if proj in biased:
                w.randn(p + f"self_attn.{proj}.bias", (n_out,), 0.05)
        if cfg.get("attention_normalizer") == "ssmax" and l in cfg.get("ssmax_layers", range(n_layer)):
            w.uniform(p + "self_attn.ssmax_s", (n_head,), 0.2, 0.6)
            if cfg.get("ssmax_bias"):
                w.uniform(p + "self_attn.ssmax_b", (n_head,), -0.1, 0.3)
        w.randn(p + "post_attention_layernorm.weight", (D,), 0.1, 1.0)
        for proj, shape in (("gate_proj", (cfg["intermediate_size"], D)), ("up_proj", (cfg["intermediate_size"], D)),
                            ("down_proj", (D, cfg["intermediate_size"]))):
            w.randn(p + f"mlp.{proj}.weight", shape, 0.12)
    w.randn("model.norm.weight", (D,), 0.1, 1.0)
    if not tied:
        w.randn("lm_head.weight", (V, D), 0.2)
    return Case(name, cfg, w)


def llama_gqa():
    return llama_model("llama_gqa", V=109, D=64, n_kv=2, inter=112)
