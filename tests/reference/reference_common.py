"""Shared parts of the independent float64 reference (see make_reference.py): hand-written safetensors, random
weights rounded to the checkpoint dtype, the normalizers, masked attention, norms and RoPE as Hugging Face's
modeling files compute them. Nothing here imports attnscope or transformers."""
import json
import math
import struct
import sys
import zlib

import torch

F64 = torch.float64
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.bool: "BOOL"}
HF_DTYPE = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


# --- safetensors, by hand (no safetensors package on these machines) -------------------------------------------

def read_safetensors(path):
    """A float32 safetensors file -> {name: float32 tensor} (the checkpoints attnscope trains)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", f"{name}: only float32 checkpoints ({info['dtype']})"
        out[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).view(info["shape"])
    return out


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


# --- normalizers and attention ------------------------------------------------------------------------------

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


def attend(q, k, v, window, run, layer, scale=None, softcap=None):
    """q, k, v [H,T,d] (kv heads already shared out). Returns output [H,T,d], pattern and scores [H,T,T].

    z = scale * q.k (scale defaults to 1/sqrt(d)); with softcap, z = softcap * tanh(z / softcap) as Gemma 2's
    eager attention caps the scores before the mask. The normalizer's multiplier m then scales the capped z."""
    H, T, d = q.shape
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    visible = (j <= i) if window is None else (j <= i) & (i - j < window)
    n = visible.sum(-1).to(F64)
    z = q @ k.transpose(-1, -2)
    z = z / math.sqrt(d) if scale is None else z * scale
    if softcap is not None:
        z = torch.tanh(z / softcap) * softcap
    m = run.mult(layer, n, torch.arange(T, dtype=F64)).expand(H, T)
    p = normalize(z, visible, m)
    return p @ v, p, z.masked_fill(~visible, -math.inf)


# --- norms and rotary position embeddings ------------------------------------------------------------------------

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


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
    if kind == "longrope":
        # Phi-3: the pretraining context comes from the config (Phi3Config defaults it to 4096), the factor is the
        # ratio of the contexts, and the whole sequence takes the long factors once it is longer than that context.
        old = rs.get("original_max_position_embeddings", cfg.get("original_max_position_embeddings", 4096))
        factor = cfg["max_position_embeddings"] / old
        attention_factor = rs.get("attention_factor")
        if attention_factor is None:
            attention_factor = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(old))
        ext = torch.tensor(rs["long_factor"] if T > old else rs["short_factor"], dtype=F64)
        return 1.0 / (ext * base ** (torch.arange(0, dim, 2, dtype=F64) / dim)), attention_factor
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


def rope_cos_sin(inv, attention_factor, T):
    """cos and sin [T, dim] of positions 0..T-1 for inverse frequencies inv [dim/2] (rotate-half layout)."""
    angles = torch.arange(T, dtype=F64)[:, None] * inv[None]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos() * attention_factor, angles.sin() * attention_factor


def linear(W, x, name, with_bias=False):
    """nn.Linear: weights stored [out, in]."""
    y = x @ W[name + ".weight"].T
    return y + W[name + ".bias"] if with_bias else y


def random_attention(w, prefix, D, n_head, n_kv, hd, std, bias):
    """Random q/k/v/o projections (and their biases) of one layer's self_attn."""
    for proj, n_out, n_in in (("q_proj", n_head * hd, D), ("k_proj", n_kv * hd, D), ("v_proj", n_kv * hd, D),
                              ("o_proj", D, n_head * hd)):
        w.randn(prefix + f"self_attn.{proj}.weight", (n_out, n_in), std)
        if bias:
            w.randn(prefix + f"self_attn.{proj}.bias", (n_out,), 0.05)
def rotate_partial(x, cos, sin):
    """Partial rotary (GPT-NeoX rotary_pct, partial_rotary_factor): the first cos.shape[-1] dimensions turn, the rest
    pass through unchanged."""
    r = cos.shape[-1]
    return torch.cat([rotate(x[..., :r], cos, sin), x[..., r:]], dim=-1)


def uses_rope(cfg, layer):
    """Llama 4's no_rope_layers: 1 where a layer applies RoPE, 0 for a NoPE layer (modeling_llama4's use_rope)."""
    flags = cfg.get("no_rope_layers")
    return flags is None or bool(flags[layer])


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


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
