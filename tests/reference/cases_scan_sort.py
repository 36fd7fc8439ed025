"""NumPy reference cases: scans, sorting, partition, topk, searchsorted, softmax."""
import numpy as np

from make_fixtures import Case, Input


def _scan_np(name, x, axis, reverse, inclusive):
    x64 = x.astype(np.float64) if x.dtype.kind == "f" else x
    fn = {"cumsum": np.cumsum, "cumprod": np.cumprod, "cummax": np.maximum.accumulate,
          "cummin": np.minimum.accumulate, "logcumsumexp": np.logaddexp.accumulate}[name]
    if axis is None:
        x64 = x64.reshape(-1)
        axis = 0
    if reverse:
        x64 = np.flip(x64, axis)
    out = fn(x64, axis=axis)
    if not inclusive:
        init = {"cumsum": 0, "cumprod": 1, "logcumsumexp": -np.inf,
                "cummax": -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min,
                "cummin": np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max}[name]
        pad_shape = list(out.shape)
        pad_shape[axis] = 1
        pad = np.full(pad_shape, init, dtype=out.dtype)
        out = np.concatenate([pad, np.take(out, range(out.shape[axis] - 1), axis=axis)], axis=axis)
    if reverse:
        out = np.flip(out, axis)
    return out


SCANS = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def softmax_np(x, axis):
    x = x.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def cases(rng):
    # ---- scans
    for name in SCANS:
        for axis in (0, 1, -1, None):
            for reverse in (False, True):
                for inclusive in (True, False):
                    x = rng.standard_normal((5, 7)).astype(np.float32)
                    if name == "cumprod":
                        x = (1 + 0.1 * x).astype(np.float32)
                    p = {"reverse": reverse, "inclusive": inclusive}
                    if axis is not None:
                        p["axis"] = axis
                    yield Case(f"{name}_ax{axis}_r{int(reverse)}_i{int(inclusive)}", name, [x],
                               _scan_np(name, x, axis, reverse, inclusive).astype(np.float32), params=p,
                               rtol=1e-5, atol=1e-5)
        x = rng.standard_normal((6, 9)).astype(np.float32)
        if name == "cumprod":
            x = (1 + 0.1 * x).astype(np.float32)
        yield Case(f"{name}_transposed", name, [Input(x, view="T")], _scan_np(name, x, 1, False, True).astype(np.float32),
                   params={"axis": 1, "reverse": False, "inclusive": True}, rtol=1e-5, atol=1e-5)
        yield Case(f"{name}_strided", name, [Input(x, view="step2")], _scan_np(name, x, 0, True, True).astype(np.float32),
                   params={"axis": 0, "reverse": True, "inclusive": True}, rtol=1e-5, atol=1e-5)
        x16 = (1 + 0.05 * rng.standard_normal((4, 20))).astype(np.float16)
        yield Case(f"{name}_float16", name, [x16], _scan_np(name, x16, 1, False, True).astype(np.float16),
                   params={"axis": 1, "reverse": False, "inclusive": True}, rtol=1e-2, atol=1e-2, dtype="float16")
        yield Case(f"{name}_bfloat16", name, [Input(x16.astype(np.float32), cast="bfloat16")],
                   _scan_np(name, x16.astype(np.float32), 1, False, True).astype(np.float32),
                   params={"axis": 1, "reverse": False, "inclusive": True}, rtol=3e-2, atol=3e-2, dtype="bfloat16")
        big = (1 + 1e-4 * rng.standard_normal((64, 3000))).astype(np.float32) if name == "cumprod" else \
            rng.standard_normal((64, 3000)).astype(np.float32)
        yield Case(f"{name}_large", name, [big], _scan_np(name, big, 1, False, True).astype(np.float32),
                   params={"axis": 1, "reverse": False, "inclusive": True}, rtol=1e-4, atol=1e-3)
        yield Case(f"{name}_bad_axis", name, [x], x, params={"axis": 2}, error="out_of_range")
    xi = rng.integers(-5, 6, size=(4, 9)).astype(np.int32)
    for name in ("cumsum", "cumprod", "cummax", "cummin"):
        yield Case(f"{name}_int32", name, [xi], _scan_np(name, xi, 1, False, True).astype(np.int32),
                   params={"axis": 1}, dtype="int32")
        yield Case(f"{name}_int32_exclusive", name, [xi], _scan_np(name, xi, 0, True, False).astype(np.int32),
                   params={"axis": 0, "reverse": True, "inclusive": False}, dtype="int32")
    xb = rng.integers(0, 2, size=(3, 8)).astype(np.bool_)
    yield Case("cumsum_bool", "cumsum", [xb], np.cumsum(xb, axis=1).astype(np.int32), params={"axis": 1}, dtype="int32")
    xs = np.array([1.0, np.nan, 3.0, -np.inf, 2.0], dtype=np.float32)
    for name in ("cummax", "cummin", "cumsum"):
        yield Case(f"{name}_nan", name, [xs], _scan_np(name, xs, 0, False, True).astype(np.float32), params={"axis": 0})
    xl = np.array([-np.inf, -np.inf, 0.0, np.inf, 1.0], dtype=np.float32)
    yield Case("logcumsumexp_inf", "logcumsumexp", [xl], np.logaddexp.accumulate(xl), params={"axis": 0})

    # ---- sort / argsort
    for dt in (np.float32, np.float16, np.int32, np.uint8):
        for axis in (0, 1, -1):
            x = (rng.standard_normal((6, 11)) * 10).astype(dt)
            yield Case(f"sort_{np.dtype(dt).name}_ax{axis}", "sort", [x], np.sort(x, axis=axis, kind="stable"),
                       params={"axis": axis}, rtol=0, atol=0)
            yield Case(f"argsort_{np.dtype(dt).name}_ax{axis}", "argsort", [x],
                       np.argsort(x, axis=axis, kind="stable").astype(np.uint32), params={"axis": axis}, rtol=0, atol=0,
                       dtype="uint32")
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    yield Case("sort_flat", "sort", [x], np.sort(x.reshape(-1)), rtol=0, atol=0)
    yield Case("argsort_flat", "argsort", [x], np.argsort(x.reshape(-1), kind="stable").astype(np.uint32), rtol=0, atol=0)
    yield Case("sort_3d_ax1", "sort", [x], np.sort(x, axis=1), params={"axis": 1}, rtol=0, atol=0)
    xt = rng.standard_normal((7, 9)).astype(np.float32)
    yield Case("sort_transposed", "sort", [Input(xt, view="T")], np.sort(xt, axis=1), params={"axis": 1}, rtol=0, atol=0)
    yield Case("argsort_strided", "argsort", [Input(xt, view="step2")],
               np.argsort(xt, axis=0, kind="stable").astype(np.uint32), params={"axis": 0}, rtol=0, atol=0)
    xd = rng.integers(0, 4, size=(5, 40)).astype(np.float32)  # many ties: stability
    yield Case("argsort_ties_stable", "argsort", [xd], np.argsort(xd, axis=1, kind="stable").astype(np.uint32),
               params={"axis": 1}, rtol=0, atol=0)
    xn = np.array([3.0, np.nan, -1.0, np.inf, np.nan, -np.inf, 0.0], dtype=np.float32)
    yield Case("sort_nan_last", "sort", [xn], np.sort(xn), params={"axis": 0}, rtol=0, atol=0)
    yield Case("argsort_nan_last", "argsort", [xn], np.argsort(xn, kind="stable").astype(np.uint32),
               params={"axis": 0}, rtol=0, atol=0)
    xb16 = rng.standard_normal((3, 17)).astype(np.float32)
    xb16r = xb16.astype(np.float16).astype(np.float32)  # values exactly representable in bf16? use coarse values
    xb16r = np.round(xb16 * 8) / 8
    yield Case("sort_bfloat16", "sort", [Input(xb16r.astype(np.float32), cast="bfloat16")], np.sort(xb16r, axis=1),
               params={"axis": 1}, rtol=0, atol=0, dtype="bfloat16")
    big = rng.standard_normal((256, 1000)).astype(np.float32)
    yield Case("sort_large", "sort", [big], np.sort(big, axis=1), params={"axis": 1}, rtol=0, atol=0)
    yield Case("argsort_large", "argsort", [big], np.argsort(big, axis=1, kind="stable").astype(np.uint32),
               params={"axis": 1}, rtol=0, atol=0)
    yield Case("sort_bad_axis", "sort", [big], big, params={"axis": 3}, error="out_of_range")
    yield Case("sort_scalar", "sort", [np.float32(1.0)], np.float32(1.0), params={"axis": 0}, error="invalid_argument")

    # ---- partition: checked as (sorted output, k-th element). The op table sorts the result.
    for kth in (0, 3, -1):
        x = rng.standard_normal((5, 12)).astype(np.float32)
        k = kth % 12
        yield Case(f"partition_k{kth}", "partition_check", [x], [np.sort(x, axis=1), np.sort(x, axis=1)[:, k]],
                   params={"kth": kth, "axis": 1}, rtol=0, atol=0)
        yield Case(f"argpartition_k{kth}", "argpartition_check", [x], [np.sort(x, axis=1), np.sort(x, axis=1)[:, k]],
                   params={"kth": kth, "axis": 1}, rtol=0, atol=0)
    yield Case("partition_bad_kth", "partition_check", [x], [x], params={"kth": 12, "axis": 1}, error="invalid_argument")

    # ---- topk: compared after sorting the result.
    for k in (1, 3, 8):
        x = rng.standard_normal((4, 8, 6)).astype(np.float32)
        for axis in (1, -1):
            if k > x.shape[axis]:
                continue
            want = np.sort(np.take(np.sort(x, axis=axis), range(x.shape[axis] - k, x.shape[axis]), axis=axis), axis=axis)
            yield Case(f"topk_k{k}_ax{axis}", "topk_sorted", [x], want, params={"k": k, "axis": axis}, rtol=0, atol=0)
    x = rng.standard_normal(20).astype(np.float32)
    yield Case("topk_flat", "topk_sorted", [x], np.sort(x)[-5:], params={"k": 5}, rtol=0, atol=0)
    yield Case("topk_bad_k", "topk_sorted", [x], x, params={"k": 21, "axis": 0}, error="invalid_argument")

    # ---- searchsorted
    a = np.sort(rng.integers(0, 20, size=30)).astype(np.float32)
    v = rng.integers(-2, 23, size=(4, 7)).astype(np.float32)
    for right in (False, True):
        yield Case(f"searchsorted_r{int(right)}", "searchsorted", [a, v],
                   np.searchsorted(a, v, side="right" if right else "left").astype(np.uint32),
                   params={"right": right}, rtol=0, atol=0, dtype="uint32")
    ai = np.arange(0, 100, 3).astype(np.int32)
    vi = rng.integers(-5, 105, size=50).astype(np.int32)
    yield Case("searchsorted_int", "searchsorted", [ai, vi], np.searchsorted(ai, vi).astype(np.uint32), rtol=0, atol=0)
    an = np.array([1.0, 2.0, np.nan], dtype=np.float32)
    vn = np.array([np.nan, 1.5, 3.0], dtype=np.float32)
    yield Case("searchsorted_nan", "searchsorted", [an, vn], np.searchsorted(an, vn).astype(np.uint32), rtol=0, atol=0)
    yield Case("searchsorted_2d_error", "searchsorted", [v, v], v, error="invalid_argument")

    # ---- softmax
    for dt, r, at in ((np.float32, 1e-5, 1e-6), (np.float16, 5e-3, 1e-3)):
        for shape, axis in (((8, 33), -1), ((8, 33), 0), ((3, 4, 70), 1), ((5, 1), -1)):
            x = (rng.standard_normal(shape) * 3).astype(dt)
            for precise in (False, True):
                yield Case(f"softmax_{np.dtype(dt).name}_{shape}_ax{axis}_p{int(precise)}", "softmax", [x],
                           softmax_np(x, axis).astype(dt), params={"axis": axis, "precise": precise}, rtol=r, atol=at)
    x = (rng.standard_normal((6, 50)) * 3).astype(np.float32)
    xb = np.round(x * 16) / 16
    yield Case("softmax_bfloat16", "softmax", [Input(xb, cast="bfloat16")], softmax_np(xb, -1).astype(np.float32),
               params={"axis": -1}, rtol=2e-2, atol=4e-3, dtype="bfloat16")
    yield Case("softmax_transposed", "softmax", [Input(x, view="T")], softmax_np(x, -1), params={"axis": -1})
    yield Case("softmax_strided", "softmax", [Input(x, view="step2")], softmax_np(x, -1), params={"axis": -1})
    yield Case("softmax_all_axes", "softmax", [x], softmax_np(x.reshape(-1), 0).reshape(x.shape), rtol=1e-5, atol=1e-7)
    yield Case("softmax_axes_list", "softmax", [x], softmax_np(x, (0, 1)), params={"axes": [0, 1]}, rtol=1e-5, atol=1e-7)
    xs = np.array([[0.0, -np.inf, 1.0], [1000.0, 1000.0, -1000.0]], dtype=np.float32)
    yield Case("softmax_extremes", "softmax", [xs], softmax_np(xs, -1).astype(np.float32), params={"axis": -1})
    xi = rng.integers(-3, 3, size=(3, 5)).astype(np.int32)
    yield Case("softmax_int_promotes", "softmax", [xi], softmax_np(xi, -1).astype(np.float32), params={"axis": -1},
               dtype="float32")
    big = (rng.standard_normal((512, 1024)) * 4).astype(np.float32)
    yield Case("softmax_large", "softmax", [big], softmax_np(big, -1).astype(np.float32), params={"axis": -1},
               rtol=1e-5, atol=1e-7)
    # Over 4 MiB of output the CPU kernel writes with streaming stores; odd rows start unaligned.
    big = (rng.standard_normal((1030, 1031)) * 4).astype(np.float32)
    big[7, ::3] = -np.inf
    yield Case("softmax_large_streamed", "softmax", [big], softmax_np(big, -1).astype(np.float32),
               params={"axis": -1}, rtol=1e-5, atol=1e-7)
    yield Case("softmax_bad_axis", "softmax", [x], x, params={"axis": 2}, error="out_of_range")
