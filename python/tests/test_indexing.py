"""NumPy-style indexing: reads, slice assignment and a.at[...] updates, against NumPy."""

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")

V = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5).astype(np.int32)

READS = [
    0, -1, (1, 2), (slice(None), 1), slice(1, None), slice(None, None, -1), (Ellipsis, 2), (0, Ellipsis, 1),
    (slice(None), slice(0, 3, 2), slice(None, None, -2)), (None,), (None, 0, None, Ellipsis, None),
    (slice(5, 1, -1),), (slice(-3, -1),), (slice(10, 20),), (Ellipsis,), (),
    # advanced: integer arrays and lists, alone and mixed with ints, slices and None
    ([0, 1, 1],), (slice(None), [2, 0]), ([1, 0], [2, 1]), ([[0], [1]], [0, 2]), (slice(None), [0, 2], 1),
    (0, slice(None), [1, 3]), ([0, 1], slice(None), [1, 2]), ([1], slice(1, 3), slice(None), [0, -1]),
    (Ellipsis, [4, 0]), (None, [1, 0], Ellipsis), ([0, 1], None, [1, 2]), (1, [0, 2], [1, 3]),
    (slice(None), [[0, 1], [2, 0]], slice(None), 0), ([-1, -2],),
]


@pytest.mark.parametrize("index", READS, ids=[repr(i) for i in READS])
def test_read_matches_numpy(index):
    a = mx.array(V)
    want = V[index]
    mx_index = tuple(mx.array(i) if isinstance(i, list) and i and isinstance(i[0], list) else i for i in index) \
        if isinstance(index, tuple) else index
    got = a[mx_index]
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.array(got), want)


def test_read_with_array_and_numpy_indices():
    a = mx.array(V)
    np.testing.assert_array_equal(np.array(a[mx.array([1, 0])]), V[[1, 0]])
    np.testing.assert_array_equal(np.array(a[:, np.array([2, 1])]), V[:, [2, 1]])
    np.testing.assert_array_equal(np.array(a[np.int64(1), 2]), V[1, 2])


def test_read_errors():
    a = mx.array(V)
    with pytest.raises(IndexError):
        a[2]
    with pytest.raises(IndexError):
        a[0, 0, 0, 0, 0]
    with pytest.raises(IndexError):
        a[..., ...]
    with pytest.raises(ValueError):
        a[mx.array([True, False])]
    with pytest.raises(ValueError):
        a[mx.array([0.5])]


WRITES = [
    (0, 7), ((1, 2), -1), (slice(1, 3), 5), ((slice(None), 1, slice(None, None, 2)), 9), ((Ellipsis, -1), 4),
    ((slice(None, None, -1), 0), 3), (([0, 1], 2), 8), ((slice(None), [0, 2], 1), 6), (([1, 0], [2, 1]), 2),
    ((0, slice(None), [1, 3]), 1), ((None, 1), 5),
]


@pytest.mark.parametrize("index,value", WRITES, ids=[repr(w[0]) for w in WRITES])
def test_scalar_assignment_matches_numpy(index, value):
    a = mx.array(V)
    want = V.copy()
    want[index] = value
    a[index] = value
    np.testing.assert_array_equal(np.array(a), want)


@pytest.mark.parametrize("index,value", WRITES, ids=[repr(w[0]) for w in WRITES])
def test_array_assignment_matches_numpy(index, value):
    a = mx.array(V)
    want = V.copy()
    shape = V[index].shape
    upd = (np.arange(int(np.prod(shape))).reshape(shape) + 1000).astype(np.int32)
    want[index] = upd
    a[index] = mx.array(upd)
    np.testing.assert_array_equal(np.array(a), want)


def test_assignment_broadcasts_and_casts():
    a = mx.zeros((3, 4))
    a[1:] = mx.array([1, 2, 3, 4])
    assert a.dtype == mx.float32
    assert a.tolist() == [[0] * 4, [1, 2, 3, 4], [1, 2, 3, 4]]
    a[0] = mx.array([[9, 9, 9, 9]])  # extra leading unit axis, as NumPy allows
    assert a[0].tolist() == [9] * 4
    b = mx.arange(5)
    b[1:3] = 2.7  # cast to the target dtype
    assert b.dtype == mx.int32 and b.tolist() == [0, 2, 2, 3, 4]
    with pytest.raises(ValueError):
        a[0] = mx.ones(3)


def test_boolean_mask_assignment():
    v = np.arange(6).reshape(2, 3).astype(np.float32)
    a = mx.array(v)
    a[a > 2] = 0
    w = v.copy()
    w[w > 2] = 0
    np.testing.assert_array_equal(np.array(a), w)
    a = mx.array(v)
    a[mx.array([True, False])] = mx.array([7.0, 8.0, 9.0])
    w = v.copy()
    w[[True, False]] = [7, 8, 9]
    np.testing.assert_array_equal(np.array(a), w)
    a = mx.array(v)
    m = v > 1
    a[mx.array(m)] = mx.array([10.0, 11.0, 12.0, 13.0])
    w = v.copy()
    w[m] = [10, 11, 12, 13]
    np.testing.assert_array_equal(np.array(a), w)


def test_assignment_is_visible_through_other_references():
    a = mx.zeros(3)
    b = a
    a[0] = 1
    assert b.tolist() == [1, 0, 0]


def test_at_updates_accumulate_duplicates():
    a = mx.zeros(4)
    idx = mx.array([0, 0, 2])
    assert a.at[idx].add(1).tolist() == [2, 0, 1, 0]
    assert a.tolist() == [0, 0, 0, 0]  # .at returns a new array
    b = mx.ones(4) * 2
    assert b.at[idx].multiply(3).tolist() == [18, 2, 6, 2]
    assert b.at[1:3].subtract(1).tolist() == [2, 1, 1, 2]
    assert b.at[1].divide(4).tolist() == [2, 0.5, 2, 2]
    assert b.at[mx.array([1, 1])].maximum(mx.array([5.0, 3.0])).tolist() == [2, 5, 2, 2]
    assert b.at[:2].minimum(1).tolist() == [1, 1, 2, 2]
    m = mx.zeros((3, 3))
    np.testing.assert_array_equal(np.array(m.at[mx.array([0, 0]), 1:].add(1)), np.array(
        [[0, 2, 2], [0, 0, 0], [0, 0, 0]], np.float32))


def test_iteration_and_len():
    a = mx.array(V)
    assert len(a) == 2
    rows = list(a)
    assert len(rows) == 2 and rows[1].shape == (3, 4, 5)
