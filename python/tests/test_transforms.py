"""Transforms over Python functions and pytrees, and tessera.utils' tree helpers."""

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
from tessera.utils import tree_flatten, tree_map, tree_map_with_path, tree_reduce, tree_unflatten  # noqa: E402


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.array(a), np.asarray(b), rtol=tol, atol=tol)


def test_grad_and_higher_order():
    x = mx.array(0.5)
    close(mx.grad(mx.sin)(x), np.cos(0.5))
    close(mx.grad(mx.grad(mx.sin))(x), -np.sin(0.5))
    close(mx.grad(lambda v: (v**3).sum())(mx.array([1.0, 2.0])), [3.0, 12.0])


def test_grad_argnums_and_pytrees():
    def f(params, x, scale=1.0):
        return scale * (params["w"] * x + params["b"][0]).sum()

    params = {"w": mx.array([1.0, 2.0]), "b": [mx.array(3.0)]}
    x = mx.array([4.0, 5.0])
    g = mx.grad(f)(params, x)
    assert set(g) == {"w", "b"} and isinstance(g["b"], list)
    close(g["w"], [4.0, 5.0])
    close(g["b"][0], 2.0)
    gp, gx = mx.grad(f, argnums=(0, 1))(params, x, scale=2.0)
    close(gx, [2.0, 4.0])
    close(gp["w"], [8.0, 10.0])
    (g_pos, g_kw) = mx.grad(lambda x, y: (x * y).sum(), argnums=0, argnames="y")(x, y=mx.array([1.0, 1.0]))
    close(g_pos, [1.0, 1.0])
    close(g_kw["y"], [4.0, 5.0])
    empty, kw = mx.grad(lambda x, y: (x * y).sum(), argnames=["y"])(x, y=x)
    assert empty == () and set(kw) == {"y"}


def test_value_and_grad_with_aux():
    def lasso(w, x, y):
        out = x @ w
        mse = ((out - y) ** 2).mean()
        l1 = mx.abs(w).sum()
        return mse + l1, mse, {"l1": l1, "note": "kept"}

    w = mx.array([1.0, -2.0])
    x = mx.array([[1.0, 0.0], [0.0, 1.0]])
    y = mx.array([0.0, 0.0])
    (loss, mse, extra), g = mx.value_and_grad(lasso)(w, x, y)
    close(loss, 2.5 + 3.0)
    close(mse, 2.5)
    close(extra["l1"], 3.0)
    assert extra["note"] == "kept"
    close(g, [1.0 + 1.0, -2.0 - 1.0])
    with pytest.raises(ValueError):
        mx.value_and_grad(lambda v: v)(mx.array([1.0, 2.0]))
    with pytest.raises(ValueError):
        mx.grad(lambda v: "x")(mx.array(1.0))


def test_vjp_and_jvp():
    out, vjps = mx.vjp(lambda x, y: x * y, [mx.array(4.0), mx.array(2.0)], [mx.array(3.0)])
    close(out[0], 8.0)
    close(vjps[0], 6.0)
    close(vjps[1], 12.0)
    out, tangents = mx.jvp(lambda x, y: (x * y, y * 2), [mx.array(2.0), mx.array(4.0)],
                           [mx.array(1.0), mx.array(3.0)])
    assert len(out) == 2
    close(tangents[0], 4.0 + 6.0)
    close(tangents[1], 6.0)


def test_vmap_axes():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.arange(4, dtype=np.float32)
    close(mx.vmap(lambda x, y: x * y)(mx.array(a), mx.array(a)), a * a)
    close(mx.vmap(lambda x, y: x + y, in_axes=(0, None))(mx.array(a), mx.array(b)), a + b)
    close(mx.vmap(lambda x: x.sum(), in_axes=1)(mx.array(a)), a.sum(axis=0))
    close(mx.vmap(lambda x: x * 2, in_axes=-1, out_axes=1)(mx.array(a)), a * 2)
    close(mx.vmap(lambda x: x * 2, in_axes=0, out_axes=-1)(mx.array(a)), (a * 2).T)
    # Trees in and out.
    out = mx.vmap(lambda d: {"s": d["x"] + d["y"], "p": [d["x"] * d["y"]]}, in_axes=({"x": 0, "y": None},))(
        {"x": mx.array(a), "y": mx.array(b)})
    close(out["s"], a + b)
    close(out["p"][0], a * b)
    # An unmapped output.
    o1, o2 = mx.vmap(lambda x, y: (x + 1, y * 2), in_axes=(0, None), out_axes=(0, None))(mx.array(a), mx.array(b))
    close(o1, a + 1)
    close(o2, b * 2)
    # vmap of grad.
    g = mx.vmap(mx.grad(lambda x: (x**2).sum()))(mx.array(a))
    close(g, 2 * a)


def test_compile_basic_and_constants():
    calls = []

    def f(x, y, power=2):
        calls.append(1)
        return mx.exp(x) * y**power

    cf = mx.compile(f)
    x, y = mx.array([0.0, 1.0]), mx.array([2.0, 3.0])
    close(cf(x, y), np.exp([0.0, 1.0]) * np.array([4.0, 9.0]))
    close(cf(x + 1, y), np.exp([1.0, 2.0]) * np.array([4.0, 9.0]))
    assert len(calls) == 1
    close(cf(x, y, power=3), np.exp([0.0, 1.0]) * np.array([8.0, 27.0]))
    assert len(calls) == 2
    cf(mx.ones((3,)), mx.ones((3,)))
    assert len(calls) == 3
    # Trees of outputs and decorator form with shapeless.
    @mx.compile(shapeless=True)
    def g(d):
        return {"a": d["x"] + 1, "b": (d["x"] * 2,)}

    out = g({"x": mx.ones(2)})
    close(out["a"], [2, 2])
    close(out["b"][0], [2, 2])
    close(g({"x": mx.ones(5)})["a"], np.full(5, 2.0))
    # grad through compile and compile of grad.
    close(mx.grad(mx.compile(lambda v: (v * v).sum()))(mx.array([1.0, 2.0])), [2.0, 4.0])
    close(mx.compile(mx.grad(lambda v: (v * v).sum()))(mx.array([1.0, 2.0])), [2.0, 4.0])


def test_compile_with_captured_state():
    state = {"w": mx.array([1.0, 2.0]), "count": mx.array(0)}

    @mx.compile
    def step(x):
        # Reads the captured weights, writes new ones back.
        y = (state["w"] * x).sum()
        state["w"] = state["w"] - 0.5 * x
        state["count"] = state["count"] + 1
        return y

    compiled = mx.compile(step.__wrapped__, inputs=state, outputs=state)
    y1 = compiled(mx.array([1.0, 1.0]))
    close(y1, 3.0)
    close(state["w"], [0.5, 1.5])
    y2 = compiled(mx.array([1.0, 1.0]))
    close(y2, 2.0)
    close(state["w"], [0.0, 1.0])
    assert state["count"].item() == 2


def test_checkpoint_and_custom_function():
    f = mx.checkpoint(lambda x, y: {"out": mx.sin(x) * y})
    close(f(mx.array(1.0), mx.array(2.0))["out"], 2 * np.sin(1.0))
    close(mx.grad(lambda x: f(x, mx.array(2.0))["out"])(mx.array(1.0)), 2 * np.cos(1.0))

    @mx.custom_function
    def g(x, y):
        return mx.exp(x) * y

    @g.vjp
    def g_vjp(primals, cotangent, output):
        x, y = primals
        return cotangent * 100, cotangent * 200

    close(g(mx.array(0.0), mx.array(3.0)), 3.0)
    gx, gy = mx.grad(lambda a, b: g(a, b), argnums=(0, 1))(mx.array(0.0), mx.array(3.0))
    close(gx, 100.0)
    close(gy, 200.0)

    @mx.custom_function
    def h(x):
        return x * 3

    @h.jvp
    def h_jvp(primals, tangents):
        return tangents[0] * 7

    _, t = mx.jvp(h, [mx.array(1.0)], [mx.array(1.0)])
    close(t[0], 7.0)

    @mx.custom_function
    def k(x):
        return x.sum(axis=0)

    @k.vmap
    def k_vmap(inputs, axes):
        (x,) = inputs
        return x.sum(axis=1) + 1000, 0

    close(mx.vmap(k)(mx.ones((2, 3))), [1003.0, 1003.0])


def test_tree_utils():
    tree = {"a": [mx.array(1), {"b": mx.array(2)}], "c": (mx.array(3),)}
    flat = tree_flatten(tree)
    assert [k for k, _ in flat] == ["a.0", "a.1.b", "c.0"]
    back = tree_unflatten(flat)
    assert back["a"][1]["b"].item() == 2 and back["c"][0].item() == 3
    doubled = tree_map(lambda x: x * 2, tree)
    assert isinstance(doubled["c"], tuple) and doubled["a"][0].item() == 2
    summed = tree_map(lambda x, y: x + y, tree, doubled)
    assert summed["a"][1]["b"].item() == 6
    paths = tree_map_with_path(lambda p, x: p, tree)
    assert paths["a"][1]["b"] == "a.1.b"
    assert tree_reduce(lambda acc, x: acc + x.item(), tree, 0) == 6
    assert tree_flatten([[]]) == [] and tree_unflatten([("0", 1), ("1", 2)]) == [1, 2]


def test_gil_released_during_eval():
    import threading

    results = []

    def work():
        a = mx.random.normal((256, 256))
        results.append((a @ a).sum().item())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
