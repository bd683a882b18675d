#!/usr/bin/env python3
"""Compares two capture files dataset by dataset and attribute by attribute; exits 1 naming every difference.

Usage: compare_captures.py EXPECTED.h5 ACTUAL.h5

Everything must be equal: the tree of groups and datasets, each dataset's dtype, shape, chunking, compression and
values (bit for bit; NaN equals NaN), each attribute's dtype and value. Two attributes legitimately differ between
two captures of the same inputs and are not compared by value:
  created  on /runs/<run>:                    the time the run was written
  path     on /model and /runs/<run>/model:   the model directory as given on the command line (the golden file
                                              was written from another checkout); only its last component is
                                              compared
"""
import os
import sys

import h5py
import numpy as np

IGNORED = {"created"}  # compared for presence only
BASENAME_ONLY = {"path"}


def values_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def as_text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def compare(expected, actual):
    problems = []

    def visit_attrs(name, e, a):
        e_keys, a_keys = set(e.attrs.keys()), set(a.attrs.keys())
        for key in sorted(e_keys ^ a_keys):
            problems.append(f"{name}: attribute {key} only in {'expected' if key in e_keys else 'actual'}")
        for key in sorted(e_keys & a_keys):
            ev, av = e.attrs[key], a.attrs[key]
            if key in IGNORED:
                continue
            if key in BASENAME_ONLY:
                eb = os.path.basename(os.path.normpath(as_text(ev)))
                ab = os.path.basename(os.path.normpath(as_text(av)))
                if eb != ab:
                    problems.append(f"{name}: attribute {key} names {ab!r}, expected {eb!r}")
                continue
            e_type = e.attrs.get_id(key).dtype
            a_type = a.attrs.get_id(key).dtype
            if e_type != a_type:
                problems.append(f"{name}: attribute {key} has dtype {a_type}, expected {e_type}")
            elif not values_equal(ev, av):
                problems.append(f"{name}: attribute {key} is {av!r}, expected {ev!r}")

    def visit(name, e, a):
        visit_attrs(name, e, a)
        if isinstance(e, h5py.Dataset):
            if not isinstance(a, h5py.Dataset):
                problems.append(f"{name}: a group, expected a dataset")
                return
            for what in ("dtype", "shape", "chunks", "compression", "compression_opts"):
                if getattr(e, what) != getattr(a, what):
                    problems.append(f"{name}: {what} {getattr(a, what)}, expected {getattr(e, what)}")
            if e.dtype == a.dtype and e.shape == a.shape:
                ev, av = e[()], a[()]
                if e.dtype.kind == "O":
                    same = [as_text(x) for x in np.ravel(ev)] == [as_text(x) for x in np.ravel(av)]
                else:
                    same = values_equal(ev, av)
                if not same:
                    detail = ""
                    if e.dtype.kind == "f":
                        diff = np.abs(ev.astype(np.float64) - av.astype(np.float64))
                        diff = diff[np.isfinite(diff)]
                        detail = f" (max |difference| {diff.max() if diff.size else float('nan')})"
                    problems.append(f"{name}: values differ{detail}")
            return
        if not isinstance(a, h5py.Group):
            problems.append(f"{name}: a dataset, expected a group")
            return
        e_keys, a_keys = set(e.keys()), set(a.keys())
        for key in sorted(e_keys ^ a_keys):
            problems.append(f"{name.rstrip('/')}/{key}: only in {'expected' if key in e_keys else 'actual'}")
        for key in sorted(e_keys & a_keys):
            visit(f"{name.rstrip('/')}/{key}", e[key], a[key])

    visit("/", expected, actual)
    return problems


def count(f):
    n = [0, 0]
    f.visititems(lambda _, obj: n.__setitem__(isinstance(obj, h5py.Dataset), n[isinstance(obj, h5py.Dataset)] + 1))
    return n


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with h5py.File(sys.argv[1], "r") as expected, h5py.File(sys.argv[2], "r") as actual:
        problems = compare(expected, actual)
        groups, datasets = count(expected)
    for p in problems:
        print(f"DIFFERENT {p}")
    if problems:
        print(f"{len(problems)} difference(s) between {sys.argv[1]} and {sys.argv[2]}")
        return 1
    print(f"identical: {groups} groups, {datasets} datasets and their attributes "
          f"(created compared for presence, path by its last component)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
