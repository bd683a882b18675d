"""Compares the records of two sweep files with h5py alone: per normalizer group, every dataset's first
n_records rows, ordered by cell, must be equal (floats bit for bit; NaN equals NaN). The grid and model
attributes must be equal too. Usage: compare_sweeps.py A.h5 B.h5; exit 0 when equal, 1 with the first difference."""
import sys

import h5py
import numpy as np


def records(group):
    n = int(group.attrs["n_records"])
    order = np.argsort(group["cell"][:n], kind="stable")
    return n, {name: ds[:n][order] for name, ds in group.items() if isinstance(ds, h5py.Dataset)}


def same(a, b):
    if a.dtype.kind == "f":
        return a.shape == b.shape and np.array_equal(a.view(np.uint8), b.view(np.uint8))
    return a.shape == b.shape and np.array_equal(a, b)


def main(path_a, path_b):
    with h5py.File(path_a, "r") as fa, h5py.File(path_b, "r") as fb:
        for group in ("grid", "model"):
            for key in set(fa[group].attrs) | set(fb[group].attrs):
                if key == "path":
                    continue
                va, vb = fa[group].attrs.get(key), fb[group].attrs.get(key)
                if not np.array_equal(np.asarray(va), np.asarray(vb)):
                    return f"/{group} attribute {key} differs: {va!r} vs {vb!r}"
        if sorted(fa["normalizers"]) != sorted(fb["normalizers"]):
            return "normalizer groups differ"
        total = 0
        for name in fa["normalizers"]:
            na, ra = records(fa["normalizers"][name])
            nb, rb = records(fb["normalizers"][name])
            if na != nb:
                return f"normalizer {name}: {na} records vs {nb}"
            for column in ra:
                if column not in rb or not same(ra[column], rb[column]):
                    return f"normalizer {name}: column {column} differs"
            total += na
    print(f"equal: {total} records")
    return None


if __name__ == "__main__":
    difference = main(sys.argv[1], sys.argv[2])
    if difference:
        print(f"DIFFERENT: {difference}")
        sys.exit(1)
