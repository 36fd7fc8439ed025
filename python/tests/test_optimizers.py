"""tessera.optimizers against PyTorch's optimizers and closed forms, and schedules."""

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
nn = pytest.importorskip("tessera.nn")
optim = pytest.importorskip("tessera.optimizers")
torch = pytest.importorskip("torch")


def run_both(ours, make_theirs, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(steps)]
    params = {"w": mx.array(p0)}
    tp = torch.nn.Parameter(torch.tensor(p0))
    theirs = make_theirs([tp])
    for g in grads:
        params = ours.apply_gradients({"w": mx.array(g)}, params)
        mx.eval(params, ours.state)
        tp.grad = torch.tensor(g)
        theirs.step()
    np.testing.assert_allclose(np.array(params["w"]), tp.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                    {"momentum": 0.9, "weight_decay": 0.1}])
def test_sgd(kwargs):
    run_both(optim.SGD(learning_rate=0.1, **kwargs), lambda p: torch.optim.SGD(p, lr=0.1, **kwargs))


def test_sgd_dampening_applies_from_the_first_step():
    # MLX damps the first gradient too (PyTorch does not).
    opt = optim.SGD(learning_rate=0.1, momentum=0.5, dampening=0.2)
    params = {"w": mx.array([1.0])}
    params = opt.apply_gradients({"w": mx.array([2.0])}, params)
    v1 = 0.8 * 2.0
    params = opt.apply_gradients({"w": mx.array([2.0])}, params)
    v2 = 0.5 * v1 + 0.8 * 2.0
    np.testing.assert_allclose(np.array(params["w"]), [1.0 - 0.1 * v1 - 0.1 * v2], rtol=1e-6)


def test_adaptive_optimizers():
    run_both(optim.Adam(learning_rate=0.01, bias_correction=True), lambda p: torch.optim.Adam(p, lr=0.01))
    run_both(optim.AdamW(learning_rate=0.01, weight_decay=0.1, bias_correction=True),
             lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1))
    run_both(optim.RMSprop(learning_rate=0.01, alpha=0.9), lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9))
    run_both(optim.Adagrad(learning_rate=0.1, eps=1e-10), lambda p: torch.optim.Adagrad(p, lr=0.1))
    run_both(optim.AdaDelta(learning_rate=1.0, rho=0.9), lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9))


def test_adam_without_bias_correction_is_mlx_default():
    opt = optim.Adam(learning_rate=0.1)
    params = {"w": mx.array([1.0])}
    g = {"w": mx.array([2.0])}
    params = opt.apply_gradients(g, params)
    m, v = 0.1 * 2.0, 0.001 * 4.0
    np.testing.assert_allclose(np.array(params["w"]), [1.0 - 0.1 * m / (np.sqrt(v) + 1e-8)], rtol=1e-6)
    assert opt.state["step"].item() == 1
    assert set(opt.state["w"]) == {"m", "v"}


def test_lion_adamax_adafactor_run():
    for opt in (optim.Lion(learning_rate=0.01), optim.Adamax(learning_rate=0.01), optim.Adafactor()):
        params = {"a": mx.ones((4, 3)), "b": [mx.ones(3)]}
        for _ in range(3):
            params = opt.apply_gradients({"a": mx.ones((4, 3)), "b": [mx.ones(3)]}, params)
        mx.eval(params)
        assert float(params["a"].max()) < 1.0


def test_schedules():
    lr = optim.cosine_decay(1.0, 10)
    assert abs(lr(mx.array(0)).item() - 1.0) < 1e-6 and abs(lr(mx.array(10)).item()) < 1e-6
    warm = optim.linear_schedule(0.0, 1.0, steps=4)
    assert abs(warm(mx.array(2)).item() - 0.5) < 1e-6
    joined = optim.join_schedules([warm, optim.exponential_decay(1.0, 0.5)], [4])
    assert abs(joined(mx.array(6)).item() - 0.25) < 1e-6
    assert abs(optim.step_decay(1.0, 0.5, 2)(mx.array(5)).item() - 0.25) < 1e-6
    opt = optim.SGD(learning_rate=optim.exponential_decay(1.0, 0.5))
    params = {"w": mx.array([0.0])}
    for _ in range(3):
        params = opt.apply_gradients({"w": mx.array([1.0])}, params)
    # Rates 1, 0.5, 0.25 for steps 0, 1, 2.
    np.testing.assert_allclose(np.array(params["w"]), [-1.75])


def test_clip_grad_norm():
    grads = {"a": mx.array([3.0]), "b": [mx.array([4.0])]}
    clipped, norm = optim.clip_grad_norm(grads, max_norm=1.0)
    assert abs(norm.item() - 5.0) < 1e-6
    assert abs(clipped["a"].item() - 0.6) < 1e-5 and abs(clipped["b"][0].item() - 0.8) < 1e-5
    same, _ = optim.clip_grad_norm(grads, max_norm=10.0)
    assert same["a"].item() == 3.0


def test_optimizer_update_on_model():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    opt = optim.SGD(learning_rate=0.5)
    before = np.array(model.layers[0].weight)
    grads = {"layers": [{"weight": mx.ones((3, 2)), "bias": mx.ones(3)}, {}, {"weight": mx.ones((1, 3)),
                                                                              "bias": mx.ones(1)}]}
    opt.update(model, grads)
    np.testing.assert_allclose(np.array(model.layers[0].weight), before - 0.5)


def numpy_muon(p, grads, lr, mu, wd, nesterov, steps=5):
    """Float64 reference of the documented Muon step."""
    a, b, c = 3.4445, -4.7750, 2.0315
    p = p.astype(np.float64)
    v = np.zeros_like(p)
    for g in grads:
        g = g + wd * p
        v = mu * v + (1 - mu) * g
        u = (1 - mu) * g + mu * v if nesterov else v
        step_lr = lr
        if u.ndim >= 2:
            x = u.reshape(u.shape[0], -1)
            tall = x.shape[0] > x.shape[1]
            if tall:
                x = x.T
            x = x / (np.linalg.norm(x) + 1e-7)
            for _ in range(steps):
                s = x @ x.T
                x = a * x + (b * s + c * s @ s) @ x
            x = x.T if tall else x
            step_lr = lr * np.sqrt(max(1.0, u.shape[0] / x.shape[1]))
            u = x.reshape(u.shape)
        p = p - step_lr * u
    return p


@pytest.mark.parametrize("shape,nesterov", [((6, 10), True), ((10, 4), False), ((4, 3, 2), True), ((7,), True)])
def test_muon_matches_numpy(rng, shape, nesterov):
    p0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    opt = optim.Muon(learning_rate=0.02, momentum=0.9, weight_decay=0.01, nesterov=nesterov)
    params = {"w": mx.array(p0)}
    for g in grads:
        params = opt.apply_gradients({"w": mx.array(g)}, params)
        mx.eval(params, opt.state)
    want = numpy_muon(p0, grads, 0.02, 0.9, 0.01, nesterov)
    np.testing.assert_allclose(np.array(params["w"]), want, rtol=1e-4, atol=1e-5)


def test_muon_orthogonalizes_matrix_updates():
    g = mx.random.normal((8, 16), key=mx.random.key(0))
    o = np.array(optim.Muon._newton_schulz(g, 5))
    sv = np.linalg.svd(o, compute_uv=False)
    assert sv.min() > 0.6 and sv.max() < 1.25  # five quintic steps land every singular value near 1
