"""GPT-NeoX (Pythia) for the float64 reference, written from Hugging Face's modeling_gpt_neox.py and
configuration_gpt_neox.py: LayerNorms with biases, the fused query_key_value whose output holds each head's q, k and
v side by side ([head, 3, head_size]), rotary embeddings on the first int(head_size * rotary_pct) dimensions of each
head (base rotary_emb_base), a GELU MLP with biases, parallel (x + attn(ln1 x) + mlp(ln2 x)) or sequential residual,
and the untied embed_out head."""
import math

import torch

from reference_common import (F64, HF_DTYPE, Case, Weights, attend, layer_norm, rope_inv_freq, rotate_partial,
                              seed_of)


def gelu(x, kind):
    if kind == "gelu":  # exact: x * Phi(x)
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    # gelu_new / gelu_fast / gelu_pytorch_tanh: the tanh approximation
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt_neox_forward(cfg, W, ids, run):
    D, H, T = cfg["hidden_size"], cfg["num_attention_heads"], len(ids)
    d = D // H
    rotary_ndims = int(d * cfg.get("rotary_pct", 0.25))
    eps, bias = cfg.get("layer_norm_eps", 1e-5), cfg.get("attention_bias", True)
    # The rotary embedding sees rotary_emb_base as its theta and rotary_ndims as its dimension.
    inv, attention_factor = rope_inv_freq(dict(cfg, rope_theta=cfg.get("rotary_emb_base", 10000)), rotary_ndims, T)
    angles = torch.arange(T, dtype=F64)[:, None] * inv[None]
    angles = torch.cat([angles, angles], dim=-1)
    cos, sin = angles.cos() * attention_factor, angles.sin() * attention_factor

    def linear(x, name, with_bias):
        y = x @ W[name + ".weight"].T
        return y + W[name + ".bias"] if with_bias else y

    def ln(x, name):
        return layer_norm(x, W[name + ".weight"], W[name + ".bias"], eps)

    h = W["gpt_neox.embed_in.weight"][ids]
    patterns, scores = [], []
    for l in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{l}."
        qkv = linear(ln(h, p + "input_layernorm"), p + "attention.query_key_value", bias)  # [T, H * 3 * d]
        qkv = qkv.reshape(T, H, 3 * d).transpose(0, 1)  # [H, T, 3d]: per head q, then k, then v
        q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
        q, k = rotate_partial(q, cos, sin), rotate_partial(k, cos, sin)
        out, pat, z = attend(q, k, v, None, run, l)
        patterns.append(pat), scores.append(z)
        attn = linear(out.transpose(0, 1).reshape(T, D), p + "attention.dense", bias)

        def mlp(x):
            x = linear(ln(x, p + "post_attention_layernorm"), p + "mlp.dense_h_to_4h", True)
            return linear(gelu(x, cfg.get("hidden_act", "gelu")), p + "mlp.dense_4h_to_h", True)
        if cfg.get("use_parallel_residual", True):
            h = mlp(h) + attn + h
        else:
            attn = attn + h
            h = mlp(attn) + attn
    h = ln(h, "gpt_neox.final_layer_norm")
    head = W["gpt_neox.embed_in.weight"] if cfg.get("tie_word_embeddings", False) else W["embed_out.weight"]
    return h @ head.T, patterns, scores


def gpt_neox_model(name, V, D, n_layer=2, n_head=4, inter=None, dtype=torch.float32, rotary_pct=0.25,
                   parallel=True, max_pos=128, old_buffers=False, **extra):
    """old_buffers: also store the attention.bias / masked_bias / rotary_emb.inv_freq buffers old Pythia exports
    carry (the model must ignore them)."""
    inter = inter or 4 * D
    cfg = {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "vocab_size": V, "hidden_size": D,
           "num_hidden_layers": n_layer, "num_attention_heads": n_head, "intermediate_size": inter,
           "hidden_act": "gelu", "rotary_pct": rotary_pct, "rotary_emb_base": 10000,
           "max_position_embeddings": max_pos, "layer_norm_eps": 1e-5, "use_parallel_residual": parallel,
           "tie_word_embeddings": False, "attention_bias": True, "bos_token_id": 0, "eos_token_id": 0,
           "torch_dtype": HF_DTYPE[dtype]}
    cfg.update(extra)
    w, bias = Weights(seed_of(name), dtype), cfg["attention_bias"]
    d = D // n_head

    def norm(n):
        w.randn(n + ".weight", (D,), 0.1, 1.0), w.randn(n + ".bias", (D,), 0.05)

    def linear(n, n_out, n_in, std, with_bias):
        w.randn(n + ".weight", (n_out, n_in), std)
        if with_bias:
            w.randn(n + ".bias", (n_out,), 0.05)

    w.randn("gpt_neox.embed_in.weight", (V, D), 0.3)
    for l in range(n_layer):
        p = f"gpt_neox.layers.{l}."
        norm(p + "input_layernorm"), norm(p + "post_attention_layernorm")
        linear(p + "attention.query_key_value", 3 * D, D, 0.2, bias)
        linear(p + "attention.dense", D, D, 0.15, bias)
        if cfg.get("attention_normalizer") == "ssmax":
            w.uniform(p + "attention.ssmax_s", (n_head,), 0.2, 0.6)
        linear(p + "mlp.dense_h_to_4h", inter, D, 0.12, True)
        linear(p + "mlp.dense_4h_to_h", D, inter, 0.1, True)
        if old_buffers:
            w.stored[p + "attention.bias"] = torch.tril(torch.ones(max_pos, max_pos, dtype=torch.bool))[None, None]
            w.stored[p + "attention.masked_bias"] = torch.tensor(-1e9)
            rotary_ndims = int(d * rotary_pct)
            w.stored[p + "attention.rotary_emb.inv_freq"] = (
                1.0 / 10000 ** (torch.arange(0, rotary_ndims, 2).float() / rotary_ndims))
    norm("gpt_neox.final_layer_norm")
    if not cfg["tie_word_embeddings"]:
        w.randn("embed_out.weight", (V, D), 0.2)
    return Case(name, cfg, w)
