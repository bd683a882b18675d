"""Phi-3 for the float64 reference, written from Hugging Face's modeling_phi3.py, configuration_phi3.py and the
longrope branch of modeling_rope_utils: RMSNorm, a fused qkv_proj ([query heads | key heads | value heads] along the
output), rotary embeddings on the first int(head_dim * partial_rotary_factor) dimensions, rope_scaling longrope (the
older names "su" and "yarn" are longrope to Phi3Config), grouped-query attention, one sliding window for every layer
when sliding_window is set, and a fused gate_up_proj ([gate | up]) SiLU MLP."""
import torch

from reference_common import (F64, HF_DTYPE, Case, Weights, attend, rms_norm, rope_inv_freq, rotate_partial,
                              seed_of)


def phi3_forward(cfg, W, ids, run):
    H, T, D = cfg["num_attention_heads"], len(ids), cfg["hidden_size"]
    KV = cfg.get("num_key_value_heads") or H
    d = D // H
    rotary_ndims = int(d * cfg.get("partial_rotary_factor", 1.0))
    eps = cfg["rms_norm_eps"]
    rs = dict(cfg.get("rope_scaling") or {})
    if rs.get("rope_type", rs.get("type")) in ("su", "yarn"):
        rs["rope_type"] = "longrope"
    inv, attention_factor = rope_inv_freq(dict(cfg, rope_scaling=rs or None), rotary_ndims, T)
    angles = torch.arange(T, dtype=F64)[:, None] * inv[None]
    angles = torch.cat([angles, angles], dim=-1)
    cos, sin = angles.cos() * attention_factor, angles.sin() * attention_factor

    def linear(x, name):  # every Phi-3 projection is bias-free
        return x @ W[name + ".weight"].T

    def heads(t, n):
        return t.reshape(T, n, d).transpose(0, 1)

    h = W["model.embed_tokens.weight"][ids]
    patterns, scores = [], []
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        qkv = linear(rms_norm(h, W[p + "input_layernorm.weight"], eps), p + "self_attn.qkv_proj")
        q = heads(qkv[:, :H * d], H)
        k = heads(qkv[:, H * d:(H + KV) * d], KV)
        v = heads(qkv[:, (H + KV) * d:], KV)
        q, k = rotate_partial(q, cos, sin), rotate_partial(k, cos, sin)
        k, v = k.repeat_interleave(H // KV, dim=0), v.repeat_interleave(H // KV, dim=0)
        out, pat, z = attend(q, k, v, cfg.get("sliding_window"), run, l)
        patterns.append(pat), scores.append(z)
        h = h + linear(out.transpose(0, 1).reshape(T, H * d), p + "self_attn.o_proj")
        gate, up = linear(rms_norm(h, W[p + "post_attention_layernorm.weight"], eps), p + "mlp.gate_up_proj").chunk(2, -1)
        h = h + linear(up * gate * torch.sigmoid(gate), p + "mlp.down_proj")
    h = rms_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return h @ head.T, patterns, scores


def longrope(name, half, original, kind="longrope"):
    """Short factors near 1 and long ones growing with the wavelength, as the released checkpoints have them."""
    gen = torch.Generator().manual_seed(seed_of(name) + 7)
    short = [round(1.0 + 0.1 * float(x), 4) for x in torch.rand(half, generator=gen)]
    long_ = [round(1.0 + 4.0 * i / max(1, half - 1) + 0.3 * float(x), 4)
             for i, x in enumerate(torch.rand(half, generator=gen))]
    return {"type": kind, "short_factor": short, "long_factor": long_}, original


def phi3_model(name, V, D, n_kv, n_layer=2, n_head=4, inter=None, dtype=torch.float32, tied=False, partial=None,
               rope_scaling=None, original=None, max_pos=128, qkv_std=0.2, **extra):
    inter = inter or 2 * D
    cfg = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "vocab_size": V, "hidden_size": D,
           "intermediate_size": inter, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
           "num_key_value_heads": n_kv, "hidden_act": "silu", "max_position_embeddings": max_pos,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": rope_scaling, "sliding_window": None,
           "tie_word_embeddings": tied, "attention_dropout": 0.0, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
           "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "torch_dtype": HF_DTYPE[dtype]}
    if partial is not None:
        cfg["partial_rotary_factor"] = partial
    if original is not None:
        cfg["original_max_position_embeddings"] = original
    cfg.update(extra)
    w, d = Weights(seed_of(name), dtype), D // n_head
    w.randn("model.embed_tokens.weight", (V, D), 0.3)
    for l in range(n_layer):
        p = f"model.layers.{l}."
        w.randn(p + "input_layernorm.weight", (D,), 0.1, 1.0)
        w.randn(p + "self_attn.qkv_proj.weight", ((n_head + 2 * n_kv) * d, D), qkv_std)
        w.randn(p + "self_attn.o_proj.weight", (D, n_head * d), 0.15)
        if cfg.get("attention_normalizer") == "ssmax":
            w.uniform(p + "self_attn.ssmax_s", (n_head,), 0.2, 0.6)
        w.randn(p + "post_attention_layernorm.weight", (D,), 0.1, 1.0)
        w.randn(p + "mlp.gate_up_proj.weight", (2 * inter, D), 0.12)
        w.randn(p + "mlp.down_proj.weight", (D, inter), 0.12)
    w.randn("model.norm.weight", (D,), 0.1, 1.0)
    if not tied:
        w.randn("lm_head.weight", (V, D), 0.2)
    return Case(name, cfg, w)
