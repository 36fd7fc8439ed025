#!/usr/bin/env python3
"""Writes PyTorch references for tests/losses_test.cpp and tests/optimizers_test.cpp.

Usage: torch_optim.py OUT_DIR. Writes
  losses.npz: the inputs of each loss case and PyTorch's result ("<case>.out"), plus the
    gradient of some scalar losses w.r.t. their first input ("<case>.grad"); computed in float64,
    stored as float32 (class indices as int32).
  optim.npz: initial parameters "w", "b", ten gradient pairs "gw.<k>", "gb.<k>" (k = 1..10) and,
    per optimizer configuration, the parameters after each step: "<opt>.w.<k>", "<opt>.b.<k>".
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

out = sys.argv[1]
rng = np.random.default_rng(0)
torch.set_default_dtype(torch.float64)


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64)


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


losses = {}


def case(name, inputs, result, grad=None):
    for k, v in inputs.items():
        v = np.asarray(v)
        losses[f"{name}.{k}"] = v.astype(np.int32) if v.dtype.kind in "iu" else v.astype(np.float32)
    losses[f"{name}.out"] = result.detach().numpy().astype(np.float32)
    if grad is not None:
        losses[f"{name}.grad"] = grad.detach().numpy().astype(np.float32)


def loss_cases():
    # Class-index cross-entropy over a 2-d batch, classes last.
    logits, targets = randn(4, 3, 5), rng.integers(0, 5, (4, 3))
    lt = t64(logits)
    flat = lambda r: r.reshape(4, 3) if r.dim() else r
    for red in ("none", "mean", "sum"):
        case(f"ce_{red}", {"logits": logits, "targets": targets},
             flat(F.cross_entropy(lt.reshape(-1, 5), torch.tensor(targets).reshape(-1), reduction=red)))
    case("ce_smooth", {"logits": logits, "targets": targets},
         flat(F.cross_entropy(lt.reshape(-1, 5), torch.tensor(targets).reshape(-1), reduction="none",
                              label_smoothing=0.1)))
    # Ignored targets with smoothing and a mean: the mean counts only kept targets.
    ignored = targets.copy()
    ignored[0, 1] = ignored[2, 0] = ignored[3, 2] = -100
    lg = lt.clone().requires_grad_(True)
    r = F.cross_entropy(lg.reshape(-1, 5), torch.tensor(ignored).reshape(-1), reduction="mean",
                        label_smoothing=0.1, ignore_index=-100)
    r.backward()
    case("ce_ignore", {"logits": logits, "targets": ignored}, r, lg.grad)
    # Classes on axis 1 of [N, C, L].
    logits1, targets1 = randn(3, 5, 4), rng.integers(0, 5, (3, 4))
    case("ce_axis1", {"logits": logits1, "targets": targets1},
         F.cross_entropy(t64(logits1), torch.tensor(targets1), reduction="none"))
    # Probability targets with smoothing.
    logits2 = randn(6, 5)
    probs = torch.softmax(t64(randn(6, 5)) * 2, -1)
    case("ce_probs", {"logits": logits2, "targets": probs.numpy()},
         F.cross_entropy(t64(logits2), probs, reduction="none", label_smoothing=0.2))
    # Per-entry weights (a mask) with a plain mean over all entries (MLX's rule).
    weights = (rng.random((4, 3)) > 0.3).astype(np.float32)
    per = F.cross_entropy(lt.reshape(-1, 5), torch.tensor(targets).reshape(-1), reduction="none").reshape(4, 3)
    case("ce_weights", {"logits": logits, "targets": targets, "weights": weights}, (per * t64(weights)).mean())

    # Binary cross-entropy: logits (with a gradient) and probabilities including exact 0 and 1.
    x, y = randn(8, 3) * 3, rng.random((8, 3)).astype(np.float32)
    xg = t64(x).requires_grad_(True)
    r = F.binary_cross_entropy_with_logits(xg, t64(y), reduction="mean")
    r.backward()
    case("bce_logits", {"inputs": x, "targets": y}, r, xg.grad)
    w = rng.random((8, 3)).astype(np.float32)
    case("bce_weights", {"inputs": x, "targets": y, "weights": w},
         F.binary_cross_entropy_with_logits(t64(x), t64(y), weight=t64(w), reduction="sum"))
    p = 1 / (1 + np.exp(-x))
    p[0, 0], p[1, 1], p[2, 2] = 0.0, 1.0, 0.0
    case("bce_probs", {"inputs": p, "targets": y}, F.binary_cross_entropy(t64(p), t64(y), reduction="none"))

    a, b = randn(5, 4), randn(5, 4)
    case("mse", {"a": a, "b": b}, F.mse_loss(t64(a), t64(b), reduction="mean"))
    case("l1", {"a": a, "b": b}, F.l1_loss(t64(a), t64(b), reduction="sum"))
    case("smooth_l1", {"a": a, "b": b}, F.smooth_l1_loss(t64(a), t64(b), reduction="none", beta=0.5))
    case("huber", {"a": a, "b": b}, F.huber_loss(t64(a), t64(b), reduction="none", delta=0.7))
    d = t64(a) - t64(b)
    case("log_cosh", {"a": a, "b": b}, torch.log(torch.cosh(d)))

    lp = torch.log_softmax(t64(randn(6, 5)), -1)
    tg = rng.integers(0, 5, (6,))
    case("nll", {"inputs": lp.numpy(), "targets": tg}, F.nll_loss(lp, torch.tensor(tg), reduction="none"))
    tg_ign = tg.copy()
    tg_ign[[1, 4]] = -1
    case("nll_ignore", {"inputs": lp.numpy(), "targets": tg_ign},
         F.nll_loss(lp, torch.tensor(tg_ign), reduction="mean", ignore_index=-1))
    lq = torch.log_softmax(t64(randn(6, 5)), -1)
    case("kl_div", {"inputs": lp.numpy(), "targets": lq.numpy()},
         F.kl_div(lp, lq, reduction="none", log_target=True).sum(-1))

    x1, x2 = randn(4, 6), randn(4, 6)
    case("cosine", {"x1": x1, "x2": x2}, F.cosine_similarity(t64(x1), t64(x2), dim=1, eps=1e-8))
    var = (rng.random((5, 4)) + 0.1).astype(np.float32)
    case("gaussian_nll", {"a": a, "b": b, "var": var},
         F.gaussian_nll_loss(t64(a), t64(b), t64(var), full=True, eps=1e-6, reduction="none"))
    sgn = np.where(rng.random((5, 4)) > 0.5, 1.0, -1.0).astype(np.float32)
    case("hinge", {"a": a, "t": sgn}, torch.clamp(1 - t64(a) * t64(sgn), min=0))
    case("margin_ranking", {"a": a, "b": b, "t": sgn},
         F.margin_ranking_loss(t64(a), t64(b), t64(sgn), margin=0.3, reduction="none"))
    an, po, ne = randn(5, 4), randn(5, 4), randn(5, 4)
    case("triplet", {"a": an, "p": po, "n": ne},
         F.triplet_margin_loss(t64(an), t64(po), t64(ne), margin=1.0, p=2, eps=1e-6, reduction="none"))


def optimizer_cases():
    res = {"w": randn(5, 4), "b": randn(4)}
    for k in range(1, 11):
        res[f"gw.{k}"], res[f"gb.{k}"] = randn(5, 4), randn(4)
    configs = {
        "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8),
        "adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
        "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
        "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-8),
        "adamax": lambda p: torch.optim.Adamax(p, lr=0.02, betas=(0.9, 0.999), eps=1e-8),
        "adadelta": lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6),
    }
    for name, make in configs.items():
        w = torch.tensor(res["w"], dtype=torch.float32, requires_grad=True)
        b = torch.tensor(res["b"], dtype=torch.float32, requires_grad=True)
        opt = make([w, b])
        for k in range(1, 11):
            w.grad = torch.tensor(res[f"gw.{k}"])
            b.grad = torch.tensor(res[f"gb.{k}"])
            opt.step()
            res[f"{name}.w.{k}"] = w.detach().numpy().copy()
            res[f"{name}.b.{k}"] = b.detach().numpy().copy()
    np.savez(f"{out}/optim.npz", **res)


loss_cases()
np.savez(f"{out}/losses.npz", **losses)
torch.set_default_dtype(torch.float32)
optimizer_cases()
