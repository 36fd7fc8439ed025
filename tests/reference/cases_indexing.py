"""NumPy reference cases: data movement (concatenate, stack, repeat, tile, pad, roll, flip,
diagonal, diag, trace, slice_update, dynamic slice) and indexing (take, take_along_axis,
put_along_axis, gather, scatter*, masked_scatter).

Index semantics under test (Tessera, like MLX, does not bounds-check index arrays): a negative
index wraps once (i + dim); an index still out of range is clamped into range, and gather /
scatter slices are clamped so they fit in the array."""
import itertools

import numpy as np

from make_fixtures import Case, Input

I32 = np.int32


def data(rng, shape, dtype):
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-50, 50, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def wrap_clamp(i, dim, size):
    i = int(i)
    if i < 0:
        i += dim
    return min(max(i, 0), max(dim - size, 0))


def fix_idx(idx, dim):
    idx = np.asarray(idx).astype(np.int64)
    return np.clip(np.where(idx < 0, idx + dim, idx), 0, dim - 1)


def gather_np(a, idxs, axes, slice_sizes):
    idxs = np.broadcast_arrays(*idxs) if idxs else []
    idx_shape = idxs[0].shape if idxs else ()
    out = np.empty(tuple(idx_shape) + tuple(slice_sizes), dtype=a.dtype)
    for pos in itertools.product(*[range(n) for n in idx_shape]):
        start = [0] * a.ndim
        for ix, ax in zip(idxs, axes):
            start[ax] = wrap_clamp(ix[pos], a.shape[ax], slice_sizes[ax])
        sl = tuple(slice(s, s + n) for s, n in zip(start, slice_sizes))
        out[pos] = a[sl]
    return out


def combine(dst, v, mode):
    if mode == "set":
        return v
    if dst.dtype == np.bool_:
        return (dst | v) if mode in ("add", "max") else (dst & v)
    return {"add": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}[mode](dst, v).astype(dst.dtype)


def scatter_np(a, idxs, updates, axes, mode):
    out = a.copy()
    idxs = np.broadcast_arrays(*idxs) if idxs else []
    idx_shape = idxs[0].shape if idxs else ()
    nd = len(idx_shape)
    slice_shape = updates.shape[nd:]
    updates = np.broadcast_to(updates, tuple(idx_shape) + tuple(slice_shape)).astype(a.dtype)
    for pos in itertools.product(*[range(n) for n in idx_shape]):
        start = [0] * a.ndim
        for ix, ax in zip(idxs, axes):
            start[ax] = wrap_clamp(ix[pos], a.shape[ax], slice_shape[ax])
        sl = tuple(slice(s, s + n) for s, n in zip(start, slice_shape))
        out[sl] = combine(out[sl], updates[pos], mode)
    return out


def cases(rng):
    # ------------------------------------------------------------ concatenate / stack
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        x, y, z = data(rng, (3, 4), dt), data(rng, (2, 4), dt), data(rng, (1, 4), dt)
        yield Case(f"concat_axis0_{np.dtype(dt).name}", "concatenate", [x, Input(y), z],
                   np.concatenate([x, y, z], 0), params={"axis": 0}, rtol=0, atol=0, dtype=np.dtype(dt).name
                   if dt != np.bool_ else "bool")
    x, y = data(rng, (3, 5), np.float32), data(rng, (3, 2), np.float32)
    yield Case("concat_axis_neg_T", "concatenate", [Input(x, view="T"), Input(y, view="step2")],
               np.concatenate([x, y], -1), params={"axis": -1}, rtol=0, atol=0)
    yield Case("concat_flat", "concatenate", [x, y], np.concatenate([x.ravel(), y.ravel()]), rtol=0, atol=0)
    yield Case("concat_promote_f16_f32", "concatenate", [x.astype(np.float16), y],
               np.concatenate([x.astype(np.float16), y], 1), params={"axis": 1}, dtype="float32")
    b = data(rng, (3, 2), np.bool_)
    xi = data(rng, (3, 2), np.int32)
    yield Case("concat_promote_int32_bool", "concatenate", [xi, b], np.concatenate([xi, b], 1),
               params={"axis": 1}, dtype="int32", rtol=0, atol=0)
    e = np.zeros((0, 4), np.float32)
    x4 = data(rng, (2, 4), np.float32)
    yield Case("concat_empty", "concatenate", [e, x4, e], np.concatenate([e, x4, e]), params={"axis": 0},
               rtol=0, atol=0)
    big1, big2 = data(rng, (300, 400), np.float32), data(rng, (300, 100), np.float32)
    yield Case("concat_large", "concatenate", [Input(big1), Input(big2, view="step2")],
               np.concatenate([big1, big2], 1), params={"axis": 1}, rtol=0, atol=0)
    yield Case("concat_bad_shape", "concatenate", [x, x4], [], params={"axis": 0}, error="invalid_argument")
    yield Case("concat_bad_ndim", "concatenate", [x, x.ravel()], [], params={"axis": 0}, error="invalid_argument")
    yield Case("concat_bad_axis", "concatenate", [x, x], [], params={"axis": 2}, error="out_of_range")
    for ax in (0, 1, 2, -1):
        s1, s2 = data(rng, (2, 3), np.float32), data(rng, (2, 3), np.float32)
        yield Case(f"stack_axis{ax}", "stack", [Input(s1), Input(s2)], np.stack([s1, s2], ax),
                   params={"axis": ax}, rtol=0, atol=0)
    s1 = data(rng, (4, 3), np.int32)
    yield Case("stack_default_T", "stack", [Input(s1, view="T"), s1], np.stack([s1, s1]), rtol=0, atol=0)
    yield Case("stack_bad_shape", "stack", [s1, s1.T.copy()], [], params={"axis": 0}, error="invalid_argument")
    yield Case("stack_bad_axis", "stack", [s1, s1], [], params={"axis": 3}, error="out_of_range")

    # ------------------------------------------------------------ repeat / tile
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        x = data(rng, (3, 4), dt)
        yield Case(f"repeat_axis1_{np.dtype(dt).name}", "repeat", [Input(x, view="T")], np.repeat(x, 3, 1),
                   params={"repeats": 3, "axis": 1}, rtol=0, atol=0)
    x = data(rng, (3, 4), np.float32)
    yield Case("repeat_flat", "repeat", [x], np.repeat(x, 2), params={"repeats": 2}, rtol=0, atol=0)
    yield Case("repeat_zero", "repeat", [x], np.repeat(x, 0, 0), params={"repeats": 0, "axis": 0})
    yield Case("repeat_neg_axis_step2", "repeat", [Input(x, view="step2")], np.repeat(x, 2, -2),
               params={"repeats": 2, "axis": -2}, rtol=0, atol=0)
    yield Case("repeat_negative", "repeat", [x], [], params={"repeats": -1, "axis": 0}, error="invalid_argument")
    yield Case("repeat_bad_axis", "repeat", [x], [], params={"repeats": 2, "axis": 5}, error="out_of_range")
    big = data(rng, (500, 300), np.float32)
    yield Case("repeat_large", "repeat", [big], np.repeat(big, 2, 0), params={"repeats": 2, "axis": 0}, rtol=0, atol=0)
    for reps in ([2, 3], [3], [2, 1, 2], [0, 2]):
        for dt in (np.float32, np.bool_):
            x = data(rng, (3, 4), dt)
            yield Case(f"tile_{'x'.join(map(str, reps))}_{np.dtype(dt).name}", "tile", [Input(x, view="T")],
                       np.tile(x, reps), params={"reps": reps}, rtol=0, atol=0)
    yield Case("tile_negative", "tile", [x], [], params={"reps": [-1]}, error="invalid_argument")

    # ------------------------------------------------------------ pad
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        x = data(rng, (3, 4), dt)
        val = np.array(7 if dt != np.bool_ else True, dtype=dt)
        yield Case(f"pad_const_{np.dtype(dt).name}", "pad", [Input(x, view="T"), val],
                   np.pad(x, ((1, 2), (0, 3)), constant_values=val), params={"form": "pairs", "width": [[1, 2], [0, 3]]},
                   rtol=0, atol=0)
        yield Case(f"pad_edge_{np.dtype(dt).name}", "pad", [Input(x, view="step2")],
                   np.pad(x, ((2, 1), (3, 2)), mode="edge"),
                   params={"form": "pairs", "width": [[2, 1], [3, 2]], "mode": "edge"}, rtol=0, atol=0)
    x = data(rng, (2, 3, 4), np.float32)
    yield Case("pad_axes", "pad", [x], np.pad(x, ((0, 0), (0, 0), (2, 1))),
               params={"form": "axes", "axes": [-1], "low": [2], "high": [1]}, rtol=0, atol=0)
    yield Case("pad_axes_edge", "pad", [x], np.pad(x, ((1, 0), (0, 0), (0, 2)), mode="edge"),
               params={"form": "axes", "axes": [2, 0], "low": [0, 1], "high": [2, 0], "mode": "edge"}, rtol=0, atol=0)
    yield Case("pad_pair", "pad", [x, np.array(-1.5, np.float32)], np.pad(x, (1, 2), constant_values=-1.5),
               params={"form": "pair", "width": [1, 2]}, rtol=0, atol=0)
    yield Case("pad_int", "pad", [x], np.pad(x, 2), params={"form": "int", "width": 2}, rtol=0, atol=0)
    yield Case("pad_int_edge", "pad", [x], np.pad(x, 1, mode="edge"),
               params={"form": "int", "width": 1, "mode": "edge"}, rtol=0, atol=0)
    xi = data(rng, (3,), np.int32)
    yield Case("pad_value_cast", "pad", [xi, np.array(2.0, np.float32)], np.pad(xi, 1, constant_values=2),
               params={"form": "int", "width": 1}, dtype="int32", rtol=0, atol=0)
    e = np.zeros((0, 3), np.float32)
    yield Case("pad_empty", "pad", [e], np.pad(e, 1), params={"form": "int", "width": 1}, rtol=0, atol=0)
    big = data(rng, (300, 400), np.float32)
    yield Case("pad_large", "pad", [Input(big, view="T")], np.pad(big, ((3, 1), (2, 5))),
               params={"form": "pairs", "width": [[3, 1], [2, 5]]}, rtol=0, atol=0)
    yield Case("pad_large_edge", "pad", [big], np.pad(big, ((3, 1), (2, 5)), mode="edge"),
               params={"form": "pairs", "width": [[3, 1], [2, 5]], "mode": "edge"}, rtol=0, atol=0)
    yield Case("pad_negative", "pad", [x], [], params={"form": "int", "width": -1}, error="invalid_argument")
    yield Case("pad_bad_mode", "pad", [x], [], params={"form": "int", "width": 1, "mode": "reflect"},
               error="invalid_argument")
    yield Case("pad_bad_pairs", "pad", [x], [], params={"form": "pairs", "width": [[1, 1]]}, error="invalid_argument")
    yield Case("pad_bad_axis", "pad", [x], [], params={"form": "axes", "axes": [3], "low": [1], "high": [1]},
               error="out_of_range")
    yield Case("pad_bad_value", "pad", [x, np.ones(2, np.float32)], [], params={"form": "int", "width": 1},
               error="invalid_argument")

    # ------------------------------------------------------------ roll / flip
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        x = data(rng, (4, 5), dt)
        yield Case(f"roll_axis_{np.dtype(dt).name}", "roll", [Input(x, view="T")], np.roll(x, 2, 1),
                   params={"shift": 2, "axis": 1}, rtol=0, atol=0)
    x = data(rng, (4, 5), np.float32)
    yield Case("roll_flat", "roll", [x], np.roll(x, 7), params={"shift": 7}, rtol=0, atol=0)
    yield Case("roll_flat_neg", "roll", [x], np.roll(x, -3), params={"shift": -3}, rtol=0, atol=0)
    yield Case("roll_shape_flat", "roll", [x], np.roll(x, 5), params={"shift": [2, 3]}, rtol=0, atol=0)
    yield Case("roll_axes", "roll", [Input(x, view="step2")], np.roll(x, (1, -7), (0, 1)),
               params={"shift": [1, -7], "axis": [0, 1]}, rtol=0, atol=0)
    yield Case("roll_int_axes", "roll", [x], np.roll(x, (3, 3), (0, -1)), params={"shift": 3, "axis": [0, -1]},
               rtol=0, atol=0)
    yield Case("roll_shape_axis", "roll", [x], np.roll(x, 3, 0), params={"shift": [1, 2], "axis": 0}, rtol=0, atol=0)
    yield Case("roll_big_shift", "roll", [x], np.roll(x, 23, 0), params={"shift": 23, "axis": 0}, rtol=0, atol=0)
    yield Case("roll_empty", "roll", [np.zeros((0, 3), np.float32)], np.zeros((0, 3), np.float32),
               params={"shift": 2, "axis": 0})
    big = data(rng, (400, 300), np.float32)
    yield Case("roll_large", "roll", [big], np.roll(big, 17, 1), params={"shift": 17, "axis": 1}, rtol=0, atol=0)
    yield Case("roll_bad_axis", "roll", [x], [], params={"shift": 1, "axis": 2}, error="out_of_range")
    yield Case("roll_mismatch", "roll", [x], [], params={"shift": [1, 2], "axis": [0]}, error="invalid_argument")
    for dt in (np.float32, np.bool_):
        x3 = data(rng, (2, 3, 4), dt)
        yield Case(f"flip_all_{np.dtype(dt).name}", "flip", [x3], np.flip(x3), rtol=0, atol=0)
        yield Case(f"flip_axis_{np.dtype(dt).name}", "flip", [Input(x3, view="T")], np.flip(x3, -1),
                   params={"axis": -1}, rtol=0, atol=0)
        yield Case(f"flip_axes_{np.dtype(dt).name}", "flip", [Input(x3, view="step2")], np.flip(x3, (0, 2)),
                   params={"axis": [0, 2]}, rtol=0, atol=0)
    yield Case("flip_bad_axis", "flip", [x], [], params={"axis": 4}, error="out_of_range")

    # ------------------------------------------------------------ diagonal / diag / trace
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        m = data(rng, (4, 6), dt)
        for off in (0, 2, -1, 5, -4, 7):
            yield Case(f"diagonal_{np.dtype(dt).name}_{off}", "diagonal", [Input(m, view="T")],
                       np.diagonal(m, off).copy(), params={"offset": off}, rtol=0, atol=0)
    t = data(rng, (3, 4, 5), np.float32)
    yield Case("diagonal_axes", "diagonal", [t], np.diagonal(t, 1, 2, 0).copy(),
               params={"offset": 1, "axis1": 2, "axis2": 0}, rtol=0, atol=0)
    yield Case("diagonal_axes_neg", "diagonal", [Input(t, view="step2")], np.diagonal(t, -1, -1, 1).copy(),
               params={"offset": -1, "axis1": -1, "axis2": 1}, rtol=0, atol=0)
    yield Case("diagonal_same_axis", "diagonal", [t], [], params={"axis1": 1, "axis2": 1}, error="invalid_argument")
    yield Case("diagonal_1d", "diagonal", [t[0, 0]], [], error="invalid_argument")
    for dt in (np.float32, np.int32, np.bool_):
        v = data(rng, (4,), dt)
        for k in (0, 2, -3):
            yield Case(f"diag_vec_{np.dtype(dt).name}_{k}", "diag", [Input(v, view="step2")], np.diag(v, k),
                       params={"k": k}, rtol=0, atol=0)
    m = data(rng, (5, 3), np.float32)
    yield Case("diag_mat", "diag", [Input(m, view="T")], np.diag(m, 1).copy(), params={"k": 1}, rtol=0, atol=0)
    yield Case("diag_3d", "diag", [t], [], error="invalid_argument")
    mf = data(rng, (5, 5), np.float32)
    yield Case("trace_default", "trace", [mf], np.trace(mf).astype(np.float32), dtype="float32")
    yield Case("trace_offset_T", "trace", [Input(mf, view="T")], np.trace(mf, 1).astype(np.float32),
               params={"offset": 1, "axis1": 0, "axis2": 1})
    yield Case("trace_3d", "trace", [t], np.trace(t, -1, 1, 2).astype(np.float32),
               params={"offset": -1, "axis1": 1, "axis2": 2})
    mi = data(rng, (4, 4), np.int32)
    yield Case("trace_int32", "trace", [mi], np.array(np.trace(mi), np.int32), dtype="int32", rtol=0, atol=0)
    yield Case("trace_dtype", "trace", [mi], np.array(np.trace(mi), np.float32),
               params={"offset": 0, "axis1": 0, "axis2": 1, "dtype": "float32"}, dtype="float32")
    yield Case("trace_1d", "trace", [mi[0]], [], error="invalid_argument")

    # ------------------------------------------------------------ slice_update
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        x = data(rng, (5, 6), dt)
        u = data(rng, (2, 3), dt)
        exp = x.copy()
        exp[1:5:2, 0:6:2] = u
        yield Case(f"slice_update_{np.dtype(dt).name}", "slice_update", [Input(x, view="T"), Input(u, view="step2")],
                   exp, params={"start": [1, 0], "stop": [5, 6], "strides": [2, 2]}, rtol=0, atol=0)
    x = data(rng, (5, 6), np.float32)
    exp = x.copy()
    exp[-3:, 1:4] = 9.0
    yield Case("slice_update_bcast_neg", "slice_update", [x, np.array(9.0, np.float32)], exp,
               params={"start": [-3, 1], "stop": [5, 4]}, rtol=0, atol=0)
    exp = x.copy()
    row = data(rng, (3,), np.float32)
    exp[4:0:-2, ::-2] = row
    yield Case("slice_update_neg_stride", "slice_update", [x, row], exp,
               params={"start": [4, -1], "stop": [0, -7], "strides": [-2, -2]}, rtol=0, atol=0)
    yield Case("slice_update_empty", "slice_update", [x, np.zeros((0, 6), np.float32)], x,
               params={"start": [2, 0], "stop": [2, 6]}, rtol=0, atol=0)
    for mode, fn in (("add", np.add), ("prod", np.multiply), ("max", np.maximum), ("min", np.minimum)):
        for dt in (np.float32, np.int32, np.bool_):
            xm = data(rng, (4, 5), dt)
            um = data(rng, (2, 5), dt)
            exp = xm.copy()
            exp[0:4:2, :] = combine(exp[0:4:2, :], um, mode)
            yield Case(f"slice_update_{mode}_{np.dtype(dt).name}", "slice_update", [xm, Input(um, view="T")], exp,
                       params={"start": [0, 0], "stop": [4, 5], "strides": [2, 1], "mode": mode}, rtol=1e-6, atol=0)
    big = data(rng, (400, 300), np.float32)
    ub = data(rng, (200, 300), np.float32)
    exp = big.copy()
    exp[::2] += ub
    yield Case("slice_update_add_large", "slice_update", [big, ub], exp,
               params={"start": [0, 0], "stop": [400, 300], "strides": [2, 1], "mode": "add"})
    exp = big.copy()
    exp[100:300] = ub
    yield Case("slice_update_large", "slice_update", [big, Input(ub, view="T")], exp,
               params={"start": [100, 0], "stop": [300, 300]}, rtol=0, atol=0)
    yield Case("slice_update_bad_shape", "slice_update", [x, np.ones((2, 2), np.float32)], [],
               params={"start": [0, 0], "stop": [3, 3]}, error="invalid_argument")
    yield Case("slice_update_bad_rank", "slice_update", [x, np.ones((2, 2), np.float32)], [],
               params={"start": [0], "stop": [3]}, error="invalid_argument")
    yield Case("slice_update_zero_step", "slice_update", [x, np.ones((2, 2), np.float32)], [],
               params={"start": [0, 0], "stop": [2, 2], "strides": [0, 1]}, error="invalid_argument")

    # ------------------------------------------------------------ dynamic slice / slice_update
    x = data(rng, (6, 7), np.float32)
    yield Case("dynamic_slice", "dynamic_slice", [Input(x, view="T"), np.array([2, 3], I32)], x[2:5, 3:5],
               params={"axes": [0, 1], "slice_size": [3, 2]}, rtol=0, atol=0)
    yield Case("dynamic_slice_one_axis", "dynamic_slice", [x, np.array([-2], I32)], x[:, 5:7],
               params={"axes": [1], "slice_size": [6, 2]}, rtol=0, atol=0)
    yield Case("dynamic_slice_clamp", "dynamic_slice", [x, np.array([5, 9], np.int64)], x[3:6, 4:7],
               params={"axes": [0, 1], "slice_size": [3, 3]}, rtol=0, atol=0)
    yield Case("dynamic_slice_float_start", "dynamic_slice", [x, np.array([1.0], np.float32)], [],
               params={"axes": [0], "slice_size": [2, 7]}, error="invalid_argument")
    yield Case("dynamic_slice_bad_size", "dynamic_slice", [x, np.array([1], I32)], [],
               params={"axes": [0], "slice_size": [7, 7]}, error="invalid_argument")
    yield Case("dynamic_slice_count", "dynamic_slice", [x, np.array([1, 2], I32)], [],
               params={"axes": [0], "slice_size": [2, 7]}, error="invalid_argument")
    u = data(rng, (2, 3), np.float32)
    exp = x.copy()
    exp[1:3, 4:7] = u
    yield Case("dynamic_slice_update", "dynamic_slice_update", [x, Input(u, view="T"), np.array([1, 4], I32)], exp,
               params={"axes": [0, 1]}, rtol=0, atol=0)
    exp = x.copy()
    exp[4] = x[0]
    yield Case("dynamic_slice_update_bcast_rank", "dynamic_slice_update", [x, x[0], np.array([-2], I32)],
               exp,
               params={"axes": [0]}, rtol=0, atol=0)
    yield Case("dynamic_slice_update_too_big", "dynamic_slice_update", [x, np.ones((7, 1), np.float32),
               np.array([0], I32)], [], params={"axes": [0]}, error="invalid_argument")

    # ------------------------------------------------------------ take
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        a = data(rng, (5, 6), dt)
        idx = np.array([[0, -1], [3, 2], [-6, 5]], I32)
        for ax in (0, 1, -1):
            yield Case(f"take_{np.dtype(dt).name}_ax{ax}", "take", [Input(a, view="T"), idx],
                       np.take(a, fix_idx(idx, a.shape[ax]), axis=ax), params={"axis": ax}, rtol=0, atol=0)
    a = data(rng, (5, 6), np.float32)
    yield Case("take_flat", "take", [a, np.array([0, 29, -1, 7], I32)], np.take(a, [0, 29, -1, 7]), rtol=0, atol=0)
    yield Case("take_step2_int64", "take", [Input(a, view="step2"), np.array([4, 0], np.int64)],
               np.take(a, [4, 0], axis=0), params={"axis": 0}, rtol=0, atol=0)
    yield Case("take_uint32", "take", [a, np.array([1, 2], np.uint32)], np.take(a, [1, 2], axis=1),
               params={"axis": 1}, rtol=0, atol=0)
    yield Case("take_scalar_idx", "take", [a, np.array(3, I32)], np.take(a, 3, axis=1), params={"axis": 1},
               rtol=0, atol=0)
    yield Case("take_idx_T", "take", [a, Input(np.array([[1, 2, 3], [4, 0, -2]], I32), view="T")],
               np.take(a, [[1, 2, 3], [4, 0, -2]], axis=1), params={"axis": 1}, rtol=0, atol=0)
    yield Case("take_clamp", "take", [a, np.array([7, -9], I32)], np.take(a, [4, 0], axis=0), params={"axis": 0},
               rtol=0, atol=0)
    yield Case("take_empty_idx", "take", [a, np.zeros((0,), I32)], np.take(a, np.zeros(0, int), axis=1),
               params={"axis": 1})
    yield Case("take_int", "take", [a], np.take(a, -2, axis=1), params={"index": -2, "axis": 1}, rtol=0, atol=0)
    yield Case("take_int_flat", "take", [a], np.take(a, 13), params={"index": 13}, rtol=0, atol=0)
    yield Case("take_int_oob", "take", [a], [], params={"index": 6, "axis": 1}, error="out_of_range")
    yield Case("take_float_idx", "take", [a, np.array([1.0], np.float32)], [], params={"axis": 0},
               error="invalid_argument")
    yield Case("take_bool_idx", "take", [a, np.array([True])], [], params={"axis": 0}, error="invalid_argument")
    yield Case("take_bad_axis", "take", [a, np.array([1], I32)], [], params={"axis": 2}, error="out_of_range")
    big = data(rng, (1000, 200), np.float32)
    bidx = rng.integers(-1000, 1000, size=(300,)).astype(I32)
    yield Case("take_large", "take", [big, bidx], np.take(big, bidx, axis=0), params={"axis": 0}, rtol=0, atol=0)
    bidx2 = rng.integers(0, 200, size=(150000,)).astype(I32)
    yield Case("take_large_idx", "take", [big, bidx2], np.take(big.ravel(), bidx2), rtol=0, atol=0)

    # ------------------------------------------------------------ take_along_axis / put_along_axis
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        a = data(rng, (4, 5), dt)
        idx = rng.integers(-5, 5, size=(4, 3)).astype(I32)
        yield Case(f"take_along_{np.dtype(dt).name}", "take_along_axis", [Input(a, view="T"), idx],
                   np.take_along_axis(a, idx, 1), params={"axis": 1}, rtol=0, atol=0)
    a = data(rng, (4, 5), np.float32)
    idx0 = rng.integers(0, 4, size=(2, 5)).astype(I32)
    yield Case("take_along_axis0_step2", "take_along_axis", [Input(a, view="step2"), Input(idx0, view="T")],
               np.take_along_axis(a, idx0, 0), params={"axis": 0}, rtol=0, atol=0)
    idxb = rng.integers(0, 5, size=(1, 3)).astype(I32)
    yield Case("take_along_bcast", "take_along_axis", [a, idxb],
               np.take_along_axis(a, np.broadcast_to(idxb, (4, 3)), 1), params={"axis": -1}, rtol=0, atol=0)
    yield Case("take_along_bad_ndim", "take_along_axis", [a, np.array([1], I32)], [], params={"axis": 0},
               error="invalid_argument")
    yield Case("take_along_float", "take_along_axis", [a, np.ones((4, 1), np.float32)], [], params={"axis": 1},
               error="invalid_argument")
    big = data(rng, (300, 500), np.float32)
    bidx = rng.integers(0, 500, size=(300, 400)).astype(I32)
    yield Case("take_along_large", "take_along_axis", [big, bidx], np.take_along_axis(big, bidx, 1),
               params={"axis": 1}, rtol=0, atol=0)
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        a = data(rng, (4, 5), dt)
        idx = np.array([[0, 3], [4, 1], [2, 2], [-1, 0]], I32)[:, :1].repeat(2, 1) * 0 + \
            np.array([[0, 3], [4, 1], [2, 0], [-1, 0]], I32)
        vals = data(rng, (4, 2), dt)
        exp = a.copy()
        np.put_along_axis(exp, np.where(idx < 0, idx + 5, idx), vals, 1)
        yield Case(f"put_along_{np.dtype(dt).name}", "put_along_axis", [Input(a, view="T"), idx, vals], exp,
                   params={"axis": 1}, rtol=0, atol=0)
    a = data(rng, (4, 5), np.float32)
    idx = np.array([[1, 3, 0, 2, 2]], I32)
    exp = a.copy()
    np.put_along_axis(exp, idx, 7.5, 0)
    yield Case("put_along_scalar_value", "put_along_axis", [a, idx, np.array(7.5, np.float32)], exp,
               params={"axis": 0}, rtol=0, atol=0)
    yield Case("put_along_bad_shape", "put_along_axis", [a, np.zeros((4, 2), I32), np.ones((3, 2), np.float32)],
               [], params={"axis": 1}, error="invalid_argument")
    big = data(rng, (400, 300), np.float32)
    bidx = np.argsort(rng.random((400, 300)), axis=1)[:, :100].astype(I32)
    bv = data(rng, (400, 100), np.float32)
    exp = big.copy()
    np.put_along_axis(exp, bidx, bv, 1)
    yield Case("put_along_large", "put_along_axis", [big, bidx, bv], exp, params={"axis": 1}, rtol=0, atol=0)

    # ------------------------------------------------------------ gather
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        a = data(rng, (5, 6, 4), dt)
        i0 = np.array([[0, 4], [-1, 2]], I32)
        i1 = np.array([1, -6], I32)
        yield Case(f"gather_{np.dtype(dt).name}", "gather", [Input(a, view="T"), i0, i1],
                   gather_np(a, [i0, i1], [0, 1], [1, 2, 4]), params={"axes": [0, 1], "slice_sizes": [1, 2, 4]},
                   rtol=0, atol=0)
    a = data(rng, (5, 6, 4), np.float32)
    i = np.array([3, 0, -1], I32)
    yield Case("gather_single", "gather", [Input(a, view="step2"), i], gather_np(a, [i], [2], [5, 6, 1]),
               params={"axis": -1, "slice_sizes": [5, 6, 1]}, rtol=0, atol=0)
    yield Case("gather_clamp_slice", "gather", [a, np.array([4, 5], I32)], gather_np(a, [np.array([4, 5])], [1], [2, 3, 2]),
               params={"axis": 1, "slice_sizes": [2, 3, 2]}, rtol=0, atol=0)
    yield Case("gather_empty_idx", "gather", [a, np.zeros((0, 2), I32)], np.zeros((0, 2, 1, 6, 4), np.float32),
               params={"axis": 0, "slice_sizes": [1, 6, 4]})
    yield Case("gather_bad_count", "gather", [a, i], [], params={"axes": [0, 1], "slice_sizes": [1, 1, 1]},
               error="invalid_argument")
    yield Case("gather_bad_sizes", "gather", [a, i], [], params={"axis": 0, "slice_sizes": [1, 1]},
               error="invalid_argument")
    yield Case("gather_size_too_big", "gather", [a, i], [], params={"axis": 0, "slice_sizes": [6, 1, 1]},
               error="invalid_argument")
    yield Case("gather_float_idx", "gather", [a, i.astype(np.float32)], [], params={"axis": 0, "slice_sizes": [1, 1, 1]},
               error="invalid_argument")
    yield Case("gather_bad_axis", "gather", [a, i], [], params={"axis": 3, "slice_sizes": [1, 1, 1]},
               error="out_of_range")
    yield Case("gather_no_bcast", "gather", [a, np.zeros(2, I32), np.zeros(3, I32)], [],
               params={"axes": [0, 1], "slice_sizes": [1, 1, 1]}, error="invalid_argument")
    big = data(rng, (2000, 64), np.float32)
    bi = rng.integers(-2000, 2000, size=(3000,)).astype(I32)
    yield Case("gather_large", "gather", [big, bi], gather_np(big, [bi], [0], [1, 64]),
               params={"axis": 0, "slice_sizes": [1, 64]}, rtol=0, atol=0)

    # ------------------------------------------------------------ scatter
    modes = ("set", "add", "prod", "max", "min")
    for mode in modes:
        for dt in (np.float32, np.int32, np.bool_, np.float16):
            a = data(rng, (5, 4), dt)
            idx = np.array([0, -1, 2, 0] if mode != "set" else [0, -1, 2, 3], I32)
            upd = data(rng, (4, 1, 4), dt)
            yield Case(f"scatter_{mode}_{np.dtype(dt).name}", "scatter", [Input(a, view="T"), idx, upd],
                       scatter_np(a, [idx], upd, [0], mode), params={"axis": 0, "mode": mode},
                       rtol=2e-3 if dt == np.float16 else 1e-6, atol=0)
        a = data(rng, (4, 5, 3), np.float32)
        i0 = np.array([[1], [3]], I32)
        i1 = np.array([0, -1, 2], I32)
        upd = data(rng, (2, 3, 1, 1, 3), np.float32)
        yield Case(f"scatter_multi_{mode}", "scatter", [a, i0, Input(i1, view="step2"), upd],
                   scatter_np(a, [i0, i1], upd, [0, 1], mode), params={"axes": [0, -2], "mode": mode})
    a = data(rng, (5, 4), np.float32)
    upd = data(rng, (1, 1, 4), np.float32)
    idx = np.array([1, 3], I32)
    yield Case("scatter_bcast_updates", "scatter", [a, idx, upd], scatter_np(a, [idx], upd, [0], "set"),
               params={"axis": 0}, rtol=0, atol=0)
    u2 = data(rng, (2, 1, 2), np.float32)
    yield Case("scatter_clamp", "scatter", [a, np.array([9, -8], I32), u2],
               scatter_np(a, [np.array([9, -8])], u2, [0], "add"), params={"axis": 0, "mode": "add"})
    yield Case("scatter_empty_idx", "scatter", [a, np.zeros((0,), I32), np.zeros((0, 1, 4), np.float32)], a,
               params={"axis": 0}, rtol=0, atol=0)
    yield Case("scatter_bad_rank", "scatter", [a, idx, np.ones((2, 4), np.float32)], [], params={"axis": 0},
               error="invalid_argument")
    yield Case("scatter_too_big", "scatter", [a, idx, np.ones((2, 1, 5), np.float32)], [], params={"axis": 0},
               error="invalid_argument")
    yield Case("scatter_bad_count", "scatter", [a, idx, np.ones((2, 1, 4), np.float32)], [],
               params={"axes": [0, 1]}, error="invalid_argument")
    yield Case("scatter_float_idx", "scatter", [a, idx.astype(np.float32), np.ones((2, 1, 4), np.float32)], [],
               params={"axis": 0}, error="invalid_argument")
    yield Case("scatter_bad_axis", "scatter", [a, idx, np.ones((2, 1, 4), np.float32)], [], params={"axis": 2},
               error="out_of_range")
    big = np.zeros((1000,), np.int32)
    bi = rng.integers(-1000, 1000, size=(200000,)).astype(I32)
    bu = rng.integers(-5, 5, size=(200000, 1)).astype(np.int32)
    exp = big.copy()
    np.add.at(exp, np.where(bi < 0, bi + 1000, bi), bu[:, 0])
    yield Case("scatter_add_large", "scatter", [big, bi, bu], exp, params={"axis": 0, "mode": "add"}, rtol=0, atol=0)

    # ------------------------------------------------------------ masked_scatter
    for dt in (np.float32, np.int32, np.bool_, np.float16):
        a = data(rng, (4, 5), dt)
        mask = rng.random((4, 5)) < 0.5
        src = data(rng, (20,), dt)
        exp = a.copy()
        exp[mask] = src[: mask.sum()]
        yield Case(f"masked_scatter_{np.dtype(dt).name}", "masked_scatter", [Input(a, view="T"), Input(mask, view="step2"), src],
                   exp, rtol=0, atol=0)
    a = data(rng, (4, 5), np.float32)
    mrow = np.array([True, False, True, True, False])
    src = data(rng, (3, 4), np.float32)
    exp = a.copy()
    bm = np.broadcast_to(mrow, a.shape)
    exp[bm] = src.ravel()[: bm.sum()]
    yield Case("masked_scatter_bcast_mask", "masked_scatter", [a, mrow, Input(src, view="T")], exp, rtol=0, atol=0)
    yield Case("masked_scatter_none", "masked_scatter", [a, np.zeros((4, 5), bool), np.zeros((0,), np.float32)], a,
               rtol=0, atol=0)
    yield Case("masked_scatter_bad_mask", "masked_scatter", [a, np.ones((4, 5), np.int32), src], [],
               error="invalid_argument")
    yield Case("masked_scatter_bad_shape", "masked_scatter", [a, np.ones((3, 5), bool), src], [],
               error="invalid_argument")
    big = data(rng, (400, 300), np.float32)
    bm = rng.random((400, 300)) < 0.3
    bs = data(rng, (120000,), np.float32)
    exp = big.copy()
    exp[bm] = bs[: bm.sum()]
    yield Case("masked_scatter_large", "masked_scatter", [big, bm, bs], exp, rtol=0, atol=0)

    # ------------------------------------------------------------ extra dtypes and edge cases
    s0, s1 = np.array(1.5, np.float32), np.array(-2.0, np.float32)
    yield Case("stack_scalars", "stack", [s0, s1], np.stack([s0, s1]), rtol=0, atol=0)
    x = data(rng, (3, 4), np.float32)
    yield Case("concat_single", "concatenate", [Input(x, view="T")], x, params={"axis": 1}, rtol=0, atol=0)
    yield Case("concat_scalar", "concatenate", [s0, s1], [], params={"axis": 0}, error="invalid_argument")
    yield Case("diag_empty", "diag", [np.zeros((0,), np.float32)], np.diag(np.zeros((0,), np.float32)))
    yield Case("diag_empty_k", "diag", [np.zeros((0,), np.float32)], np.diag(np.zeros((0,), np.float32), 2),
               params={"k": 2})
    c = (rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))).astype(np.complex64)
    yield Case("take_complex64", "take", [c, np.array([2, -1], I32)], np.take(c, [2, 3], axis=0),
               params={"axis": 0}, rtol=0, atol=0)
    yield Case("concat_complex64", "concatenate", [c, c], np.concatenate([c, c], 1), params={"axis": 1}, rtol=0, atol=0)
    yield Case("pad_complex64", "pad", [c], np.pad(c, 1), params={"form": "int", "width": 1}, rtol=0, atol=0)
    i64 = rng.integers(-(2 ** 40), 2 ** 40, size=(4, 5)).astype(np.int64)
    yield Case("roll_int64", "roll", [i64], np.roll(i64, 2, 1), params={"shift": 2, "axis": 1}, rtol=0, atol=0)
    idx = np.array([[4, 0], [1, 1], [2, 3], [0, 4]], I32)
    upd = rng.integers(0, 2 ** 40, size=(4, 2)).astype(np.int64)
    exp = i64.copy()
    np.put_along_axis(exp, idx, upd, 1)
    yield Case("put_along_int64", "put_along_axis", [i64, idx, upd], exp, params={"axis": 1}, rtol=0, atol=0)
    u8 = rng.integers(0, 255, size=(6, 4)).astype(np.uint8)
    i = np.array([5, 0, 5], np.int8)
    up = rng.integers(0, 255, size=(3, 1, 4)).astype(np.uint8)
    yield Case("scatter_max_uint8", "scatter", [u8, i, up], scatter_np(u8, [i], up, [0], "max"),
               params={"axis": 0, "mode": "max"}, rtol=0, atol=0)
    yield Case("gather_int8_idx", "gather", [u8, i], gather_np(u8, [i], [0], [1, 4]),
               params={"axis": 0, "slice_sizes": [1, 4]}, rtol=0, atol=0)
    yield Case("tile_scalar", "tile", [s0], np.tile(s0, [2, 3]), params={"reps": [2, 3]}, rtol=0, atol=0)
    yield Case("take_along_empty_axis", "take_along_axis", [np.zeros((3, 0), np.float32), np.zeros((3, 2), I32)],
               [], params={"axis": 1}, error="out_of_range")
    yield Case("take_empty_axis", "take", [np.zeros((3, 0), np.float32), np.zeros((2,), I32)], [],
               params={"axis": 1}, error="out_of_range")
    yield Case("pad_edge_empty_axis", "pad", [np.zeros((0, 2), np.float32)], [],
               params={"form": "int", "width": 1, "mode": "edge"}, error="invalid_argument")
    yield Case("masked_scatter_short_src", "masked_scatter", [x, np.ones((3, 4), bool), np.arange(5, dtype=np.float32)],
               np.concatenate([np.arange(5, dtype=np.float32), x.ravel()[5:]]).reshape(3, 4), rtol=0, atol=0)
