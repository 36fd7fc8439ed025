"""Ops against NumPy, called with MLX's keyword arguments and with broadcasting operands."""

import math

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")


def check(got, want, rtol=1e-5, atol=1e-6):
    got = np.array(got)
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.fixture
def x(rng):
    return rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32)


UNARY = [
    ("abs", np.abs), ("negative", np.negative), ("sign", np.sign), ("reciprocal", np.reciprocal),
    ("square", np.square), ("sqrt", np.sqrt), ("rsqrt", lambda v: 1 / np.sqrt(v)), ("exp", np.exp),
    ("expm1", np.expm1), ("log", np.log), ("log2", np.log2), ("log10", np.log10), ("log1p", np.log1p),
    ("sin", np.sin), ("cos", np.cos), ("tan", np.tan), ("arcsin", np.arcsin), ("arccos", np.arccos),
    ("arctan", np.arctan), ("sinh", np.sinh), ("cosh", np.cosh), ("tanh", np.tanh), ("arcsinh", np.arcsinh),
    ("arctanh", np.arctanh), ("degrees", np.degrees), ("radians", np.radians), ("floor", np.floor),
    ("ceil", np.ceil), ("sigmoid", lambda v: 1 / (1 + np.exp(-v))), ("erf", np.vectorize(math.erf)),
    ("stop_gradient", lambda v: v), ("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite),
]


@pytest.mark.parametrize("name,ref", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, ref, x):
    check(getattr(mx, name)(mx.array(x)), ref(x).astype(np.float32) if ref(x).dtype != bool else ref(x), rtol=2e-5)


def test_unary_misc(x):
    check(mx.arccosh(mx.array(x + 1)), np.arccosh(x + 1), rtol=1e-4)
    check(mx.erfinv(mx.array([0.0, 0.5])), [0.0, 0.4769362762044699], rtol=1e-5)
    check(mx.round(mx.array([1.234, 2.567]), decimals=1), [1.2, 2.6])
    check(mx.logical_not(mx.array([True, False])), [False, True])
    check(mx.isposinf(mx.array([np.inf, -np.inf])), [True, False])
    check(mx.isneginf(mx.array([np.inf, -np.inf])), [False, True])
    z = mx.array([1 + 2j])
    check(mx.real(z), [1.0])
    check(mx.imag(z), [2.0])
    check(mx.conj(z), [1 - 2j])
    check(mx.bitwise_invert(mx.array([0, 5])), [-1, -6])


BINARY = [
    ("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply), ("divide", np.divide),
    ("floor_divide", np.floor_divide), ("remainder", np.remainder), ("power", np.power),
    ("maximum", np.maximum), ("minimum", np.minimum), ("arctan2", np.arctan2), ("logaddexp", np.logaddexp),
    ("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
    ("greater_equal", np.greater_equal), ("less", np.less), ("less_equal", np.less_equal),
]


@pytest.mark.parametrize("name,ref", BINARY, ids=[b[0] for b in BINARY])
def test_binary_broadcasting(name, ref, rng):
    a = rng.uniform(0.5, 2, (2, 1, 4)).astype(np.float32)
    b = rng.uniform(0.5, 2, (3, 1)).astype(np.float32)
    check(getattr(mx, name)(mx.array(a), mx.array(b)), ref(a, b), rtol=1e-5)
    # A Python scalar on either side.
    check(getattr(mx, name)(mx.array(a), 1.5), ref(a, np.float32(1.5)), rtol=1e-5)
    check(getattr(mx, name)(1.5, mx.array(a)), ref(np.float32(1.5), a), rtol=1e-5)


def test_logical_and_bitwise():
    p, q = np.array([True, True, False]), np.array([True, False, False])
    check(mx.logical_and(mx.array(p), mx.array(q)), p & q)
    check(mx.logical_or(mx.array(p), mx.array(q)), p | q)
    i, j = np.array([12, 10], np.int32), np.array([10, 3], np.int32)
    for name, ref in [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                      ("bitwise_xor", np.bitwise_xor), ("left_shift", np.left_shift),
                      ("right_shift", np.right_shift)]:
        check(getattr(mx, name)(mx.array(i), mx.array(j)), ref(i, j))
    q_, r_ = mx.divmod(mx.array([7, 8]), mx.array([2, 3]))
    check(q_, [3, 2])
    check(r_, [1, 2])


def test_comparisons_and_selection(x):
    a = mx.array(x)
    assert mx.array_equal(a, mx.array(x)).item()
    assert not mx.array_equal(a, a + 1).item()
    assert mx.array_equal(mx.array([np.nan]), mx.array([np.nan]), equal_nan=True).item()
    assert mx.allclose(a, a + 1e-7).item()
    assert not mx.allclose(a, a + 1e-2, rtol=0, atol=1e-3).item()
    check(mx.isclose(a, a + 1e-3, atol=1e-2), np.ones_like(x, dtype=bool))
    check(mx.where(a > 0.5, a, 0.0), np.where(x > 0.5, x, 0))
    check(mx.clip(a, 0.3, 0.6), np.clip(x, 0.3, 0.6))
    check(mx.clip(a, None, 0.6), np.clip(x, None, 0.6))
    check(mx.clip(a, a_min=0.3, a_max=None), np.clip(x, 0.3, None))
    check(mx.nan_to_num(mx.array([np.nan, np.inf, -np.inf]), nan=1.0, posinf=2.0, neginf=-2.0), [1, 2, -2])


REDUCTIONS = [("sum", np.sum), ("prod", np.prod), ("mean", np.mean), ("max", np.max), ("min", np.min)]


@pytest.mark.parametrize("name,ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, ref, axis, keepdims, rng):
    v = rng.uniform(0.5, 1.5, (2, 3, 4)).astype(np.float32)
    check(getattr(mx, name)(mx.array(v), axis=axis, keepdims=keepdims), ref(v, axis=axis, keepdims=keepdims),
          rtol=1e-5)


def test_other_reductions(rng):
    v = rng.standard_normal((3, 5)).astype(np.float32)
    a = mx.array(v)
    check(mx.var(a, axis=1, ddof=1), v.var(axis=1, ddof=1), rtol=1e-5)
    check(mx.std(a, keepdims=True), v.std(keepdims=True), rtol=1e-5)
    check(mx.logsumexp(a, axis=0), np.log(np.exp(v).sum(axis=0)), rtol=1e-5)
    check(mx.argmax(a, axis=1), v.argmax(axis=1))
    check(mx.argmin(a), v.argmin())
    check(mx.argmax(a, axis=0, keepdims=True), v.argmax(axis=0)[None])
    check(mx.all(a > -10), True)
    check(mx.any(a > 10, axis=0), np.zeros(5, bool))


def test_scans(rng):
    v = rng.uniform(0.5, 1.5, (3, 4)).astype(np.float32)
    a = mx.array(v)
    check(mx.cumsum(a, axis=1), v.cumsum(axis=1))
    check(mx.cumsum(a), v.cumsum())
    check(mx.cumprod(a, axis=0), v.cumprod(axis=0), rtol=1e-5)
    check(mx.cumsum(a, axis=1, reverse=True), v[:, ::-1].cumsum(axis=1)[:, ::-1], rtol=1e-5)
    check(mx.cumsum(a, axis=1, inclusive=False), np.concatenate([np.zeros((3, 1)), v.cumsum(axis=1)[:, :-1]], 1),
          rtol=1e-5)
    check(mx.cummax(a, axis=1), np.maximum.accumulate(v, axis=1))
    check(mx.cummin(a, axis=0), np.minimum.accumulate(v, axis=0))
    check(mx.logcumsumexp(a, axis=1), np.log(np.exp(v).cumsum(axis=1)), rtol=1e-5)


def test_sorting(rng):
    v = rng.permutation(20).reshape(4, 5).astype(np.float32)
    a = mx.array(v)
    check(mx.sort(a), np.sort(v))
    check(mx.sort(a, axis=0), np.sort(v, axis=0))
    check(mx.sort(a, axis=None), np.sort(v, axis=None))
    check(mx.argsort(a, axis=1), np.argsort(v, axis=1))
    p = np.array(mx.partition(a, 2, axis=1))
    np.testing.assert_array_equal(np.sort(p, axis=1), np.sort(v, axis=1))
    assert (p[:, :2].max(axis=1) <= p[:, 2]).all()
    ap = np.array(mx.argpartition(a, kth=1))
    assert (np.take_along_axis(v, ap, 1)[:, 1] == np.sort(v, axis=1)[:, 1]).all()
    check(mx.sort(mx.topk(a, 2, axis=-1)), np.sort(v, axis=-1)[:, -2:])


def test_creation():
    check(mx.arange(5), np.arange(5))
    assert mx.arange(5).dtype == mx.int32
    assert mx.arange(0.0, 1.0, 0.25).dtype == mx.float32
    check(mx.arange(1, 10, 3), np.arange(1, 10, 3))
    check(mx.arange(0, 1, 0.25), np.arange(0, 1, 0.25))
    check(mx.arange(5, dtype=mx.float16), np.arange(5))
    check(mx.linspace(0, 1, num=5), np.linspace(0, 1, 5))
    check(mx.zeros((2, 3)), np.zeros((2, 3)))
    check(mx.ones(3, dtype=mx.int32), np.ones(3))
    assert mx.ones(3, dtype=mx.int32).dtype == mx.int32
    check(mx.full((2, 2), 7), np.full((2, 2), 7))
    assert mx.full((2,), 7).dtype == mx.int32 and mx.full((2,), 7.0).dtype == mx.float32
    assert mx.full((2,), 7, dtype=mx.float16).dtype == mx.float16
    check(mx.full((2, 3), mx.array([1.0, 2.0, 3.0])), np.tile([1.0, 2.0, 3.0], (2, 1)))
    check(mx.eye(3, k=1), np.eye(3, k=1))
    check(mx.eye(2, 3), np.eye(2, 3))
    check(mx.identity(2), np.eye(2))
    check(mx.tri(3, 4, k=-1), np.tri(3, 4, k=-1))
    v = np.arange(16).reshape(4, 4)
    check(mx.tril(mx.array(v), k=1), np.tril(v, 1))
    check(mx.triu(mx.array(v), -1), np.triu(v, -1))
    check(mx.zeros_like(mx.array(v)), np.zeros_like(v))
    check(mx.ones_like(mx.array(v)), np.ones_like(v))
    gx, gy = mx.meshgrid(mx.arange(3), mx.arange(2))
    nx, ny = np.meshgrid(np.arange(3), np.arange(2))
    check(gx, nx)
    check(gy, ny)
    gx, _ = mx.meshgrid(mx.arange(3), mx.arange(2), indexing="ij")
    check(gx, np.meshgrid(np.arange(3), np.arange(2), indexing="ij")[0])


def test_shapes():
    v = np.arange(24).reshape(2, 3, 4)
    a = mx.array(v)
    check(mx.reshape(a, (4, -1)), v.reshape(4, -1))
    check(mx.flatten(a, start_axis=1), v.reshape(2, 12))
    check(mx.unflatten(mx.flatten(a), 0, (4, 6)), v.reshape(4, 6))
    check(mx.squeeze(mx.array(v[:, :1]), axis=1), v[:, 0])
    check(mx.expand_dims(a, axis=(0, 2)), np.expand_dims(v, (0, 2)))
    check(mx.transpose(a, axes=(1, 0, 2)), v.transpose(1, 0, 2))
    check(mx.swapaxes(a, 0, 2), v.swapaxes(0, 2))
    check(mx.moveaxis(a, source=0, destination=-1), np.moveaxis(v, 0, -1))
    check(mx.concatenate([a, a], axis=1), np.concatenate([v, v], axis=1))
    check(mx.concatenate([a, a], axis=None), np.concatenate([v.ravel(), v.ravel()]))
    check(mx.stack([a, a], axis=-1), np.stack([v, v], axis=-1))
    for got, want in zip(mx.split(a, 2, axis=2), np.split(v, 2, axis=2)):
        check(got, want)
    for got, want in zip(mx.split(a, [1, 2], axis=1), np.split(v, [1, 2], axis=1)):
        check(got, want)
    check(mx.repeat(a, 2, axis=1), np.repeat(v, 2, axis=1))
    check(mx.repeat(a, 2), np.repeat(v, 2))
    check(mx.tile(a, (2, 1, 1)), np.tile(v, (2, 1, 1)))
    check(mx.broadcast_to(mx.array([1, 2, 3]), (2, 3)), np.broadcast_to([1, 2, 3], (2, 3)))
    b1, b2 = mx.broadcast_arrays(mx.ones((2, 1)), mx.ones((3,)))
    assert b1.shape == b2.shape == (2, 3)
    check(mx.pad(a, 1), np.pad(v, 1))
    check(mx.pad(a, ((0, 0), (1, 2), (0, 1)), constant_values=-1), np.pad(v, ((0, 0), (1, 2), (0, 1)),
                                                                           constant_values=-1))
    check(mx.pad(a, (1, 0)), np.pad(v, (1, 0)))
    check(mx.roll(a, 1, axis=2), np.roll(v, 1, axis=2))
    check(mx.roll(a, 3), np.roll(v, 3))
    check(mx.roll(a, (1, 2), axis=(0, 1)), np.roll(v, (1, 2), axis=(0, 1)))
    m = np.arange(12).reshape(3, 4)
    check(mx.diagonal(mx.array(m), offset=1), np.diagonal(m, 1))
    check(mx.diag(mx.array(m)), np.diag(m))
    check(mx.diag(mx.array([1, 2])), np.diag([1, 2]))
    check(mx.trace(mx.array(m)), np.trace(m))
    assert mx.atleast_2d(mx.array(1)).shape == (1, 1)
    assert [t.shape for t in mx.atleast_1d(mx.array(1), mx.array([1, 2]))] == [(1,), (2,)]
    check(mx.as_strided(mx.arange(6), shape=(2, 2), strides=(2, 1)), [[0, 1], [2, 3]])
    check(mx.view(mx.array([1.0], mx.float32), mx.int32), np.array([1.0], np.float32).view(np.int32))
    check(mx.slice(a, mx.array([1, 2]), axes=(1, 2), slice_size=(2, 2, 2)), v[:, 1:3, 2:4])
    upd = mx.slice_update(a, mx.zeros((2, 1, 1), mx.int32), mx.array([1, 1]), axes=(1, 2))
    w = v.copy()
    w[:, 1, 1] = 0
    check(upd, w)


def test_products(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 5)).astype(np.float32)
    check(mx.matmul(mx.array(a), mx.array(b)), a @ b, rtol=1e-4, atol=1e-5)
    c = rng.standard_normal((3, 5)).astype(np.float32)
    check(mx.addmm(mx.array(c), mx.array(a[0]), mx.array(b), alpha=2.0, beta=0.5), 2 * a[0] @ b + 0.5 * c,
          rtol=1e-4, atol=1e-5)
    u, w = rng.standard_normal(3).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    check(mx.outer(mx.array(u), mx.array(w)), np.outer(u, w), rtol=1e-5)
    check(mx.inner(mx.array(u), mx.array(u)), np.inner(u, u), rtol=1e-5)
    check(mx.tensordot(mx.array(a), mx.array(b), axes=1), np.tensordot(a, b, axes=1), rtol=1e-4, atol=1e-5)
    check(mx.tensordot(mx.array(a), mx.array(a), axes=([1, 2], [1, 2])), np.tensordot(a, a, axes=([1, 2], [1, 2])),
          rtol=1e-4, atol=1e-4)
    check(mx.kron(mx.array([[1, 2]]), mx.array([[1], [3]])), np.kron([[1, 2]], [[1], [3]]))
    check(mx.einsum("bij,jk->bik", mx.array(a), mx.array(b)), np.einsum("bij,jk->bik", a, b), rtol=1e-4, atol=1e-5)


def test_nn_helpers(rng):
    v = rng.standard_normal((2, 5)).astype(np.float32)
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    check(mx.softmax(mx.array(v), axis=-1), e / e.sum(axis=-1, keepdims=True), rtol=1e-5)
    check(mx.softmax(mx.array(v), axis=-1, precise=True), e / e.sum(axis=-1, keepdims=True), rtol=1e-5)
    x = rng.standard_normal((1, 8, 3)).astype(np.float32)  # N, L, C (channels last, as MLX)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)  # O, K, C
    out = mx.conv1d(mx.array(x), mx.array(w), stride=1, padding=1)
    ref = np.zeros((1, 8, 4), np.float32)
    xp = np.pad(x, ((0, 0), (1, 1), (0, 0)))
    for t in range(8):
        ref[0, t] = np.einsum("kc,okc->o", xp[0, t:t + 3], w)
    check(out, ref, rtol=1e-4, atol=1e-4)
    img = rng.standard_normal((1, 5, 5, 2)).astype(np.float32)
    k = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    assert mx.conv2d(mx.array(img), mx.array(k), stride=2, padding=(1, 1)).shape == (1, 3, 3, 3)
    assert mx.conv_general(mx.array(img), mx.array(k), stride=1, padding=([1, 1], [0, 0])).shape == (1, 4, 4, 3)
    kt = rng.standard_normal((3, 3, 2)).astype(np.float32)
    assert mx.conv_transpose1d(mx.array(x[..., :2]), mx.array(kt), stride=2).shape == (1, 17, 3)


def test_quantization(rng):
    w = rng.standard_normal((8, 64)).astype(np.float32)
    wq, scales, biases = mx.quantize(mx.array(w), group_size=32, bits=4)
    back = mx.dequantize(wq, scales, biases, group_size=32, bits=4)
    assert np.abs(np.array(back) - w).max() < 0.3
    x = rng.standard_normal((2, 64)).astype(np.float32)
    y = mx.quantized_matmul(mx.array(x), wq, scales, biases, transpose=True, group_size=32, bits=4)
    check(y, x @ np.array(back).T, rtol=1e-3, atol=1e-3)


def test_indexing_ops(rng):
    v = rng.standard_normal((4, 5)).astype(np.float32)
    a = mx.array(v)
    idx = np.array([[0, 2], [1, 3]])
    check(mx.take(a, mx.array(idx), axis=1), np.take(v, idx, axis=1))
    check(mx.take(a, mx.array(idx)), np.take(v, idx))
    check(mx.take(a, 2, axis=0), v[2])
    ti = np.argsort(v, axis=1)
    check(mx.take_along_axis(a, mx.array(ti), axis=1), np.take_along_axis(v, ti, axis=1))
    w = v.copy()
    np.put_along_axis(w, ti[:, :1], 0.0, axis=1)
    check(mx.put_along_axis(a, mx.array(ti[:, :1]), 0.0, axis=1), w)


def test_eval_and_misc():
    a = mx.ones((2, 2)) * 3
    tree = {"x": [a, (a + 1,)], "n": 3}
    mx.eval(tree)
    mx.eval(a, [a * 2])
    mx.async_eval(a + 5)
    assert (a + 5).sum().item() == 32
    assert mx.get_active_memory() >= 0
    assert mx.get_peak_memory() >= mx.get_active_memory() or True
    mx.reset_peak_memory()
    mx.clear_cache()
    assert mx.get_cache_memory() >= 0


def test_errors_map_to_python_exceptions():
    with pytest.raises(ValueError, match=r"\[reshape\]|reshape"):
        mx.reshape(mx.ones(6), (4, 2))
    with pytest.raises(ValueError):
        mx.ones(3) + mx.ones(4)
    with pytest.raises(IndexError, match=r"\[sum\] Axis 5"):
        mx.sum(mx.ones(3), axis=5)
    with pytest.raises(IndexError):
        mx.ones(3)[5]
