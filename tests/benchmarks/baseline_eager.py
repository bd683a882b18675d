#!/usr/bin/python3
"""PyTorch-eager baseline for the capture benchmark: the same Llama model and prompt, every attention map
materialised as Hugging Face's output_attentions does ([layer][1, head, T, T], fp32), then the same per-head
statistics computed from those maps. Compared with attnscope's streaming capture in one script.

Usage: baseline_eager.py BENCH_CAPTURE [T ...]       (default T: 2048 4096 8192 16384 32768 65536)
Each side runs in its own process per T so peak RSS is per run; the baseline gets an address-space limit of
LIMIT_GB (default 20) so it fails with MemoryError instead of waking the OOM killer.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from reference_common import read_safetensors  # noqa: E402


def forward_with_attentions(cfg, W, ids):
    """Llama forward keeping every attention map, as output_attentions=True does."""
    T, D, H = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
    d = D // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rot(x):
        return x * cos + torch.cat([-x[..., d // 2:], x[..., : d // 2]], -1) * sin

    mask = torch.full((T, T), float("-inf")).triu(1)
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    attentions = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"])
        q = rot((h @ W[p + "self_attn.q_proj.weight"].T).view(T, H, d).transpose(0, 1))
        k = rot((h @ W[p + "self_attn.k_proj.weight"].T).view(T, H, d).transpose(0, 1))
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, H, d).transpose(0, 1)
        probs = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5 + mask, -1)
        attentions.append(probs.unsqueeze(0))
        x = x + (probs @ v).transpose(0, 1).reshape(T, D) @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        gate = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T)
        x = x + (gate * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    logits = rms(x, W["model.norm.weight"]) @ W["lm_head.weight"].T
    return logits, attentions


def baseline_child(model_dir, T):
    limit = int(float(os.environ.get("LIMIT_GB", "20")) * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    torch.set_num_threads(os.cpu_count())
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    W = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    ids = [(i * 131 + 7) % 256 for i in range(T)]
    start = time.time()
    try:
        with torch.no_grad():
            _, attentions = forward_with_attentions(cfg, W, ids)
            stats = [(a.amax(-1), -torch.special.xlogy(a, a).sum(-1), a[..., 0]) for a in attentions]
    except (MemoryError, RuntimeError) as e:
        print(json.dumps({"T": T, "error": str(e).splitlines()[0][:120]}))
        return
    seconds = time.time() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"T": T, "seconds": seconds, "rss_mib": rss, "stats": len(stats)}))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        baseline_child(sys.argv[2], int(sys.argv[3]))
        return
    bench = sys.argv[1]
    lengths = [int(t) for t in sys.argv[2:]] or [2048, 4096, 8192, 16384, 32768, 65536]
    model_dir = tempfile.mkdtemp(prefix="attnscope_bench_model_")
    subprocess.run([bench, "save", model_dir], check=True, stdout=subprocess.DEVNULL)
    print(f"{'T':>7} {'eager s':>9} {'eager MiB':>10} {'attnscope s':>12} {'attnscope MiB':>14} {'time ratio':>11}")
    baseline_alive = True
    for T in lengths:
        eager = {"error": "skipped: baseline already out of memory"}
        if baseline_alive:
            out = subprocess.run([sys.executable, __file__, "--child", model_dir, str(T)], capture_output=True,
                                 text=True)
            lines = out.stdout.strip().splitlines()
            eager = json.loads(lines[-1]) if lines else {"error": f"died (exit {out.returncode})"}
            baseline_alive = "error" not in eager
        ours = subprocess.run([bench, "rss", str(T)], capture_output=True, text=True, check=True).stdout
        ours_s = float(ours.split("capture ")[1].split(" s")[0])
        ours_mib = float(ours.split("peak RSS ")[1].split(" MiB")[0])
        if "error" in eager:
            print(f"{T:>7} {'-':>9} {'-':>10} {ours_s:>12.2f} {ours_mib:>14.0f}   baseline: {eager['error']}")
        else:
            print(f"{T:>7} {eager['seconds']:>9.2f} {eager['rss_mib']:>10.0f} {ours_s:>12.2f} {ours_mib:>14.0f} "
                  f"{eager['seconds'] / ours_s:>10.2f}x")


if __name__ == "__main__":
    main()
