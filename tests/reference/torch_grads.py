#!/usr/bin/env python3
"""Writes PyTorch reference gradients for tests/torch_grads_test.cpp.

Usage: torch_grads.py OUT_DIR. Writes mlp.npz and block.npz: the inputs, the weights, the loss
and the gradient of the loss w.r.t. every weight ("grad_<name>"), in float32; and attention*.npz:
grouped-query attention (causal, causal over a longer key range, unmasked) on
bfloat16-representable inputs, its output and the gradients of sum(output * cotangent) w.r.t. q,
k and v, computed in float64; and rms_norm*.npz: RMSNorm of bfloat16-representable rows
(several 64-row blocks, widths with and without a vector tail), its output and the gradients of
sum(output * cotangent) w.r.t. x and the weight, in float64.
"""
import math
import sys

import numpy as np
import torch

torch.manual_seed(0)
out = sys.argv[1]


def save(name, tensors):
    np.savez(f"{out}/{name}.npz", **{k: v.detach().numpy().astype(np.float32) for k, v in tensors.items()})


def mlp():
    # 2-layer MLP with ReLU and a mean-squared-error loss.
    b, d_in, d_hid, d_out = 16, 24, 32, 8
    params = {
        "w1": torch.randn(d_hid, d_in) / math.sqrt(d_in),
        "b1": torch.randn(d_hid) * 0.1,
        "w2": torch.randn(d_out, d_hid) / math.sqrt(d_hid),
        "b2": torch.randn(d_out) * 0.1,
    }
    x = torch.randn(b, d_in)
    y = torch.randn(b, d_out)
    for p in params.values():
        p.requires_grad_(True)
    h = torch.relu(x @ params["w1"].T + params["b1"])
    pred = h @ params["w2"].T + params["b2"]
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    t = {"x": x, "y": y, "loss": loss.reshape(())}
    t.update(params)
    t.update({"grad_" + k: p.grad for k, p in params.items()})
    save("mlp", t)


def rope(x, base=10000.0):
    # Rotates the two halves of the last axis (the non-interleaved layout), positions 0..T-1.
    t, d = x.shape[-2], x.shape[-1]
    half = d // 2
    freqs = base ** (-torch.arange(half, dtype=torch.float32) * 2.0 / d)
    theta = torch.arange(t, dtype=torch.float32)[:, None] * freqs[None, :]
    c, s = torch.cos(theta), torch.sin(theta)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)


def block():
    # Pre-norm transformer block: RMSNorm, causal attention with RoPE, residual, LayerNorm,
    # SwiGLU MLP, residual; loss = mean squared error against a target.
    b, t, d, heads, hidden = 2, 8, 32, 4, 64
    dh = d // heads
    params = {
        "norm1": 1 + 0.1 * torch.randn(d),
        "wq": torch.randn(d, d) / math.sqrt(d),
        "wk": torch.randn(d, d) / math.sqrt(d),
        "wv": torch.randn(d, d) / math.sqrt(d),
        "wo": torch.randn(d, d) / math.sqrt(d),
        "ln_w": 1 + 0.1 * torch.randn(d),
        "ln_b": 0.1 * torch.randn(d),
        "w1": torch.randn(hidden, d) / math.sqrt(d),
        "w3": torch.randn(hidden, d) / math.sqrt(d),
        "w2": torch.randn(d, hidden) / math.sqrt(hidden),
    }
    x = torch.randn(b, t, d)
    y = torch.randn(b, t, d)
    for p in params.values():
        p.requires_grad_(True)
    p = params
    h = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * p["norm1"]

    def heads_of(z):
        return z.reshape(b, t, heads, dh).transpose(1, 2)

    q, k, v = heads_of(h @ p["wq"].T), heads_of(h @ p["wk"].T), heads_of(h @ p["wv"].T)
    q, k = rope(q), rope(k)
    scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
    causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
    scores = scores.masked_fill(causal, float("-inf"))
    attn = torch.softmax(scores, -1) @ v
    x2 = x + attn.transpose(1, 2).reshape(b, t, d) @ p["wo"].T
    h2 = torch.nn.functional.layer_norm(x2, (d,), p["ln_w"], p["ln_b"], 1e-5)
    mlp_out = (torch.nn.functional.silu(h2 @ p["w1"].T) * (h2 @ p["w3"].T)) @ p["w2"].T
    outp = x2 + mlp_out
    loss = ((outp - y) ** 2).mean()
    loss.backward()
    tensors = {"x": x, "y": y, "loss": loss.reshape(())}
    tensors.update(params)
    tensors.update({"grad_" + k: v.grad for k, v in params.items()})
    save("block", tensors)


def attention(name, b, hq, hkv, lq, lk, dh, causal):
    # Grouped-query attention on inputs rounded to bfloat16, so that a bfloat16 run starts from
    # exactly these values; causal masks align the queries with the last lq keys.
    def bf16(*shape):
        return torch.randn(*shape).to(torch.bfloat16).to(torch.float64)
    q, k, v, g = bf16(b, hq, lq, dh), bf16(b, hkv, lk, dh), bf16(b, hkv, lk, dh), bf16(b, hq, lq, dh)
    for x in (q, k, v):
        x.requires_grad_(True)
    rep = hq // hkv
    ke, ve = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    scores = q @ ke.transpose(-1, -2) / math.sqrt(dh)
    if causal:
        hidden = torch.arange(lk)[None, :] > torch.arange(lq)[:, None] + (lk - lq)
        scores = scores.masked_fill(hidden, float("-inf"))
    out = torch.softmax(scores, -1) @ ve
    (out * g).sum().backward()
    save(name, {"q": q, "k": k, "v": v, "cotangent": g, "out": out,
                "grad_q": q.grad, "grad_k": k.grad, "grad_v": v.grad})


def rms_norm(name, shape, eps=1e-5):
    def bf16(*dims):
        return torch.randn(*dims).to(torch.bfloat16).to(torch.float64)
    x, w, g = bf16(*shape), bf16(shape[-1]) * 0.5 + 1.0, bf16(*shape)
    x.requires_grad_(True)
    w.requires_grad_(True)
    out = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w
    (out * g).sum().backward()
    save(name, {"x": x, "weight": w, "cotangent": g, "out": out, "grad_x": x.grad, "grad_weight": w.grad})


mlp()
block()
rms_norm("rms_norm", (3, 50, 37))  # 150 rows: three 64-row blocks; 37 = two vectors and a tail
rms_norm("rms_norm_wide", (130, 256))
attention("attention", 2, 4, 2, 24, 24, 16, True)
attention("attention_offset", 1, 2, 1, 40, 70, 8, True)  # two query blocks, 30 earlier keys
attention("attention_full", 1, 3, 3, 33, 17, 8, False)
