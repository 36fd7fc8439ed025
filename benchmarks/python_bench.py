#!/usr/bin/env python3
"""Python API overhead (issue: Python API), printed as a table or --json:

  op_call_us       one lazy op on small arrays from Python (mx.add on shape (4,)): what a call
                   costs before any evaluation; target under 2 us. NumPy's eager add of the same
                   arrays is shown beside it.
  op_eval_us       the same op evaluated at once (mx.eval per op).
  train_step_ms    one training step of the demo model configuration (4 layers, 256 wide, 4 heads,
                   SwiGLU 688, tied 1024-token embedding, batch 16 x 256; float32) written in
                   Python with tessera.nn / tessera.optimizers, next to the C++ step of the same
                   model (train_bench's BM_LMTrainStep, run in the same invocation when --build
                   is given). Target: the Python loop within 5% of C++.

Run with Debian's /usr/bin/python3 and PYTHONPATH=BUILD/python (or after `make build`, which
registers the package). Medians of --repeats runs.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time


def op_overhead(mx, np, n=100000, repeats=5):
    a, b = mx.ones((4,)), mx.ones((4,))
    mx.eval(a, b)
    lazy, evald, numpy_add = [], [], []
    x = np.ones(4, np.float32)
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            mx.add(a, b)
        lazy.append((time.perf_counter() - t) / n * 1e6)
        t = time.perf_counter()
        for _ in range(n // 10):
            mx.eval(mx.add(a, b))
        evald.append((time.perf_counter() - t) / (n // 10) * 1e6)
        t = time.perf_counter()
        for _ in range(n):
            np.add(x, x)
        numpy_add.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(lazy), statistics.median(evald), statistics.median(numpy_add)


def demo_model(mx, nn):
    dims, layers, heads, hidden, vocab = 256, 4, 4, 688, 1024
    hd = dims // heads

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(dims, dims, bias=False)
            self.k_proj = nn.Linear(dims, dims, bias=False)
            self.v_proj = nn.Linear(dims, dims, bias=False)
            self.o_proj = nn.Linear(dims, dims, bias=False)

        def __call__(self, x):
            b, l, _ = x.shape

            def split(z):
                return z.reshape(b, l, heads, hd).transpose(0, 2, 1, 3)

            q = mx.fast.rope(split(self.q_proj(x)), hd, traditional=False, base=10000.0, scale=1.0, offset=0)
            k = mx.fast.rope(split(self.k_proj(x)), hd, traditional=False, base=10000.0, scale=1.0, offset=0)
            v = split(self.v_proj(x))
            o = mx.fast.scaled_dot_product_attention(q, k, v, scale=1.0 / math.sqrt(hd), mask="causal")
            return self.o_proj(o.transpose(0, 2, 1, 3).reshape(b, l, dims))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = nn.Linear(dims, hidden, bias=False)
            self.up_proj = nn.Linear(dims, hidden, bias=False)
            self.down_proj = nn.Linear(hidden, dims, bias=False)

        def __call__(self, x):
            return self.down_proj(nn.silu(self.gate_proj(x)) * self.up_proj(x))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = nn.RMSNorm(dims)
            self.self_attn = Attention()
            self.post_attention_layernorm = nn.RMSNorm(dims)
            self.mlp = MLP()

        def __call__(self, x):
            x = x + self.self_attn(self.input_layernorm(x))
            return x + self.mlp(self.post_attention_layernorm(x))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(vocab, dims)
            self.layers = [Block() for _ in range(layers)]
            self.norm = nn.RMSNorm(dims)

        def __call__(self, tokens):
            x = self.embed_tokens(tokens)
            for layer in self.layers:
                x = layer(x)
            return self.embed_tokens.as_linear(self.norm(x))

    return Model(), vocab


def python_train_step(mx, nn, optim, np, repeats):
    mx.random.seed(0)
    model, vocab = demo_model(mx, nn)
    mx.eval(model.parameters())
    opt = optim.AdamW(learning_rate=2e-3, betas=[0.9, 0.95], eps=1e-8, weight_decay=0.1)
    rng = np.random.default_rng(1)
    seq = mx.array(rng.integers(0, vocab, (16, 257)).astype(np.int32))
    inputs, targets = seq[:, :-1], seq[:, 1:]

    def loss_fn(x, y):
        return nn.losses.cross_entropy(model(x).astype(mx.float32), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)

    def step():
        loss, grads = loss_and_grad(inputs, targets)
        grads, _ = optim.clip_grad_norm(grads, 1.0)
        opt.update(model, grads)
        mx.eval(loss, model.parameters(), opt.state)
        return loss.item()

    first = step()
    step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        last = step()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), first, last


def cpp_train_step(build):
    binary = os.path.join(build, "benchmarks", "train_bench")
    if not os.path.exists(binary):
        return None
    out = subprocess.run([binary, "--benchmark_filter=BM_LMTrainStep/bf16:0", "--benchmark_format=json"],
                         capture_output=True, text=True, timeout=900)
    for b in json.loads(out.stdout)["benchmarks"]:
        if b["name"].startswith("BM_LMTrainStep/bf16:0"):
            return b["real_time"]  # ms (the benchmark's unit)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="build directory holding benchmarks/train_bench, for the C++ step")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-train", action="store_true", help="only the per-op overhead")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import numpy as np
    import tessera.core as mx
    import tessera.nn as nn
    import tessera.optimizers as optim

    lazy, evald, numpy_add = op_overhead(mx, np, repeats=args.repeats)
    result = {"op_call_us": lazy, "op_eval_us": evald, "numpy_add_us": numpy_add, "op_call_target_us": 2.0}
    if not args.skip_train:
        py_ms, first, last = python_train_step(mx, nn, optim, np, args.repeats)
        result.update({"train_step_ms_python": py_ms, "loss_first": first, "loss_last": last})
        if args.build:
            cpp_ms = cpp_train_step(args.build)
            if cpp_ms is not None:
                result.update({"train_step_ms_cpp": cpp_ms, "python_over_cpp": py_ms / cpp_ms})
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"lazy op call      {lazy:8.3f} us   (target < 2 us; numpy eager add {numpy_add:.3f} us)")
    print(f"op + eval         {evald:8.3f} us")
    if "train_step_ms_python" in result:
        print(f"train step (py)   {result['train_step_ms_python']:8.1f} ms   loss {first:.3f} -> {last:.3f}")
    if "train_step_ms_cpp" in result:
        print(f"train step (C++)  {result['train_step_ms_cpp']:8.1f} ms   python/C++ = {result['python_over_cpp']:.3f}"
              " (target <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
