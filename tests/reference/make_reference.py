#!/usr/bin/python3
"""Independent float64 reference for attnscope's checkpoint loaders and attention normalizers.

Writes small random-weight checkpoints in Hugging Face layout (config.json + hand-encoded safetensors) and, for
each, the logits, attention patterns and raw scores the C++ implementation must reproduce (tests compare to 1e-5).

    /usr/bin/python3 make_reference.py OUT_DIR        # every case + OUT_DIR/cases.json
    /usr/bin/python3 make_reference.py --sample DIR   # only the llama_gqa checkpoint (the bundled demo model)

Nothing here imports attnscope or transformers: the forward passes are written from DESIGN.md and from Hugging
Face's modeling_gpt2 / modeling_llama / modeling_mistral / modeling_qwen2 / modeling_rope_utils, so the two
implementations can agree only by both being right.

Attention, for layer l, head h, query i (0-based), keys j <= i with i - j < W when the layer has a sliding window W:
z = q.k / sqrt(head_dim), n = number of visible keys = min(i + 1, W), probabilities = softmax over visible keys of
m * z (masked keys get exactly 0), where the multiplier m is
    softmax                          m = 1
    ssmax[:s=..,b=..]                m = s[l,h] ln n + b[l,h]          (Scalable-Softmax; b defaults to 0)
    logn:L=..                        m = ln n / ln L if n > L else 1    (Qwen-1 use_logn_attn)
    temperature:floor=..,scale=..    m = log1p(floor((i+1)/floor)) * scale + 1   (Llama 4; absolute position i)
"""
import argparse
import json
import math
import os
import random
import struct
import sys
import time
import zlib

import torch

F64 = torch.float64
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
HF_DTYPE = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


# --- safetensors, by hand (no safetensors package on these machines) -------------------------------------------

def write_safetensors(path, tensors, metadata=None):
    """Returns the data size in bytes (for the shard index's total_size)."""
    assert sys.byteorder == "little"  # numpy's tobytes() is native order; the format is little-endian
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        # numpy has no bfloat16: the bit pattern travels as int16
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    return offset


class Weights:
    """Random tensors rounded once to the checkpoint dtype; the reference computes on exactly those values."""

    def __init__(self, seed, dtype):
        self.gen = torch.Generator().manual_seed(seed)
        self.dtype = dtype
        self.stored = {}

    def randn(self, name, shape, std, mean=0.0):
        self.stored[name] = (torch.randn(*shape, generator=self.gen) * std + mean).to(self.dtype)

    def uniform(self, name, shape, lo, hi):
        self.stored[name] = (lo + (hi - lo) * torch.rand(*shape, generator=self.gen)).to(self.dtype)

    def __getitem__(self, name):
        return self.stored[name].to(F64)


# --- normalizers -------------------------------------------------------------------------------------------------

class Run:
    def __init__(self, prefix, spec, mult):
        # mult(layer, n [T], i [T]) -> multiplier broadcastable to [head, T]
        self.prefix, self.spec, self.mult = prefix, spec, mult


def spec_values(x):
    return "/".join(repr(v) for v in x) if isinstance(x, list) else repr(x)


def softmax_run():
    return Run("softmax", "softmax", lambda l, n, i: torch.ones_like(n)[None])


def ssmax_mult(s, b):
    """s, b: [layer, head] float64."""
    return lambda l, n, i: s[l][:, None] * torch.log(n)[None] + b[l][:, None]


def ssmax_run(prefix, n_layer, n_head, s, b=None):
    """s and b: one float for every head, or n_layer*n_head floats, row-major [layer][head]."""
    def table(x):
        x = x if isinstance(x, list) else [x] * (n_layer * n_head)
        assert len(x) == n_layer * n_head
        return torch.tensor(x, dtype=F64).view(n_layer, n_head)
    spec = "ssmax:s=" + spec_values(s) + ("" if b is None else ",b=" + spec_values(b))
    return Run(prefix, spec, ssmax_mult(table(s), table(0.0 if b is None else b)))


def logn_run(L):
    return Run("logn", f"logn:L={L!r}",
               lambda l, n, i: torch.where(n > L, torch.log(n) / math.log(L), torch.ones_like(n))[None])


def temperature_run(floor, scale):
    return Run("temperature", f"temperature:floor={floor!r},scale={scale!r}",
               lambda l, n, i: (torch.log1p(torch.floor((i + 1) / floor)) * scale + 1)[None])


def normalize(z, visible, m):
    """z [H,T,K] scores, visible [T,K] bool, m [H,T] multipliers -> probabilities [H,T,K]."""
    # Multiply before masking: m can be <= 0 (ssmax with a bias at n = 1), and m * -inf would be nan or +inf.
    p = torch.softmax((m[:, :, None] * z).masked_fill(~visible, -math.inf), dim=-1)
    n = visible.sum(-1)
    assert (p.masked_select(~visible) == 0).all(), "masked keys must get exactly 0"
    assert torch.allclose(p.sum(-1), torch.ones_like(p[..., 0]), rtol=0, atol=1e-12), "rows must sum to 1"
    assert (p[:, n == 1].amax(-1) == 1).all(), "a lone visible key must get weight exactly 1"
    return p


def attend(q, k, v, window, run, layer):
    """q, k, v [H,T,d] (kv heads already shared out). Returns output [H,T,d], pattern and scores [H,T,T]."""
    H, T, d = q.shape
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    visible = (j <= i) if window is None else (j <= i) & (i - j < window)
    n = visible.sum(-1).to(F64)
    z = q @ k.transpose(-1, -2) / math.sqrt(d)
    m = run.mult(layer, n, torch.arange(T, dtype=F64)).expand(H, T)
    p = normalize(z, visible, m)
    return p @ v, p, z.masked_fill(~visible, -math.inf)


# --- GPT-2 -------------------------------------------------------------------------------------------------------

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * w + b


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


# --- Llama family (Llama, Mistral, Qwen2) ------------------------------------------------------------------------

def rope_inv_freq(cfg, dim, T):
    """Inverse frequencies and the cos/sin attention factor, as modeling_rope_utils."""
    base = cfg.get("rope_theta", 10000.0)
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "dynamic" and T > cfg["max_position_embeddings"]:
        # NTK: HF recomputes the base for the current length, seq_len = max(position_ids) + 1 = T
        factor, max_pos = rs["factor"], cfg["max_position_embeddings"]
        base = base * ((factor * T / max_pos) - (factor - 1)) ** (dim / (dim - 2))
    inv = 1.0 / base ** (torch.arange(0, dim, 2, dtype=F64) / dim)
    if kind in ("default", "dynamic"):
        return inv, 1.0
    factor = rs["factor"]
    if kind == "linear":
        return inv / factor, 1.0
    if kind == "llama3":
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / rs["low_freq_factor"], old / rs["high_freq_factor"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)  # long wavelengths: interpolate fully
        smooth = (old / wavelen - rs["low_freq_factor"]) / (rs["high_freq_factor"] - rs["low_freq_factor"])
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        return torch.where(medium, (1 - smooth) * inv / factor + smooth * inv, scaled), 1.0
    if kind == "yarn":
        old = rs.get("original_max_position_embeddings", cfg["max_position_embeddings"])
        attention_factor = rs.get("attention_factor") or 0.1 * math.log(factor) + 1.0
        beta_fast, beta_slow = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def correction_dim(rotations):  # the dimension whose wavelength fits `rotations` times into `old`
            return dim * math.log(old / (rotations * 2 * math.pi)) / (2 * math.log(base))
        low = max(math.floor(correction_dim(beta_fast)), 0)
        high = min(math.ceil(correction_dim(beta_slow)), dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dim // 2, dtype=F64) - low) / (high - low)).clamp(0, 1)
        return inv / factor * ramp + inv * (1 - ramp), attention_factor
    raise ValueError(f"rope type {kind}")


def rotate(x, cos, sin):  # rotate-half layout: dimension k pairs with k + d/2
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


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
    return None  # qwen2 configs carry a sliding_window even when use_sliding_window is false: ignored


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def llama_forward(cfg, W, ids, run):
    H, KV, d, T = cfg["num_attention_heads"], cfg["num_key_value_heads"], head_dim(cfg), len(ids)
    eps, biased = cfg["rms_norm_eps"], biased_projections(cfg)
    inv, attention_factor = rope_inv_freq(cfg, d, T)
    angles = torch.arange(T, dtype=F64)[:, None] * inv[None]
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
        q = rotate(project(x, p, "q_proj", H), cos, sin)
        k = rotate(project(x, p, "k_proj", KV), cos, sin)
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


# --- cases -------------------------------------------------------------------------------------------------------

class Case:
    def __init__(self, name, config, weights, T=None, runs=(), name_prefix="", shard_of=None):
        self.name, self.config, self.weights, self.T = name, config, weights, T
        self.runs = list(runs)
        self.name_prefix = name_prefix  # prepended to every stored tensor name
        self.shard_of = shard_of        # tensor name -> shard number (1 or 2), or None for a single file


def seed_of(name):
    return zlib.crc32(name.encode())


def head_values(rng, count, lo, hi):
    return [round(rng.uniform(lo, hi), 3) for _ in range(count)]


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
        if cfg.get("attention_normalizer") == "ssmax":
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


def build_cases():
    cases = []

    def add(case, T, *runs):
        case.T, case.runs = T, list(runs)
        cases.append(case)

    L, H = 2, 4
    rng = random.Random(1)  # per-head s and b: a generator of their own, so weights never depend on the runs
    add(gpt2_model("gpt2", V=101, D=48), 45, softmax_run(),
        ssmax_run("ssmax_heads", L, H, head_values(rng, L * H, 0.2, 0.6)),
        ssmax_run("ssmax_s_b", L, H, 0.35, 0.2), logn_run(16), temperature_run(8, 0.1))
    c = gpt2_model("gpt2_f16_prefixed", V=113, D=32, n_inner=80, dtype=torch.float16)
    c.name_prefix = "transformer."  # as GPT2LMHeadModel.save_pretrained names them (tied lm_head dropped)
    add(c, 37, softmax_run(), ssmax_run("ssmax_s", L, H, 0.4))
    add(llama_gqa(), 53, softmax_run(),
        ssmax_run("ssmax_heads", L, H, head_values(rng, L * H, 0.2, 0.6)),
        ssmax_run("ssmax_s_b", L, H, 0.3, 0.1),
        ssmax_run("ssmax_heads_b", L, H, head_values(rng, L * H, 0.2, 0.6), head_values(rng, L * H, -0.1, 0.3)),
        logn_run(16), temperature_run(8, 0.1))
    add(llama_model("llama_bias_tied_bf16", V=97, D=48, n_kv=4, dtype=torch.bfloat16, tied=True,
                    attention_bias=True, rope_scaling={"rope_type": "linear", "factor": 2.0}),
        41, softmax_run(), ssmax_run("ssmax_s", L, H, 0.3))
    add(llama_model("llama_rope_llama3", V=103, D=64, n_kv=2, rope_theta=500000.0,
                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
        59, softmax_run())
    # max_position_embeddings = factor * original so HF versions that derive yarn's factor from that ratio agree;
    # rope_theta 100 puts a fractional value on the yarn ramp (dimension 1 half interpolated).
    add(llama_model("llama_rope_yarn", V=107, D=64, n_kv=2, rope_theta=100.0, max_pos=64,
                    rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}),
        61, softmax_run())
    # The legacy "type" key (Llama-2-era configs) exercises the fallback; T = 50 > max_position_embeddings = 32.
    add(llama_model("llama_rope_dynamic", V=99, D=48, n_kv=2, max_pos=32,
                    rope_scaling={"type": "dynamic", "factor": 2.0}),
        50, softmax_run())
    add(llama_model("mistral_window", V=127, D=64, n_kv=2, model_type="mistral", hd=16, sliding_window=16),
        50, softmax_run(), ssmax_run("ssmax_s", L, H, 0.4), logn_run(8))
    c = llama_model("qwen2_sharded", V=120, D=48, n_kv=1, model_type="qwen2", rope_theta=1000000.0,
                    use_sliding_window=False, sliding_window=16, max_window_layers=1)
    c.shard_of = lambda n: 1 if n.startswith(("model.embed_tokens.", "model.layers.0.")) else 2
    add(c, 43, softmax_run(), ssmax_run("ssmax_s", L, H, 0.3))
    c = llama_model("llama_ssmax_learned", V=100, D=32, n_kv=4, attention_normalizer="ssmax", ssmax_bias=True)
    W = c.weights
    learned = ssmax_mult(torch.stack([W[f"model.layers.{l}.self_attn.ssmax_s"] for l in range(L)]),
                         torch.stack([W[f"model.layers.{l}.self_attn.ssmax_b"] for l in range(L)]))
    add(c, 67, Run("ssmax_learned", "ssmax", learned), softmax_run())
    add(llama_model("llama_head_dim", V=105, D=48, n_kv=2, hd=16), 38, softmax_run())
    return cases


# --- output ------------------------------------------------------------------------------------------------------

def write_checkpoint(case, out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(case.config, f, indent=2)
    stored = {case.name_prefix + k: v for k, v in case.weights.stored.items()}
    meta = {"format": "pt"}  # what save_pretrained writes
    if case.shard_of is None:
        write_safetensors(os.path.join(out, "model.safetensors"), stored, meta)
        return
    files = {s: f"model-0000{s}-of-00002.safetensors" for s in (1, 2)}
    weight_map, total = {}, 0
    for s, file in files.items():
        part = {k: v for k, v in stored.items() if case.shard_of(k) == s}
        assert part, "each shard must hold tensors"
        total += write_safetensors(os.path.join(out, file), part, meta)
        weight_map.update({k: file for k in part})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def write_reference(case, out):
    gen = torch.Generator().manual_seed(seed_of(case.name) + 2)
    ids = torch.randint(0, case.config["vocab_size"], (case.T,), generator=gen)
    forward = gpt2_forward if case.config["model_type"] == "gpt2" else llama_forward
    tensors = {"input_ids": ids}
    for run in case.runs:
        logits, patterns, scores = forward(case.config, case.weights, ids, run)
        tensors[f"{run.prefix}.logits"] = logits.float()
        for l, p in enumerate(patterns):
            tensors[f"{run.prefix}.pattern.{l}"] = p.float()
            if run.spec == "softmax":
                tensors[f"{run.prefix}.scores.{l}"] = scores[l].float()
    write_safetensors(os.path.join(out, "reference.safetensors"), tensors, {"case": case.name})


def check_closed_forms():
    """DESIGN.md, Figure 1 of the SSMax paper: n = 1024 scores all -2 but one +3, s = 0.43."""
    n, s = 1024, 0.43
    z = torch.full((1, 1, n), -2.0, dtype=F64)
    z[..., 0] = 3.0
    visible = torch.ones(1, n, dtype=torch.bool)
    soft = normalize(z, visible, torch.ones(1, 1, dtype=F64)).max().item()
    ssmax = normalize(z, visible, torch.full((1, 1), s * math.log(n), dtype=F64)).max().item()
    assert abs(soft - 1 / (1 + (n - 1) * math.exp(-5))) < 1e-12 and abs(soft - 0.127) < 1e-3
    assert abs(ssmax - 1 / (1 + (n - 1) * n ** (-5 * s))) < 1e-12 and ssmax > 0.9996


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?", help="write every case, its reference outputs and cases.json here")
    ap.add_argument("--sample", metavar="DIR", help="write only the llama_gqa checkpoint into DIR")
    args = ap.parse_args()
    if (args.out_dir is None) == (args.sample is None):
        ap.error("give exactly one of OUT_DIR or --sample DIR")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    start = time.time()
    if args.sample:
        write_checkpoint(llama_gqa(), args.sample)
        return
    check_closed_forms()
    cases, index = build_cases(), []
    for case in cases:
        out = os.path.join(args.out_dir, case.name)
        write_checkpoint(case, out)
        write_reference(case, out)
        index.append({"name": case.name, "dir": case.name, "T": case.T,
                      "runs": [{"normalizer": r.spec, "prefix": r.prefix} for r in case.runs]})
    with open(os.path.join(args.out_dir, "cases.json"), "w") as f:
        json.dump(index, f, indent=2)
    print(f"{len(cases)} reference cases in {args.out_dir} ({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
