#!/usr/bin/env python3
"""Writes PyTorch references for the layer tests in tests/nn_test.cpp.

Usage: torch_nn.py OUT_DIR (exit status 77 when PyTorch or NumPy is missing). Writes
OUT_DIR/nn.npz, float32 throughout, keys "<case>.<name>": inputs, weights already in Tessera's
layouts (channels-last, MLX weight shapes) and the outputs PyTorch computes from them. One file,
one Python start-up, to keep the test fast.
"""
import math
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit(77)  # the test skips: PyTorch is an optional test dependency

torch.manual_seed(0)
out = {}


def put(case, **tensors):
    for k, v in tensors.items():
        if isinstance(v, torch.Tensor):
            v = v.detach()
            v = v.numpy() if v.dtype in (torch.int32, torch.int64) else v.float().numpy()
        out[f"{case}.{k}"] = v


def with_grads(case, y, params):
    """Saves a cotangent r and the gradients of sum(y * r) as "<case>.grad.<name>".

    params maps our parameter names to (tensor, layout), where layout turns PyTorch's gradient
    into our weight layout.
    """
    r = torch.randn(y.shape)
    grads = torch.autograd.grad((y * r).sum(), [t for t, _ in params.values()])
    put(case, r=r, **{"grad." + k: layout(g) for (k, (_, layout)), g in zip(params.items(), grads)})


def same(g):
    return g


def activations():
    x = torch.cat([torch.linspace(-6, 6, 49), torch.randn(63) * 3]).reshape(8, 14)
    alpha = torch.rand(14) * 0.5
    refs = {
        "relu": F.relu(x),
        "relu6": F.relu6(x),
        "relu_squared": F.relu(x) ** 2,
        "leaky_relu": F.leaky_relu(x, 0.1),
        "elu": F.elu(x, 1.5),
        "selu": F.selu(x),
        "celu": F.celu(x, 1.3),
        "gelu": F.gelu(x),
        "gelu_approx": F.gelu(x, approximate="tanh"),
        "gelu_fast_approx": x * torch.sigmoid(1.702 * x),
        "silu": F.silu(x),
        "mish": F.mish(x),
        "softplus": F.softplus(x),
        "softsign": F.softsign(x),
        "glu": F.glu(x, dim=-1),
        "sigmoid": torch.sigmoid(x),
        "tanh": torch.tanh(x),
        "log_sigmoid": F.logsigmoid(x),
        "log_softmax": F.log_softmax(x, dim=-1),
        "softmax": F.softmax(x, dim=-1),
        "softmin": F.softmin(x, dim=-1),
        "hard_tanh": F.hardtanh(x, -2.0, 1.5),
        "hardswish": F.hardswish(x),
        "hard_shrink": F.hardshrink(x, 0.5),
        "soft_shrink": F.softshrink(x, 0.5),
        "prelu": F.prelu(x, alpha),  # [N, C]: PyTorch's channel axis 1 is the last axis here
        "step": (x > 0.25).float(),
    }
    put("act", x=x, alpha=alpha, **refs)


def linear():
    x = torch.randn(3, 5, 16)
    lin = torch.nn.Linear(16, 8)
    nob = torch.nn.Linear(16, 8, bias=False)
    y = lin(x)
    put("linear", x=x, weight=lin.weight, bias=lin.bias, y=y, nobias_weight=nob.weight, y_nobias=nob(x))
    with_grads("linear", y, {"weight": (lin.weight, same), "bias": (lin.bias, same)})


def sequential():
    x = torch.randn(6, 10)
    seq = torch.nn.Sequential(torch.nn.Linear(10, 12), torch.nn.GELU(), torch.nn.Linear(12, 4))
    put("seq", x=x, y=seq(x), **{k: v for k, v in seq.state_dict().items()})


def embedding():
    emb = torch.nn.Embedding(11, 8)
    idx = torch.tensor([[0, 3, 10], [7, 7, 1]], dtype=torch.int32)
    h = torch.randn(2, 3, 8)
    y = emb(idx.long())
    put("emb", weight=emb.weight, idx=idx, y=y, h=h, logits=h @ emb.weight.T)
    with_grads("emb", y, {"weight": (emb.weight, same)})  # index 7 repeats: its rows accumulate


def norms():
    x = torch.randn(2, 3, 4, 12)
    w = (1 + 0.1 * torch.randn(12)).requires_grad_(True)
    b = (0.1 * torch.randn(12)).requires_grad_(True)
    rms = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w
    ln = F.layer_norm(x, (12,), w, b, eps=1e-5)
    ln_plain = F.layer_norm(x, (12,), eps=1e-5)
    # GroupNorm on channels-last x: PyTorch's layout is [N, C, H, W].
    gn_torch = F.group_norm(x.permute(0, 3, 1, 2), 3, w, b, eps=1e-5).permute(0, 2, 3, 1)
    # MLX's default grouping: feature c in group c % G over all positions.
    xg = x.reshape(2, -1, 3)
    mu = xg.mean(1, keepdim=True)
    var = xg.var(1, unbiased=False, keepdim=True)
    gn_mlx = ((xg - mu) / torch.sqrt(var + 1e-5)).reshape(x.shape) * w + b
    put("norm", x=x, w=w, b=b, rms=rms, ln=ln, ln_plain=ln_plain, gn_torch=gn_torch, gn_mlx=gn_mlx)
    with_grads("rms", rms, {"weight": (w, same)})
    for case, y in (("ln", ln), ("gn_torch", gn_torch), ("gn_mlx", gn_mlx)):
        with_grads(case, y, {"weight": (w, same), "bias": (b, same)})


def batchnorm():
    x = torch.randn(8, 5, 6) * 2 + 1  # [N, L, C]
    bn = torch.nn.BatchNorm1d(6, momentum=0.2)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.1 * torch.randn(6))
        bn.bias.copy_(0.1 * torch.randn(6))
    w, b = bn.weight.clone(), bn.bias.clone()
    bn.train()
    y_train = bn(x.permute(0, 2, 1)).permute(0, 2, 1)
    with_grads("bn", y_train, {"weight": (bn.weight, same), "bias": (bn.bias, same)})
    bn.eval()
    x2 = torch.randn(4, 5, 6)
    y_eval = bn(x2.permute(0, 2, 1)).permute(0, 2, 1)
    put("bn", x=x, x2=x2, weight=w, bias=b, y_train=y_train, y_eval=y_eval, running_mean=bn.running_mean,
        running_var=bn.running_var)


def convs():
    x1 = torch.randn(2, 10, 4)  # [N, L, C]
    c1 = torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=1, groups=2)
    y1 = c1(x1.permute(0, 2, 1)).permute(0, 2, 1)
    x2 = torch.randn(2, 7, 6, 3)  # [N, H, W, C]
    c2 = torch.nn.Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1))
    y2 = c2(x2.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    # MLX weight layouts: [O, K, I/groups] and [O, KH, KW, I/groups].
    put("conv1d", x=x1, weight=c1.weight.permute(0, 2, 1), bias=c1.bias, y=y1)
    put("conv2d", x=x2, weight=c2.weight.permute(0, 2, 3, 1), bias=c2.bias, y=y2)
    with_grads("conv1d", y1, {"weight": (c1.weight, lambda g: g.permute(0, 2, 1)), "bias": (c1.bias, same)})
    with_grads("conv2d", y2, {"weight": (c2.weight, lambda g: g.permute(0, 2, 3, 1)), "bias": (c2.bias, same)})


def attention():
    d, heads, lq, lk = 16, 4, 5, 7
    for bias in (False, True):
        mha = torch.nn.MultiheadAttention(d, heads, bias=bias, batch_first=True)
        q, k, v = torch.randn(2, lq, d), torch.randn(2, lk, d), torch.randn(2, lk, d)
        mask = torch.randn(lq, lk)
        y, _ = mha(q, k, v, need_weights=False)
        ym, _ = mha(q, k, v, attn_mask=mask, need_weights=False)
        wq, wk, wv = mha.in_proj_weight.split(d)
        t = {"q": q, "k": k, "v": v, "mask": mask, "y": y, "y_mask": ym, "query_proj.weight": wq,
             "key_proj.weight": wk, "value_proj.weight": wv, "out_proj.weight": mha.out_proj.weight}
        if bias:
            bq, bk, bv = mha.in_proj_bias.split(d)
            t.update({"query_proj.bias": bq, "key_proj.bias": bk, "value_proj.bias": bv,
                      "out_proj.bias": mha.out_proj.bias})
        case = "mha_bias" if bias else "mha"
        put(case, **t)
        grads = {"out_proj.weight": (mha.out_proj.weight, same)}
        for i, n in enumerate(("query_proj", "key_proj", "value_proj")):
            grads[n + ".weight"] = (mha.in_proj_weight, lambda g, i=i: g[i * d:(i + 1) * d])
        if bias:
            grads["out_proj.bias"] = (mha.out_proj.bias, same)
            for i, n in enumerate(("query_proj", "key_proj", "value_proj")):
                grads[n + ".bias"] = (mha.in_proj_bias, lambda g, i=i: g[i * d:(i + 1) * d])
        with_grads(case, ym, grads)


def rope_ref(x, dims, traditional, base, scale, offset):
    t = x.shape[-2]
    half = dims // 2
    freqs = base ** (-torch.arange(half, dtype=torch.float64) * 2.0 / dims)
    pos = (torch.arange(t, dtype=torch.float64) + offset) * scale
    theta = pos[:, None] * freqs[None, :]
    c, s = torch.cos(theta).float(), torch.sin(theta).float()
    rot, rest = x[..., :dims], x[..., dims:]
    if traditional:
        a, b = rot[..., 0::2], rot[..., 1::2]
        r = torch.stack([a * c - b * s, a * s + b * c], dim=-1).reshape(rot.shape)
    else:
        a, b = rot[..., :half], rot[..., half:]
        r = torch.cat([a * c - b * s, a * s + b * c], dim=-1)
    return torch.cat([r, rest], dim=-1)


def rope():
    x = torch.randn(2, 3, 6, 16)
    put("rope", x=x, y=rope_ref(x, 16, False, 10000.0, 1.0, 0), y_partial=rope_ref(x, 8, False, 500.0, 0.5, 3),
        y_trad=rope_ref(x, 16, True, 10000.0, 1.0, 2))


activations()
linear()
sequential()
embedding()
norms()
batchnorm()
convs()
attention()
rope()
np.savez(f"{sys.argv[1]}/nn.npz", **out)
