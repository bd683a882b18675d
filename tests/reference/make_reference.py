#!/usr/bin/python3
"""Independent float64 reference for attnscope's checkpoint loaders and attention normalizers.

Writes small random-weight checkpoints in Hugging Face layout (config.json + hand-encoded safetensors) and, for
each, the logits, attention patterns and raw scores the C++ implementation must reproduce (tests compare to 1e-5).

    /usr/bin/python3 make_reference.py OUT_DIR        # every case + OUT_DIR/cases.json
    /usr/bin/python3 make_reference.py --sample DIR   # only the llama_gqa checkpoint (the bundled demo model)

Nothing here imports attnscope or transformers: the forward passes are written from DESIGN.md and from Hugging
Face's modeling files, so the two implementations can agree only by both being right. One module per family
(arch_*.py: its config, random weights and forward pass); reference_common.py holds what they share. A new
architecture adds its module and one line to FORWARDS.

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
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_common import (F64, Run, normalize, softmax_run, ssmax_run, ssmax_mult, logn_run,  # noqa: E402
                              temperature_run, seed_of, head_values, write_safetensors)
from arch_gpt2 import gpt2_forward, gpt2_model  # noqa: E402
from arch_llama import llama_forward, llama_model, llama_gqa  # noqa: E402
from arch_qwen3 import qwen3_forward, qwen3_model  # noqa: E402
from arch_olmo2 import olmo2_forward, olmo2_model  # noqa: E402
from arch_gemma import gemma_forward, gemma_model  # noqa: E402
from arch_gpt_neox import gpt_neox_forward, gpt_neox_model  # noqa: E402
from arch_phi3 import longrope, phi3_forward, phi3_model  # noqa: E402

# model_type -> forward(config, weights, ids, run) -> (logits [T, vocab], patterns [layer][H,T,T], scores alike)
FORWARDS = {"gpt2": gpt2_forward, "llama": llama_forward, "mistral": llama_forward, "qwen2": llama_forward,
            "qwen3": qwen3_forward, "olmo2": olmo2_forward, "gemma2": gemma_forward, "gemma3_text": gemma_forward,
            "gpt_neox": gpt_neox_forward, "phi3": phi3_forward}


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
    add_position_layouts(add, L, H)
    add_norm_families(add, L, H, rng)
    add_fused_cases(add, rng, L, H)
    return cases


def add_position_layouts(add, L, H):
    """The layouts the trainer writes: NoPE layers (no_rope_layers), llama layer_types windows, learned SSMax on
    chosen layers (ssmax_layers), and PoSE-style skipped position ids."""
    # 4 layers: RoPE + window 6 on 0 and 2, NoPE and full attention on 1 and 3; SSMax learned on 1 and 3 only
    c = llama_model("llama_nope_hybrid", V=97, D=32, n_kv=2, n_layer=4, no_rope_layers=[1, 0, 1, 0],
                    sliding_window=6, layer_types=["sliding_attention", "full_attention"] * 2,
                    attention_normalizer="ssmax", ssmax_bias=True, ssmax_layers=[1, 3])
    W = c.weights
    zeros = torch.zeros(H, dtype=F64)
    s = torch.stack([W[f"model.layers.{l}.self_attn.ssmax_s"] if l in (1, 3) else zeros for l in range(4)])
    b = torch.stack([W[f"model.layers.{l}.self_attn.ssmax_b"] if l in (1, 3) else zeros for l in range(4)])
    mult = ssmax_mult(s, b)
    learned = lambda l, n, i: mult(l, n, i) if l in (1, 3) else torch.ones_like(n)[None]  # noqa: E731
    add(c, 41, Run("ssmax_learned", "ssmax", learned), softmax_run(), ssmax_run("ssmax_s", 4, H, 0.3))
    # PoSE: two chunks, the second skipped ahead by 300 positions (beyond max_position_embeddings 128)
    c = llama_model("llama_pose_positions", V=89, D=32, n_kv=4)
    c.position_ids = torch.cat([torch.arange(17), torch.arange(17, 37) + 300])
    add(c, 37, softmax_run(), ssmax_run("ssmax_s", L, H, 0.35))
    # qwen3 (q/k norms) with layer_types windows and a NoPE layer, as `train --qk-norm` writes it
    c = qwen3_model("qwen3_nope_window", V=83, D=32, n_kv=4, hd=8, use_sliding_window=True, sliding_window=5,
                    layer_types=["sliding_attention", "full_attention"], no_rope_layers=[1, 0])
    add(c, 33, softmax_run(), ssmax_run("ssmax_s", L, H, 0.4))


def add_norm_families(add, L, H, rng):
    """qwen3, olmo2, gemma2, gemma3_text: every normalizer on one case each, BF16 and F32 weights."""
    # head_dim 24 with hidden 64 and 4 heads: the explicit head_dim, not hidden / heads
    add(qwen3_model("qwen3", V=101, D=64, n_kv=2, hd=24), 47, softmax_run(),
        ssmax_run("ssmax_heads", L, H, head_values(rng, L * H, 0.2, 0.6)),
        ssmax_run("ssmax_s_b", L, H, 0.3, 0.1), logn_run(16), temperature_run(8, 0.1))
    # Qwen3Config's own rule: sliding layers from max_window_layers on, only with use_sliding_window
    add(qwen3_model("qwen3_bias_window_bf16", V=97, D=48, n_kv=1, n_layer=3, dtype=torch.bfloat16, tied=True,
                    bias=True, use_sliding_window=True, sliding_window=9, max_window_layers=1),
        44, softmax_run(), ssmax_run("ssmax_s", 3, H, 0.35), logn_run(8))
    add(qwen3_model("qwen3_layer_types", V=89, D=32, n_kv=4, hd=8, use_sliding_window=True, sliding_window=7,
                    layer_types=["sliding_attention", "full_attention"]),
        39, softmax_run(), temperature_run(4, 0.2))
    add(olmo2_model("olmo2", V=103, D=64, n_kv=2), 45, softmax_run(),
        ssmax_run("ssmax_heads", L, H, head_values(rng, L * H, 0.2, 0.6)),
        ssmax_run("ssmax_s_b", L, H, 0.3, 0.1), logn_run(16), temperature_run(8, 0.1))
    add(olmo2_model("olmo2_bias_tied_bf16", V=91, D=48, n_kv=4, dtype=torch.bfloat16, tied=True, bias=True),
        41, softmax_run(), ssmax_run("ssmax_s", L, H, 0.4))
    # Small caps so that tanh really bends these scores and logits; window 10 on layer 0 (sliding), full layer 1
    add(gemma_model("gemma2_softcap_bf16", "gemma2", V=107, D=48, n_kv=2, dtype=torch.bfloat16, sliding_window=10,
                    query_pre_attn_scalar=24, attn_logit_softcapping=3.0, final_logit_softcapping=2.0),
        46, softmax_run(), ssmax_run("ssmax_heads", L, H, head_values(rng, L * H, 0.2, 0.6)),
        ssmax_run("ssmax_s_b", L, H, 0.3, 0.1), logn_run(16), temperature_run(8, 0.1))
    # Gemma 2's defaults (caps 50 and 30, query_pre_attn_scalar 256) with F32 weights and an untied head
    add(gemma_model("gemma2_defaults", "gemma2", V=97, D=32, n_kv=4, hd=8, tied=False, sliding_window=12),
        40, softmax_run(), ssmax_run("ssmax_s", L, H, 0.35))
    # 5 layers, pattern 3: layers 0, 1, 3, 4 local (window 8, RoPE base 100), layer 2 global (rope_theta with
    # linear scaling); q/k norms; no caps
    add(gemma_model("gemma3_bf16", "gemma3_text", V=109, D=64, n_kv=2, n_layer=5, dtype=torch.bfloat16,
                    sliding_window=8, sliding_window_pattern=3, rope_local_base_freq=100.0, rope_theta=10000.0,
                    rope_scaling={"rope_type": "linear", "factor": 2.0}, query_pre_attn_scalar=16,
                    final_logit_softcapping=None, attn_logit_softcapping=None),
        48, softmax_run(), ssmax_run("ssmax_heads", 5, H, head_values(rng, 5 * H, 0.2, 0.6)),
        ssmax_run("ssmax_s_b", 5, H, 0.3, 0.1), logn_run(16), temperature_run(8, 0.1))
    # layer_types given (it wins over the pattern), an attention cap, F32 weights, attention biases
    add(gemma_model("gemma3_layer_types", "gemma3_text", V=93, D=32, n_kv=1, hd=8, bias=True, sliding_window=6,
                    layer_types=["full_attention", "sliding_attention"], attn_logit_softcapping=2.5,
                    rope_local_base_freq=10000.0, rope_theta=1000000.0),
        37, softmax_run(), logn_run(8))


def add_fused_cases(add, rng, L, H):
    """GPT-NeoX (Pythia) and Phi-3: fused projections, partial rotary, parallel residual, longrope."""
    # Pythia's layout: rotary_pct 0.25 (4 of 16 head dims turn), parallel residual, the old exports' buffers.
    add(gpt_neox_model("gpt_neox_parallel", V=111, D=64, old_buffers=True), 47, softmax_run(),
        ssmax_run("ssmax_heads", L, H, head_values(rng, L * H, 0.2, 0.6)), logn_run(16), temperature_run(8, 0.1))
    add(gpt_neox_model("gpt_neox_sequential_bf16", V=97, D=64, dtype=torch.bfloat16, rotary_pct=0.5, parallel=False,
                       rotary_emb_base=500),
        43, softmax_run(), ssmax_run("ssmax_s", L, H, 0.35), logn_run(16), temperature_run(8, 0.1))
    add(gpt_neox_model("gpt_neox_tied_nobias", V=89, D=48, rotary_pct=0.5, attention_bias=False,
                       tie_word_embeddings=True, hidden_act="gelu_fast", rope_scaling={"type": "linear", "factor": 2.0}),
        39, softmax_run(), ssmax_run("ssmax_s_b", L, H, 0.3, 0.1))
    # Phi-4-mini's layout (partial_rotary_factor 0.75, GQA) with longrope over an original context of 32: T = 32 is
    # the last length on the short factors, T = 45 takes the long ones (legacy type name "su", tied head, BF16).
    # Longrope's attention factor (1.18 here) sharpens the scores: smaller q/k weights keep them as sharp as the
    # other cases' (the bf16 path test bounds its error on all of them).
    scaling, original = longrope("phi3_longrope", 6, 32)
    add(phi3_model("phi3_longrope_short", V=101, D=64, n_kv=2, partial=0.75, rope_scaling=scaling,
                   original=original, qkv_std=0.16), 32, softmax_run(),
        ssmax_run("ssmax_heads", L, H, head_values(rng, L * H, 0.2, 0.6)), logn_run(16), temperature_run(8, 0.1))
    add(phi3_model("phi3_longrope_long_bf16", V=101, D=64, n_kv=2, partial=0.75, dtype=torch.bfloat16, tied=True,
                   rope_scaling=dict(scaling, type="su"), original=original, qkv_std=0.16),
        45, softmax_run(), ssmax_run("ssmax_s", L, H, 0.3), logn_run(16), temperature_run(8, 0.1))
    # Phi-3-mini-4k's layout: no rope scaling, one sliding window for every layer.
    add(phi3_model("phi3_window", V=103, D=64, n_kv=4, sliding_window=16), 40, softmax_run(),
        ssmax_run("ssmax_s", L, H, 0.4), logn_run(8))


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
    forward = FORWARDS[case.config["model_type"]]
    tensors = {"input_ids": ids}
    positions = getattr(case, "position_ids", None)
    if positions is not None:
        tensors["position_ids"] = positions
    for run in case.runs:
        extra = {} if positions is None else {"position_ids": positions}
        logits, patterns, scores = forward(case.config, case.weights, ids, run, **extra)
        tensors[f"{run.prefix}.logits"] = logits.float()
        for l, p in enumerate(patterns):
            tensors[f"{run.prefix}.pattern.{l}"] = p.float()
            if run.spec == "softmax":
                tensors[f"{run.prefix}.scores.{l}"] = scores[l].float()
    if case.name in GREEDY_CASES:
        for run in case.runs:
            tensors[f"{run.prefix}.greedy"] = greedy_decode(forward, case, ids[:case.T - GREEDY_NEW], run)
    write_safetensors(os.path.join(out, "reference.safetensors"), tensors, {"case": case.name})


# Cases whose runs also carry a greedy continuation of their first T - GREEDY_NEW ids ("<prefix>.greedy").
GREEDY_CASES, GREEDY_NEW = ("llama_gqa", "mistral_window"), 8


def greedy_decode(forward, case, prompt, run):
    """GREEDY_NEW tokens, each the argmax of a full float64 forward over everything so far (no cache: what
    generate(do_sample=False) computes). A top-2 gap under 1e-3 would let fp32 rounding pick the other token."""
    ids = prompt.clone()
    for _ in range(GREEDY_NEW):
        last = forward(case.config, case.weights, ids, run)[0][-1]
        top = torch.topk(last, 2).values
        assert top[0] - top[1] > 1e-3, f"{case.name} {run.prefix}: greedy step too close to a tie to test"
        ids = torch.cat([ids, last.argmax().view(1)])
    return ids[len(prompt):]


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
