#!/usr/bin/env python3
"""Compares two sweep files record for record with h5py alone (not attnscope's reader); exits 1 naming every
difference.

Usage: compare_sweeps.py EXPECTED.h5 ACTUAL.h5

Equal means: the same attributes on /, /grid and /model (the shard, the grid, the model and its weights hash),
the same normalizer groups with the same attributes (n_records among them), and per normalizer the same
records: the first n_records rows of every dataset, ordered by cell, bit for bit (NaN equals NaN). Rows past
n_records are not records and the order rows were appended in is not compared, so a merged file (cell order)
equals an unsharded run (the order records finished), and a resumed file equals the file it resumed.
"""
import sys

import h5py
import numpy as np


def as_text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def same_values(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "O":
        return [as_text(x) for x in a.ravel()] == [as_text(x) for x in b.ravel()]
    return a.tobytes() == b.tobytes()  # bit for bit: NaN equals NaN, -0.0 differs from 0.0


def compare_attrs(name, expected, actual, problems):
    e_keys, a_keys = set(expected.attrs), set(actual.attrs)
    for key in sorted(e_keys ^ a_keys):
        problems.append(f"{name}: attribute {key} only in {'expected' if key in e_keys else 'actual'}")
    for key in sorted(e_keys & a_keys):
        if not same_values(expected.attrs[key], actual.attrs[key]):
            problems.append(f"{name}: attribute {key} is {actual.attrs[key]!r}, expected {expected.attrs[key]!r}")


def records(group):
    """Returns {dataset: rows [:n_records] ordered by cell} of one normalizer group."""
    n = int(group.attrs["n_records"])
    order = np.argsort(group["cell"][:n], kind="stable")
    return {name: group[name][:n][order] for name in group}


def compare(expected, actual):
    problems = []
    for name in ("/", "grid", "model"):
        if name not in expected or name not in actual:
            problems.append(f"{name}: missing in {'expected' if name not in expected else 'actual'}")
            continue
        compare_attrs(name, expected[name], actual[name], problems)
    e_groups, a_groups = set(expected["normalizers"]), set(actual["normalizers"])
    for key in sorted(e_groups ^ a_groups):
        problems.append(f"normalizers/{key}: only in {'expected' if key in e_groups else 'actual'}")
    n_records = 0
    for key in sorted(e_groups & a_groups):
        name = f"normalizers/{key}"
        e_group, a_group = expected[name], actual[name]
        compare_attrs(name, e_group, a_group, problems)
        e_records, a_records = records(e_group), records(a_group)
        for column in sorted(set(e_records) ^ set(a_records)):
            problems.append(f"{name}/{column}: only in {'expected' if column in e_records else 'actual'}")
        for column in sorted(set(e_records) & set(a_records)):
            e_rows, a_rows = e_records[column], a_records[column]
            if e_rows.shape != a_rows.shape or e_rows.dtype != a_rows.dtype:
                problems.append(f"{name}/{column}: {a_rows.dtype} {a_rows.shape}, expected {e_rows.dtype} "
                                f"{e_rows.shape}")
            elif not same_values(e_rows, a_rows):
                cells = [int(c) for c, e, a in zip(e_records["cell"], e_rows, a_rows) if not same_values(e, a)]
                problems.append(f"{name}/{column}: records of cells {cells} differ")
        n_records += len(e_records["cell"])
    return problems, n_records, len(e_groups)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with h5py.File(sys.argv[1], "r") as expected, h5py.File(sys.argv[2], "r") as actual:
        problems, n_records, n_normalizers = compare(expected, actual)
    for problem in problems:
        print(f"DIFFERENT {problem}")
    if problems:
        print(f"{len(problems)} difference(s) between {sys.argv[1]} and {sys.argv[2]}")
        return 1
    if n_records == 0:
        print(f"{sys.argv[1]} holds no records: nothing was compared")
        return 1
    print(f"identical: {n_records} records of {n_normalizers} normalizers, and the headers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
