#!/usr/bin/env python3
"""Prints what an attnscope capture holds, with h5py alone: python3 read_capture.py capture.h5"""
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    print(f"schema {f.attrs['schema_version']}: {len(f['tokens/ids'])} tokens, weights {f['model'].attrs['weights_hash']}")
    for name, run in f["runs"].items():
        a = run.attrs
        print(f"run {name}: normalizer {a['normalizer']}, complete {a['complete']}, "
              f"{a['n_layer']} layers x {a['n_head']} heads, created {a['created']}")
        for stat, data in run["stats"].items():
            print(f"  stat {stat} {data.shape} {data.dtype}")  # [n_layer, n_head, T] float32
        for hook, heads in run["maps"].items():
            for head, levels in heads.items():  # level_k: [ceil(T/2^k), ceil(T/2^k)] float16
                shapes = [f"{k} {levels[k].shape} {levels[k].dtype}" for k in sorted(levels, key=lambda k: int(k[6:]))]
                print(f"  map {hook} {head}: {', '.join(shapes)}")
        if "max_prob" in run["stats"]:
            print(f"  mean max_prob, last layer: {np.nanmean(run['stats/max_prob'][-1]):.4f}")
