#!/usr/bin/env python3
"""Peer timings for Tessera's benchmark cases: the same shapes and dtypes through NumPy and
PyTorch, printed as JSON (median seconds per call, plus how many samples the median is over).

Meant for Debian's /usr/bin/python3 with python3-numpy and python3-torch; a framework that is
not importable is reported as missing instead of failing the run. PyTorch runs with
torch.set_num_threads(THREADS); NumPy's elementwise ops are single-threaded by design, its
matmul uses whatever BLAS it is linked to (OPENBLAS_NUM_THREADS is the caller's business).

The BLAS core matters for the matmul cases: OpenBLAS reads OPENBLAS_CORETYPE at load time, so
benchmarks/run_all.py runs this script once per environment variant. The "blas" field says
which core each loaded OpenBLAS picked (threadpoolctl when available, else OpenBLAS's own
openblas_get_corename through ctypes).
"""

import argparse
import ctypes
import json
import os
import platform
import re
import statistics
import sys
import time

N16M = 16 * 1024 * 1024
ROWS = COLS = 4096
CHAIN = 100
SMALL = 16
EPS = 1e-5

# case name -> (what it measures, "per" divisor: the median is divided by it, e.g. per op)
CASES = {
    "add_16M": ("a + b, float32 [16M]", 1),
    "exp_16M": ("exp(x), float32 [16M]", 1),
    "chain5_16M": ("exp(2x+1)*x-0.5, float32 [16M]", 1),
    "sum_16M": ("sum(x), float32 [16M]", 1),
    "softmax_4096": ("softmax(x, axis=-1), float32 [4096,4096]", 1),
    "rms_norm_4096": ("rms_norm(x, w, 1e-5), float32 [4096,4096]", 1),
    "matmul_f32_2048": ("a @ b, float32 2048^3", 1),
    "matmul_f32_4096": ("a @ b, float32 4096^3", 1),
    "matmul_bf16_2048": ("a @ b, bfloat16 2048^3", 1),
    "eval_1op_16": ("exp(x), float32 [16] (per-call overhead)", 1),
    "chain100_16": ("100 alternating mul/add on float32 [16], per op", CHAIN),
    "chain5_16M_compiled": ("exp(2x+1)*x-0.5, float32 [16M]; (out=): in place into one temporary", 1),
    "compile_cache_hit_100": ("100 alternating mul/add on float32 [16], whole function; torch.jit: a traced "
                              "function's call", 1),
}


def measure(fn, min_time, min_reps, max_reps, max_time):
    """Median seconds per call of fn(). Calls are batched so each sample lasts >= ~1 ms (the
    timer's resolution and Python's loop overhead stay small next to the sample)."""
    fn()  # warm-up: page faults, allocator caches, BLAS thread start
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    batch = max(1, int(1e-3 / max(one, 1e-9)))
    samples = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - t0) / batch)
        elapsed = time.perf_counter() - start
        if len(samples) >= max_reps or elapsed > max_time:
            break
        if len(samples) >= min_reps and elapsed >= min_time:
            break
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "samples": len(samples),
        "calls_per_sample": batch,
    }


def rng_values(np, shape, seed, lo=-1.0, hi=1.0):
    r = np.random.default_rng(seed)
    return r.uniform(lo, hi, size=shape).astype(np.float32)


def numpy_cases(np):
    """case -> zero-argument callable, built lazily so large inputs exist only while measured."""

    def add():
        a, b = rng_values(np, N16M, 1), rng_values(np, N16M, 2)
        return lambda: a + b

    def add_out():
        a, b = rng_values(np, N16M, 1), rng_values(np, N16M, 2)
        c = np.empty_like(a)
        return lambda: np.add(a, b, out=c)

    def exp():
        x = rng_values(np, N16M, 3)
        return lambda: np.exp(x)

    def exp_out():
        x = rng_values(np, N16M, 3)
        y = np.empty_like(x)
        return lambda: np.exp(x, out=y)

    def chain5():
        x = rng_values(np, N16M, 4)
        return lambda: np.exp(2.0 * x + 1.0) * x - 0.5

    def chain5_out():
        # The best NumPy does without a compiler: every op in place on one temporary.
        x = rng_values(np, N16M, 4)

        def f():
            t = np.multiply(x, np.float32(2.0))
            t += np.float32(1.0)
            np.exp(t, out=t)
            t *= x
            t -= np.float32(0.5)
            return t

        return f

    def sum_():
        x = rng_values(np, N16M, 5)
        return lambda: x.sum()

    def softmax():
        x = rng_values(np, (ROWS, COLS), 6, -4.0, 4.0)

        def f():
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        return f

    def rms_norm():
        x = rng_values(np, (ROWS, COLS), 7)
        w = rng_values(np, COLS, 8, 0.5, 1.5)

        def f():
            ms = np.mean(x * x, axis=-1, keepdims=True)
            return x * (1.0 / np.sqrt(ms + np.float32(EPS))) * w

        return f

    def matmul(n):
        def make():
            a, b = rng_values(np, (n, n), 11), rng_values(np, (n, n), 12)
            return lambda: a @ b

        return make

    def eval1():
        x = rng_values(np, SMALL, 21)
        return lambda: np.exp(x)

    def chain100():
        x, c, d = rng_values(np, SMALL, 22), rng_values(np, SMALL, 23, 0.5, 1.0), rng_values(np, SMALL, 24, -0.5, 0.5)

        def f():
            y = x
            for i in range(CHAIN):
                y = y * c if i % 2 == 0 else y + d
            return y

        return f

    return {
        "add_16M": {"numpy": add, "numpy(out=)": add_out},
        "exp_16M": {"numpy": exp, "numpy(out=)": exp_out},
        "chain5_16M": {"numpy": chain5},
        "sum_16M": {"numpy": sum_},
        "softmax_4096": {"numpy": softmax},
        "rms_norm_4096": {"numpy": rms_norm},
        "matmul_f32_2048": {"numpy": matmul(2048)},
        "matmul_f32_4096": {"numpy": matmul(4096)},
        # NumPy has no bfloat16.
        "eval_1op_16": {"numpy": eval1},
        "chain100_16": {"numpy": chain100},
        "chain5_16M_compiled": {"numpy": chain5, "numpy(out=)": chain5_out},
        "compile_cache_hit_100": {"numpy": chain100},
    }


def torch_cases(np, torch):
    def t(shape, seed, lo=-1.0, hi=1.0):
        return torch.from_numpy(rng_values(np, shape, seed, lo, hi))

    def add():
        a, b = t(N16M, 1), t(N16M, 2)
        return lambda: a + b

    def add_out():
        a, b = t(N16M, 1), t(N16M, 2)
        c = torch.empty_like(a)
        return lambda: torch.add(a, b, out=c)

    def exp():
        x = t(N16M, 3)
        return lambda: torch.exp(x)

    def exp_out():
        x = t(N16M, 3)
        y = torch.empty_like(x)
        return lambda: torch.exp(x, out=y)

    def chain5():
        x = t(N16M, 4)
        return lambda: torch.exp(2.0 * x + 1.0) * x - 0.5

    def chain5_out():
        x = t(N16M, 4)

        def f():
            y = torch.mul(x, 2.0)
            y.add_(1.0).exp_().mul_(x).sub_(0.5)
            return y

        return f

    def sum_():
        x = t(N16M, 5)
        return lambda: x.sum()

    def softmax():
        x = t((ROWS, COLS), 6, -4.0, 4.0)
        return lambda: torch.softmax(x, dim=-1)

    def rms_norm():
        # torch 1.13 has no rms_norm: the usual composite (as in HF's LlamaRMSNorm).
        x = t((ROWS, COLS), 7)
        w = t(COLS, 8, 0.5, 1.5)
        return lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w

    def matmul(n, dtype):
        def make():
            a, b = t((n, n), 11).to(dtype), t((n, n), 12).to(dtype)
            return lambda: a @ b

        return make

    def eval1():
        x = t(SMALL, 21)
        return lambda: torch.exp(x)

    def chain100():
        x, c, d = t(SMALL, 22), t(SMALL, 23, 0.5, 1.0), t(SMALL, 24, -0.5, 0.5)

        def f():
            y = x
            for i in range(CHAIN):
                y = y * c if i % 2 == 0 else y + d
            return y

        return f

    def chain100_jit():
        # torch 1.13 has no torch.compile, and Debian's build has no LLVM for its CPU fuser:
        # a traced TorchScript function is what a compiled call costs there.
        x, c, d = t(SMALL, 22), t(SMALL, 23, 0.5, 1.0), t(SMALL, 24, -0.5, 0.5)

        def f(y, c, d):
            for i in range(CHAIN):
                y = y * c if i % 2 == 0 else y + d
            return y

        g = torch.jit.trace(f, (x, c, d), check_trace=False)
        for _ in range(3):
            g(x, c, d)  # the profiling executor optimizes after the first calls
        return lambda: g(x, c, d)

    return {
        "add_16M": {"torch": add, "torch(out=)": add_out},
        "exp_16M": {"torch": exp, "torch(out=)": exp_out},
        "chain5_16M": {"torch": chain5},
        "sum_16M": {"torch": sum_},
        "softmax_4096": {"torch": softmax},
        "rms_norm_4096": {"torch": rms_norm},
        "matmul_f32_2048": {"torch": matmul(2048, torch.float32)},
        "matmul_f32_4096": {"torch": matmul(4096, torch.float32)},
        "matmul_bf16_2048": {"torch": matmul(2048, torch.bfloat16)},
        "eval_1op_16": {"torch": eval1},
        "chain100_16": {"torch": chain100},
        "chain5_16M_compiled": {"torch": chain5, "torch(out=)": chain5_out},
        "compile_cache_hit_100": {"torch": chain100, "torch.jit": chain100_jit},
    }


def blas_info():
    """Which BLAS cores this process loaded (call after importing numpy and torch)."""
    try:
        import threadpoolctl  # noqa: F401

        info = threadpoolctl.threadpool_info()
        return {"method": "threadpoolctl", "libraries": [
            {"path": i.get("filepath"), "api": i.get("internal_api"), "core": i.get("architecture"),
             "threads": i.get("num_threads"), "version": i.get("version")} for i in info]}
    except ImportError:
        pass
    libs = []
    try:
        with open("/proc/self/maps") as f:
            paths = sorted(set(re.findall(r"(/\S*(?:blas|mkl)\S*\.so[\w.]*)", f.read())))
    except OSError:
        paths = []
    seen = set()
    for p in paths:
        entry = {"path": p}
        try:
            lib = ctypes.CDLL(p)
            get_core = lib.openblas_get_corename
            get_core.restype = ctypes.c_char_p
            get_cfg = lib.openblas_get_config
            get_cfg.restype = ctypes.c_char_p
            entry.update(api="openblas", core=get_core().decode(), config=get_cfg().decode(),
                         threads=int(lib.openblas_get_num_threads()))
        except (OSError, AttributeError):
            entry.update(api="unknown")
        key = (entry.get("config"), entry.get("core"))
        if entry.get("api") == "openblas" and key in seen:
            continue  # libblas.so.3 and liblapack.so.3 are the same OpenBLAS
        seen.add(key)
        libs.append(entry)
    return {"method": "openblas_get_corename via ctypes (threadpoolctl not installed)", "libraries": libs}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated case names (default: all): " + ", ".join(CASES))
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds of samples per case and framework")
    ap.add_argument("--min-reps", type=int, default=5, help="at least this many samples (unless --max-time)")
    ap.add_argument("--max-time", type=float, default=12.0, help="stop sampling a case after this many seconds")
    ap.add_argument("--label", default="", help="free text copied into the output (the environment variant)")
    args = ap.parse_args()

    only = [c for c in args.only.split(",") if c]
    for c in only:
        if c not in CASES:
            ap.error(f"unknown case {c!r}; known: {', '.join(CASES)}")
    wanted = only or list(CASES)

    out = {
        "tool": "peers.py",
        "label": args.label,
        "python": platform.python_version(),
        "executable": sys.executable,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                                "OMP_NUM_THREADS")},
        "frameworks": {},
        "cases": {},
    }
    tables = {}
    try:
        import numpy as np
    except ImportError as e:
        out["frameworks"]["numpy"] = {"missing": str(e)}
        print(json.dumps(out, indent=2))
        return 0
    out["frameworks"]["numpy"] = {"version": np.__version__}
    tables.update({k: dict(v) for k, v in numpy_cases(np).items()})
    try:
        import torch

        torch.set_num_threads(args.threads)
        out["frameworks"]["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
        for k, v in torch_cases(np, torch).items():
            tables.setdefault(k, {}).update(v)
    except ImportError as e:
        out["frameworks"]["torch"] = {"missing": str(e)}
    out["blas"] = blas_info()

    tracemalloc = None
    try:
        import tracemalloc  # NumPy reports its data buffers to tracemalloc; torch does not.
    except ImportError:
        pass

    for case in wanted:
        desc, per = CASES[case]
        res = {"what": desc, "per": per, "peers": {}}
        for peer, make in tables.get(case, {}).items():
            fn = make()
            m = measure(fn, args.min_time, args.min_reps, 200, args.max_time)
            m["median_s"] /= per
            m["min_s"] /= per
            if tracemalloc is not None and peer.startswith("numpy"):
                tracemalloc.start()
                tracemalloc.reset_peak()
                base = tracemalloc.get_traced_memory()[0]
                fn()
                m["peak_extra_bytes"] = tracemalloc.get_traced_memory()[1] - base
                tracemalloc.stop()
            res["peers"][peer] = m
            del fn
        out["cases"][case] = res
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
