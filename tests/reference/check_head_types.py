#!/usr/bin/python3
"""Float64 check of a capture's head-type statistics against attention recomputed here from the checkpoint.

    /usr/bin/python3 check_head_types.py CAPTURE.h5 MODEL_DIR [--summary]

MODEL_DIR holds a Llama-family checkpoint (config.json, one float32 model.safetensors). For every softmax run of
the capture, the float64 reference forward of arch_llama.py (written from Hugging Face's modeling_llama, not
from attnscope) recomputes the [head, query, key] patterns of every layer over the capture's tokens, and the
head types follow from their definitions (README, "Head types"):
  prev_token_mass  p[i, i-1]                       (NaN at i = 0)
  induction_mass   p[i, j+1], j < i the latest with ids[j] == ids[i]   (NaN without one)
  local_mass       sum p[i, i-W+1 .. i]            (W: the run's local_window attribute)
  mean_distance    sum_j p[i, j] (i - j)
They must equal the stored float32 statistics within float32 tolerance; exits 1 naming each that does not.
--summary prints each head's induction_mass summary (mean over the last tenth of the queries, NaN skipped).
"""
import json
import math
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arch_llama import llama_forward  # noqa: E402
from reference_common import F64, read_safetensors, softmax_run  # noqa: E402

TOLERANCE = {"prev_token_mass": 2e-5, "induction_mass": 2e-5, "local_mass": 2e-5, "mean_distance": 2e-5}


def load_weights(model_dir):
    return {name: t.to(F64) for name, t in read_safetensors(os.path.join(model_dir, "model.safetensors")).items()}


def head_types(p, ids, W):
    """p [H, T, T] float64 -> {stat: [H, T]} by the definitions above (no sliding window in these models)."""
    H, T, _ = p.shape
    out = {name: torch.full((H, T), math.nan, dtype=F64) for name in TOLERANCE}
    last = {}
    for i in range(T):
        if i > 0:
            out["prev_token_mass"][:, i] = p[:, i, i - 1]
        if ids[i] in last:
            out["induction_mass"][:, i] = p[:, i, last[ids[i]] + 1]
        last[ids[i]] = i
        out["local_mass"][:, i] = p[:, i, max(0, i - W + 1):i + 1].sum(-1)
        out["mean_distance"][:, i] = (p[:, i, :] * (i - torch.arange(T, dtype=F64))).sum(-1)
    return out


def main():
    path, model_dir = sys.argv[1], sys.argv[2]
    summary = "--summary" in sys.argv[3:]
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    W = load_weights(model_dir)
    problems = []
    with h5py.File(path, "r") as f:
        ids = [int(x) for x in f["tokens/ids"][:]]
        T = len(ids)
        for name, run in f["runs"].items():
            if run.attrs["normalizer"] != "softmax":
                continue
            local_window = int(run.attrs["local_window"])
            _, patterns, _ = llama_forward(cfg, W, torch.tensor(ids), softmax_run())
            tail = T - max(1, -(-T // 10))
            for layer, p in enumerate(patterns):
                expected = head_types(p, ids, local_window)
                for stat, tol in TOLERANCE.items():
                    stored = torch.from_numpy(run["stats/" + stat][layer].astype(np.float64))
                    same_nan = torch.equal(stored.isnan(), expected[stat].isnan())
                    both = ~(stored.isnan() | expected[stat].isnan())
                    err = (stored[both] - expected[stat][both]).abs()
                    scale = 1 + expected[stat][both].abs() if stat == "mean_distance" else 1
                    worst = (err / scale).max().item() if both.any() else 0.0
                    print(f"{name} L{layer} {stat:16s} max error {worst:.2e}{'' if same_nan else ' NaN MISMATCH'}")
                    if not same_nan or worst > tol:
                        problems.append(f"{name} layer {layer} {stat}: error {worst:.2e} > {tol:g} or NaN mismatch")
                if summary:
                    ind = expected["induction_mass"][:, tail:]
                    means = [np.nanmean(ind[h].numpy()) for h in range(ind.shape[0])]
                    print(f"{name} L{layer} induction_mass summary (float64):",
                          " ".join(f"H{h}={m:.4f}" for h, m in enumerate(means)))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print("head types agree with the float64 reference")


if __name__ == "__main__":
    main()
