#!/usr/bin/env python3
"""Writes NumPy reference cases for Tessera's op tests.

Usage: make_fixtures.py OUT_DIR

Every module tests/reference/cases_*.py defines `cases(rng)` yielding Case objects. For each
case this script writes the inputs and NumPy's expected outputs as raw little-endian files plus
a manifest.json that tests/ops_numpy_test.cpp reads. Inputs may carry a `view` that the C++ side
applies before calling the op (a transpose or a strided slice), so kernels see non-contiguous
memory while NumPy computes on the same logical values.
"""
import glob
import importlib.util
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

NP_TO_TESSERA = {
    np.dtype(np.bool_): "bool",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.uint64): "uint64",
    np.dtype(np.int8): "int8",
    np.dtype(np.int16): "int16",
    np.dtype(np.int32): "int32",
    np.dtype(np.int64): "int64",
    np.dtype(np.float16): "float16",
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.complex64): "complex64",
}


class Input:
    """An op input. view: None, "T" (stored transposed, C++ transposes back to the logical
    array, giving a non-contiguous view) or "step2" (stored with every other element along the
    last axis; C++ slices [..., ::2]). cast: a Tessera dtype to cast to on the C++ side (for
    bfloat16, which NumPy lacks)."""

    def __init__(self, value, view=None, cast=None):
        self.value = np.asarray(value)
        self.view = view
        self.cast = cast


class Case:
    def __init__(self, name, op, inputs, expected, params=None, rtol=1e-5, atol=1e-6, dtype=None,
                 error=None):
        self.name = name
        self.op = op
        self.inputs = [i if isinstance(i, Input) else Input(i) for i in inputs]
        self.expected = expected if isinstance(expected, (list, tuple)) else [expected]
        self.params = params or {}
        self.rtol = rtol
        self.atol = atol
        self.dtype = dtype  # expected Tessera dtype name(s) of the outputs, if checked
        self.error = error  # "invalid_argument" / "out_of_range" if the op must throw


def write_array(out_dir, stem, a):
    a = np.asarray(a)
    if a.dtype == np.complex128:
        a = a.astype(np.complex64)
    if a.dtype not in NP_TO_TESSERA:
        raise TypeError(f"{stem}: unsupported dtype {a.dtype}")
    path = os.path.join(out_dir, stem + ".bin")
    np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tofile(path)
    return {"file": os.path.basename(path), "dtype": NP_TO_TESSERA[a.dtype], "shape": list(a.shape)}


def stored_form(inp):
    v = inp.value
    if inp.view == "T":
        return np.ascontiguousarray(v.transpose())
    if inp.view == "step2":
        shape = list(v.shape)
        shape[-1] *= 2
        s = np.zeros(shape, dtype=v.dtype)
        s[..., ::2] = v
        return s
    return v


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    seen = set()
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        rng = np.random.default_rng(1234)
        with np.errstate(all="ignore"):
            for case in mod.cases(rng):
                if case.name in seen:
                    raise ValueError(f"duplicate case name {case.name}")
                seen.add(case.name)
                stem = f"c{len(manifest):05d}"
                entry = {
                    "name": case.name,
                    "op": case.op,
                    "params": case.params,
                    "rtol": case.rtol,
                    "atol": case.atol,
                    "error": case.error,
                    "inputs": [],
                    "expected": [],
                }
                for k, inp in enumerate(case.inputs):
                    rec = write_array(out_dir, f"{stem}_in{k}", stored_form(inp))
                    rec["view"] = inp.view
                    rec["cast"] = inp.cast
                    entry["inputs"].append(rec)
                if case.error is None:
                    for k, e in enumerate(case.expected):
                        entry["expected"].append(write_array(out_dir, f"{stem}_out{k}", e))
                if case.dtype is not None:
                    entry["dtype"] = case.dtype if isinstance(case.dtype, list) else [case.dtype]
                manifest.append(entry)
    with open(os.path.join(out_dir, "manifest.json.tmp"), "w") as f:
        json.dump(manifest, f)
    os.replace(os.path.join(out_dir, "manifest.json.tmp"), os.path.join(out_dir, "manifest.json"))
    print(f"wrote {len(manifest)} cases to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
