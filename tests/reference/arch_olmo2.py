"""OLMo 2 for the float64 reference, written from Hugging Face's modeling_olmo2 and configuration_olmo2: q_norm and
k_norm are RMSNorms over the whole projected q ([heads * head_dim]) and k ([kv_heads * head_dim]) before the heads
are split and rotated; the block has no input norms, only norms on the attention output
(post_attention_layernorm) and on the MLP output (post_feedforward_layernorm), each added to the residual
stream after the norm. rms_norm_eps defaults to 1e-5."""
import torch

from reference_common import (HF_DTYPE, Case, Weights, attend, linear as common_linear, random_attention,
                              rms_norm, rope_cos_sin, rope_inv_freq, rotate, seed_of)


def olmo2_forward(cfg, W, ids, run):
    H, KV, T = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"], len(ids)
    d = cfg["hidden_size"] // H
    eps, bias = cfg.get("rms_norm_eps", 1e-5), cfg.get("attention_bias", False)
    cos, sin = rope_cos_sin(*rope_inv_freq(cfg, d, T), T)

    def linear(x, name, with_bias=False):
        return common_linear(W, x, name, with_bias)

    h = W["model.embed_tokens.weight"][ids]
    patterns, scores = [], []
    for l in range(cfg["num_hidden_layers"]):
        p, a = f"model.layers.{l}.", f"model.layers.{l}.self_attn."
        q = rms_norm(linear(h, a + "q_proj", bias), W[a + "q_norm.weight"], eps)  # [T, H * d], one norm per token
        k = rms_norm(linear(h, a + "k_proj", bias), W[a + "k_norm.weight"], eps)
        v = linear(h, a + "v_proj", bias)
        q = rotate(q.view(T, H, d).transpose(0, 1), cos, sin)
        k = rotate(k.view(T, KV, d).transpose(0, 1), cos, sin)
        v = v.view(T, KV, d).transpose(0, 1)
        k, v = k.repeat_interleave(H // KV, dim=0), v.repeat_interleave(H // KV, dim=0)
        out, pat, z = attend(q, k, v, None, run, l)
        patterns.append(pat), scores.append(z)
        attn = linear(out.transpose(0, 1).reshape(T, H * d), a + "o_proj", bias)
        h = h + rms_norm(attn, W[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, p + "mlp.gate_proj")
        mlp = linear(gate * torch.sigmoid(gate) * linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        h = h + rms_norm(mlp, W[p + "post_feedforward_layernorm.weight"], eps)
    h = rms_norm(h, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else W["lm_head.weight"]
    return h @ head.T, patterns, scores


def olmo2_model(name, V, D, n_kv, n_layer=2, n_head=4, dtype=torch.float32, tied=False, bias=False, **extra):
    cfg = {"architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "vocab_size": V, "hidden_size": D,
           "intermediate_size": 2 * D, "num_hidden_layers": n_layer, "num_attention_heads": n_head,
           "num_key_value_heads": n_kv, "hidden_act": "silu", "max_position_embeddings": 128,
           "rope_theta": 500000.0, "rope_scaling": None, "attention_bias": bias, "attention_dropout": 0.0,
           "tie_word_embeddings": tied, "torch_dtype": HF_DTYPE[dtype], "pad_token_id": 1, "eos_token_id": 50279}
    cfg.update(extra)
    d = D // n_head
    w = Weights(seed_of(name), dtype)
    w.randn("model.embed_tokens.weight", (V, D), 0.3)
    for l in range(n_layer):
        p = f"model.layers.{l}."
        random_attention(w, p, D, n_head, n_kv, d, 0.15, bias)
        w.randn(p + "self_attn.q_norm.weight", (n_head * d,), 0.3, 0.8)
        w.randn(p + "self_attn.k_norm.weight", (n_kv * d,), 0.3, 0.8)
        w.randn(p + "post_attention_layernorm.weight", (D,), 0.1, 1.0)
        w.randn(p + "mlp.gate_proj.weight", (2 * D, D), 0.12)
        w.randn(p + "mlp.up_proj.weight", (2 * D, D), 0.12)
        w.randn(p + "mlp.down_proj.weight", (D, 2 * D), 0.12)
        w.randn(p + "post_feedforward_layernorm.weight", (D,), 0.1, 1.0)
    w.randn("model.norm.weight", (D,), 0.1, 1.0)
    if not tied:
        w.randn("lm_head.weight", (V, D), 0.2)
    return Case(name, cfg, w)
