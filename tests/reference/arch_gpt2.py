"""GPT-2 for the float64 reference, written from Hugging Face's modeling_gpt2.py."""
import math

import torch

from reference_common import HF_DTYPE, Case, Weights, attend, layer_norm, seed_of


def gelu_new(x):  # GPT-2's tanh approximation
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gpt2_forward(cfg, W, ids, run):
    D, H, T = cfg["n_embd"], cfg["n_head"], len(ids)
    d = D // H

    def conv1d(x, name):  # GPT-2's Conv1D stores the weight as [in, out]
        return x @ W[name + ".weight"] + W[name + ".bias"]

    def ln(x, name):
        return layer_norm(x, W[name + ".weight"], W[name + ".bias"], cfg["layer_norm_epsilon"])

    def heads(t):
        return t.reshape(T, H, d).transpose(0, 1)

    h = W["wte.weight"][ids] + W["wpe.weight"][:T]
    patterns, scores = [], []
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        q, k, v = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn").split(D, dim=-1)
        out, pat, z = attend(heads(q), heads(k), heads(v), None, run, l)
        patterns.append(pat), scores.append(z)
        h = h + conv1d(out.transpose(0, 1).reshape(T, D), p + "attn.c_proj")
        h = h + conv1d(gelu_new(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    return ln(h, "ln_f") @ W["wte.weight"].T, patterns, scores  # lm_head is tied to wte


def gpt2_model(name, V, D, n_layer=2, n_head=4, n_inner=None, n_positions=64, dtype=torch.float32):
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_positions": n_positions,
           "n_ctx": n_positions, "n_embd": D, "n_layer": n_layer, "n_head": n_head, "n_inner": n_inner,
           "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "scale_attn_weights": True,
           "tie_word_embeddings": True, "torch_dtype": HF_DTYPE[dtype]}
    w, inner = Weights(seed_of(name), dtype), n_inner or 4 * D

    def norm(n):
        w.randn(n + ".weight", (D,), 0.1, 1.0), w.randn(n + ".bias", (D,), 0.05)

    def conv(n, n_in, n_out, std):
        w.randn(n + ".weight", (n_in, n_out), std), w.randn(n + ".bias", (n_out,), 0.05)

    w.randn("wte.weight", (V, D), 0.3)
    w.randn("wpe.weight", (n_positions, D), 0.1)
    for l in range(n_layer):
        p = f"h.{l}."
        norm(p + "ln_1"), conv(p + "attn.c_attn", D, 3 * D, 0.2), conv(p + "attn.c_proj", D, D, 0.15)
        norm(p + "ln_2"), conv(p + "mlp.c_fc", D, inner, 0.15), conv(p + "mlp.c_proj", inner, D, 0.1)
    norm("ln_f")
    return Case(name, cfg, w)
