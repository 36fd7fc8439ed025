"""The array type: construction and dtype inference, printing, NumPy interop, scalars and
operators with MLX's type promotion."""

import pickle

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")


def test_dtype_inference_from_python():
    assert mx.array(1).dtype == mx.int32
    assert mx.array(1.0).dtype == mx.float32
    assert mx.array(True).dtype == mx.bool_
    assert mx.array(1 + 2j).dtype == mx.complex64
    assert mx.array([1, 2, 3]).dtype == mx.int32
    assert mx.array([1, 2.5]).dtype == mx.float32
    assert mx.array([True, False]).dtype == mx.bool_
    assert mx.array([True, 2]).dtype == mx.int32
    assert mx.array(2**40).dtype == mx.int64
    assert mx.array([]).dtype == mx.float32 and mx.array([]).shape == (0,)
    assert mx.array([[1, 2], [3, 4]], dtype=mx.float16).dtype == mx.float16
    assert mx.array([[1, 2], [3, 4]]).shape == (2, 2)
    with pytest.raises(ValueError):
        mx.array([[1, 2], [3]])
    with pytest.raises(ValueError):
        mx.array("text")


def test_dtype_objects():
    assert mx.float32.size == 4 and mx.bfloat16.size == 2 and mx.complex64.size == 8
    assert mx.float32 != mx.float16
    assert mx.issubdtype(mx.float16, mx.floating)
    assert mx.issubdtype(mx.int8, mx.signedinteger)
    assert not mx.issubdtype(mx.uint8, mx.signedinteger)
    assert mx.issubdtype(mx.integer, mx.number)
    assert len({mx.float32, mx.float32, mx.int32}) == 2
    assert mx.finfo(mx.float16).max == 65504.0
    assert mx.iinfo(mx.int8).min == -128 and mx.iinfo(mx.uint16).max == 65535


def test_properties_and_scalars():
    a = mx.array([[1, 2, 3], [4, 5, 6]], dtype=mx.int16)
    assert a.shape == (2, 3) and a.ndim == 2 and a.size == 6
    assert a.itemsize == 2 and a.nbytes == 12 and len(a) == 2
    assert a.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert a.T.shape == (3, 2)
    assert mx.array(3.5).item() == 3.5
    assert isinstance(mx.array(3).item(), int)
    assert isinstance(mx.array(True).item(), bool)
    assert mx.array([1.5, 2.5]).tolist() == [1.5, 2.5]
    assert int(mx.array(7)) == 7 and float(mx.array(2.5)) == 2.5
    assert bool(mx.array(1)) and not bool(mx.array(0))
    with pytest.raises(ValueError):
        bool(mx.array([1, 2]))
    with pytest.raises(ValueError):
        mx.array([1, 2]).item()
    assert [x.item() for x in mx.array([4, 5, 6])] == [4, 5, 6]
    assert f"{mx.array(3.14159):.2f}" == "3.14"


def test_printing_like_mlx():
    assert repr(mx.array([1, 2])) == "array([1, 2], dtype=int32)"
    assert repr(mx.array(1)) == "array(1, dtype=int32)"
    assert repr(mx.array([True, False])) == "array([True, False], dtype=bool)"
    assert repr(mx.array([[1.5, 2], [3, 4]])) == "array([[1.5, 2],\n       [3, 4]], dtype=float32)"
    assert str(mx.array([1, 2])) == "array([1, 2], dtype=int32)"


def test_numpy_interop_both_ways(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a = mx.array(x)
    assert a.dtype == mx.float32 and a.shape == (3, 4)
    np.testing.assert_array_equal(np.array(a), x)
    # float64 NumPy arrays become float32 unless asked otherwise, as in MLX.
    assert mx.array(np.zeros(2)).dtype == mx.float32
    assert mx.array(np.zeros(2), dtype=mx.float64).dtype == mx.float64
    for np_t, mx_t in [
        (np.int8, mx.int8), (np.uint16, mx.uint16), (np.int64, mx.int64), (np.float16, mx.float16),
        (np.bool_, mx.bool_), (np.complex64, mx.complex64), (np.uint32, mx.uint32),
    ]:
        v = np.array([1, 0, 1], dtype=np_t)
        m = mx.array(v)
        assert m.dtype == mx_t
        back = np.array(m)
        assert back.dtype == np_t
        np.testing.assert_array_equal(back, v)
    # Non-contiguous NumPy input and views of tessera arrays.
    np.testing.assert_array_equal(np.array(mx.array(x[:, ::2])), x[:, ::2])
    np.testing.assert_array_equal(np.array(a.T), x.T)
    np.testing.assert_array_equal(np.asarray(a[1:, 2]), x[1:, 2])
    assert np.array(mx.array([1, 2], dtype=mx.bfloat16)).dtype == np.float32
    assert mx.array(np.float32(2.0)).dtype == mx.float32
    assert mx.array(np.array(5)).shape == ()
    # A NumPy view stays valid after the array object is reassigned through slicing.
    b = mx.arange(4)
    view = np.asarray(b)
    b[0] = 100
    assert view[0] == 0 and b[0].item() == 100


def test_from_list_of_arrays():
    a = mx.array([mx.array([1, 2]), mx.array([3, 4])])
    assert a.shape == (2, 2) and a.dtype == mx.int32
    b = mx.array([mx.array(1.0), mx.array(2)])
    assert b.dtype == mx.float32


def test_weak_scalar_promotion():
    h = mx.array([1], mx.float16)
    assert (h * 2.5).dtype == mx.float16
    assert (2.5 * h).dtype == mx.float16
    assert (h + 1).dtype == mx.float16
    i = mx.array([1], mx.int8)
    assert (i + 1).dtype == mx.int8
    assert (i + 1.5).dtype == mx.float32
    assert (mx.array([True]) + 1).dtype == mx.int32
    assert (mx.array([1], mx.bfloat16) - 1.0).dtype == mx.bfloat16
    # Arrays promote by MLX's table.
    assert (mx.array([1], mx.int32) + mx.array([1], mx.float16)).dtype == mx.float16
    assert (mx.array([1], mx.uint8) + mx.array([1], mx.int8)).dtype == mx.int16
    # NumPy arrays are not weak.
    assert (h + np.array([1.0], dtype=np.float32)).dtype == mx.float32
    assert mx.add(h, 1.0).dtype == mx.float16
    assert mx.maximum(i, 3).dtype == mx.int8
    assert mx.where(mx.array([True]), h, 0.0).dtype == mx.float16


def test_operators(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = rng.standard_normal((3,)).astype(np.float32) + 3
    a, b = mx.array(x), mx.array(y)
    for got, want in [
        (a + b, x + y), (a - b, x - y), (a * b, x * y), (a / b, x / y), (a // b, x // y), (a % b, np.mod(x, y)),
        (b**2, y**2), (2**b, 2**y), (-a, -x), (abs(a), np.abs(x)), (1 - a, 1 - x), (3 / b, 3 / y),
        (a @ b, x @ y), (a < b, x < y), (a >= 0.5, x >= 0.5), (a == a, x == x), (a != 1, x != 1),
    ]:
        np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)
    i, j = mx.array([6, 3]), mx.array([3, 5])
    assert (i & j).tolist() == [2, 1] and (i | j).tolist() == [7, 7] and (i ^ j).tolist() == [5, 6]
    assert (i << 1).tolist() == [12, 6] and (i >> 1).tolist() == [3, 1] and (~i).tolist() == [-7, -4]
    assert (~mx.array([True, False])).tolist() == [False, True]
    q, r = divmod(mx.array([7, -7]), 3)
    assert q.tolist() == [2, -3] and r.tolist() == [1, 2]
    assert (a == None) is False  # noqa: E711
    assert (a != "x") is True
    with pytest.raises(TypeError):
        a + "x"


def test_inplace_operators_rebind_the_object():
    a = mx.array([1.0, 2.0])
    alias = a
    a += 1
    assert alias.tolist() == [2.0, 3.0]
    a *= mx.array([2.0, 2.0])
    assert alias.tolist() == [4.0, 6.0]


def test_methods_follow_mlx():
    a = mx.arange(24).reshape(2, 3, 4)
    n = np.arange(24).reshape(2, 3, 4)
    assert a.reshape((4, 6)).shape == (4, 6)
    assert a.transpose(2, 0, 1).shape == (4, 2, 3)
    assert a.transpose().shape == (4, 3, 2)
    assert a.sum().item() == n.sum()
    assert a.sum(axis=1, keepdims=True).shape == (2, 1, 4)
    assert a.max(axis=(0, 2)).tolist() == n.max(axis=(0, 2)).tolist()
    assert a.argmax(axis=2).tolist() == n.argmax(axis=2).tolist()
    assert a.astype(mx.float32).mean().item() == pytest.approx(n.mean())
    assert a.flatten().shape == (24,) and a.flatten(1).shape == (2, 12)
    assert a.squeeze().shape == (2, 3, 4) and a[:1].squeeze(0).shape == (3, 4)
    assert a.swapaxes(0, 2).shape == (4, 3, 2) and a.moveaxis(0, -1).shape == (3, 4, 2)
    assert [p.shape for p in a.split(2, axis=2)] == [(2, 3, 2), (2, 3, 2)]
    assert a.cumsum(axis=2).tolist() == n.cumsum(axis=2).tolist()
    assert a.astype(mx.float32).var(axis=0, ddof=1).tolist() == n.var(axis=0, ddof=1).tolist()
    assert mx.array([1.0, 4.0]).sqrt().tolist() == [1.0, 2.0]
    assert mx.array([-1.5]).abs().item() == 1.5
    assert mx.array([1.26]).round(1).item() == pytest.approx(1.3)
    assert mx.array([[1, 2], [3, 4]]).diagonal().tolist() == [1, 4]


def test_pickle_and_copy():
    import copy

    a = mx.array([[1.5, 2.0]], dtype=mx.bfloat16)
    b = pickle.loads(pickle.dumps(a))
    assert b.dtype == mx.bfloat16 and b.tolist() == a.tolist()
    assert copy.deepcopy(a).tolist() == a.tolist()


def test_devices_and_streams():
    d = mx.default_device()
    assert d == mx.cpu
    s = mx.default_stream(d)
    assert s.device == d
    with mx.stream(mx.cpu):
        assert (mx.ones(2) + 1).tolist() == [2.0, 2.0]
    assert mx.add(mx.ones(2), 1, stream=mx.cpu).tolist() == [2.0, 2.0]
    assert mx.add(mx.ones(2), 1, stream=s).tolist() == [2.0, 2.0]
    mx.synchronize()
