"""NumPy reference cases: elementwise, reductions, shapes, creation, matmul."""
import numpy as np

from make_fixtures import Case, Input

FLOAT_UNARY = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log2": np.log2, "log10": np.log10,
    "log1p": np.log1p, "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin,
    "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x), "reciprocal": np.reciprocal,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "degrees": np.degrees, "radians": np.radians,
}
NUMERIC_UNARY = {
    "abs": np.abs, "negative": np.negative, "sign": np.sign, "square": np.square,
    "floor": np.floor, "ceil": np.ceil,
}
PRED_UNARY = {"isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
              "isposinf": np.isposinf, "isneginf": np.isneginf, "logical_not": np.logical_not}


def domain(name, rng, shape, dtype):
    x = rng.standard_normal(shape).astype(np.float64) * 3
    if name in ("arcsin", "arccos", "arctanh"):
        x = np.tanh(x) * 0.999
    elif name == "arccosh":
        x = 1 + np.abs(x)
    elif name in ("sinh", "cosh", "exp", "expm1"):
        x = x * 5
    return x.astype(dtype)


def specials(dtype):
    return np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 88.0, 89.0, -104.0, 1e4, 5e4],
                    dtype=dtype)


def tol(dtype):
    return {np.float16: (2e-3, 2e-3), np.float32: (2e-5, 1e-6), np.float64: (1e-12, 1e-12)}[dtype]


def erfinv(y):
    # Newton iterations on math.erf (independent of the library's erfinv).
    import math
    out = np.empty_like(y, dtype=np.float64)
    for i, v in enumerate(np.asarray(y, dtype=np.float64).ravel()):
        if v <= -1 or v >= 1:
            out.ravel()[i] = np.copysign(np.inf, v) if abs(v) == 1 else np.nan
            continue
        x = 0.0
        for _ in range(100):
            err = math.erf(x) - v
            x -= err / (2 / math.sqrt(math.pi) * math.exp(-x * x))
        out.ravel()[i] = x
    return out


def cases(rng):
    # ---- float unary ops over dtypes, layouts, special values and a large threaded size.
    for name, fn in FLOAT_UNARY.items():
        for dt in (np.float32, np.float16, np.float64):
            x = domain(name, rng, (7, 13), dt)
            r, a = tol(dt)
            yield Case(f"{name}_{np.dtype(dt).name}", name, [x], fn(x.astype(np.float64)).astype(dt), rtol=r, atol=a)
        x = domain(name, rng, (5, 9), np.float32)
        yield Case(f"{name}_transposed", name, [Input(x, view="T")], fn(x.astype(np.float64)).astype(np.float32),
                   rtol=2e-5, atol=1e-6)
        yield Case(f"{name}_strided", name, [Input(x, view="step2")], fn(x.astype(np.float64)).astype(np.float32),
                   rtol=2e-5, atol=1e-6)
        sp = specials(np.float32)
        with np.errstate(all="ignore"):
            yield Case(f"{name}_specials", name, [sp], fn(sp.astype(np.float64)).astype(np.float32), rtol=2e-5,
                       atol=1e-6)
        big = domain(name, rng, (300, 1000), np.float32)
        yield Case(f"{name}_large", name, [big], fn(big.astype(np.float64)).astype(np.float32), rtol=2e-5, atol=1e-6)
        xi = (rng.integers(1, 5, size=(4, 6))).astype(np.int32)
        if name not in ("arcsin", "arccos", "arctanh"):
            yield Case(f"{name}_int32_promotes", name, [xi], fn(xi.astype(np.float64)).astype(np.float32),
                       rtol=2e-5, atol=1e-6, dtype="float32")
        xb = domain(name, rng, (3, 50), np.float32)
        xb = (xb.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)  # exactly representable in bf16
        yield Case(f"{name}_bfloat16", name, [Input(xb, cast="bfloat16")], fn(xb.astype(np.float64)).astype(np.float32),
                   rtol=1.6e-2, atol=1e-2, dtype="bfloat16")
    for name in ("erf", "erfinv"):
        import math
        x = domain("arcsin" if name == "erfinv" else name, rng, (6, 11), np.float64)
        ref = np.vectorize(math.erf)(x) if name == "erf" else erfinv(x)
        yield Case(f"{name}_float64", name, [x], ref, rtol=1e-10, atol=1e-12)
        yield Case(f"{name}_float32", name, [x.astype(np.float32)], ref.astype(np.float32), rtol=2e-5, atol=1e-6)
    x = (rng.standard_normal((4, 5)) + 1j * rng.standard_normal((4, 5))).astype(np.complex64)
    for name, fn in (("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("sin", np.sin), ("cos", np.cos),
                     ("tanh", np.tanh), ("abs", np.abs), ("negative", np.negative), ("square", np.square),
                     ("real", np.real), ("imag", np.imag), ("conjugate", np.conjugate)):
        yield Case(f"{name}_complex64", name, [x], fn(x.astype(np.complex128)), rtol=1e-5, atol=1e-5)

    # ---- numeric and predicate unary ops over integer, float and bool dtypes.
    for name, fn in NUMERIC_UNARY.items():
        for dt in (np.float32, np.float64, np.int32, np.int8, np.int64, np.uint8, np.uint32):
            if np.issubdtype(dt, np.unsignedinteger) and name == "negative":
                continue
            x = (rng.standard_normal((6, 7)) * 50).astype(dt)
            yield Case(f"{name}_{np.dtype(dt).name}", name, [x], fn(x), rtol=0, atol=0)
        sp = specials(np.float32)
        yield Case(f"{name}_specials", name, [sp], fn(sp), rtol=0, atol=0)
        xl = rng.standard_normal((1000, 300)).astype(np.float32)
        yield Case(f"{name}_large_T", name, [Input(xl, view="T")], fn(xl), rtol=0, atol=0)
    for name, fn in PRED_UNARY.items():
        sp = specials(np.float32)
        yield Case(f"{name}_specials", name, [sp], fn(sp), dtype="bool", rtol=0, atol=0)
        xi = np.arange(-3, 4, dtype=np.int32)
        yield Case(f"{name}_int", name, [xi], fn(xi), dtype="bool", rtol=0, atol=0)
    yield Case("negative_bool_rejected", "negative", [np.array([True, False])], [], error="invalid_argument")
    yield Case("sign_nan", "sign", [np.array([np.nan, -2.0, 0.0, 3.0], dtype=np.float32)],
               np.sign(np.array([np.nan, -2.0, 0.0, 3.0], dtype=np.float32)), rtol=0, atol=0)
    xi = rng.integers(-100, 100, size=(5, 5)).astype(np.int16)
    yield Case("bitwise_invert_int16", "bitwise_invert", [xi], np.invert(xi), rtol=0, atol=0)
    yield Case("bitwise_invert_float_rejected", "bitwise_invert", [np.ones(3, np.float32)], [], error="invalid_argument")
    for dec in (0, 1, 2, -1):
        x = (rng.standard_normal(20) * 100).astype(np.float32)
        x[:4] = [0.5, 1.5, 2.5, -0.5]
        yield Case(f"round_decimals{dec}", "round", [x], np.round(x.astype(np.float64), dec).astype(np.float32),
                   params={"decimals": dec}, rtol=1e-6, atol=1e-5)

    # ---- binary ops with broadcasting, dtypes and layouts.
    arith = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
             "minimum": np.minimum}
    for name, fn in arith.items():
        for dt in (np.float32, np.float64, np.float16, np.int32, np.int8, np.uint8, np.int64, np.uint64):
            a = (rng.standard_normal((3, 1, 5)) * 20).astype(dt)
            b = (rng.standard_normal((4, 1)) * 20).astype(dt)
            r = 1e-3 if dt == np.float16 else 1e-6
            yield Case(f"{name}_{np.dtype(dt).name}_bcast", name, [a, b], fn(a, b), rtol=r, atol=0)
        a = rng.standard_normal((513, 257)).astype(np.float32)
        b = rng.standard_normal((257, 513)).astype(np.float32)
        yield Case(f"{name}_T_large", name, [a, Input(b.T.copy(), view="T")], fn(a, b.T), rtol=1e-6, atol=0)
        yield Case(f"{name}_scalar_large", name, [a, np.float32(1.5)], fn(a, np.float32(1.5)), rtol=1e-6, atol=0)
        yield Case(f"{name}_strided", name, [Input(a, view="step2"), a], fn(a, a), rtol=1e-6, atol=0)
        sp = specials(np.float32)
        yield Case(f"{name}_specials", name, [sp, sp[::-1].copy()], fn(sp, sp[::-1]), rtol=1e-6, atol=0)
    yield Case("add_bool", "add", [np.array([True, False, True]), np.array([True, False, False])],
               np.array([True, False, True]), dtype="bool", rtol=0, atol=0)
    a = rng.standard_normal((4, 6)).astype(np.float32)
    b = (rng.standard_normal((4, 6)) + 3).astype(np.float32)
    yield Case("divide_f32", "divide", [a, b], a / b, rtol=1e-6, atol=0)
    ai = rng.integers(-20, 20, size=(5, 8)).astype(np.int32)
    bi = rng.integers(1, 7, size=(5, 8)).astype(np.int32) * np.where(rng.random((5, 8)) < 0.5, -1, 1).astype(np.int32)
    yield Case("divide_int_promotes", "divide", [ai, bi], (ai / bi).astype(np.float32), rtol=1e-6, dtype="float32")
    yield Case("floor_divide_int", "floor_divide", [ai, bi], np.floor_divide(ai, bi), rtol=0, atol=0, dtype="int32")
    yield Case("remainder_int", "remainder", [ai, bi], np.remainder(ai, bi), rtol=0, atol=0, dtype="int32")
    af = (rng.standard_normal((5, 8)) * 10).astype(np.float32)
    bf = bi.astype(np.float32) * 1.3
    yield Case("floor_divide_float", "floor_divide", [af, bf], np.floor_divide(af, bf), rtol=1e-6, atol=1e-6)
    yield Case("remainder_float", "remainder", [af, bf], np.remainder(af, bf), rtol=1e-5, atol=1e-5)
    yield Case("power_float", "power", [np.abs(af), bf], np.power(np.abs(af).astype(np.float64), bf).astype(np.float32),
               rtol=1e-5, atol=1e-30)
    base = rng.integers(-4, 5, size=20).astype(np.int32)
    ex = rng.integers(0, 6, size=20).astype(np.int32)
    yield Case("power_int", "power", [base, ex], np.power(base, ex), rtol=0, atol=0)
    yield Case("arctan2", "arctan2", [af, bf], np.arctan2(af, bf), rtol=2e-6, atol=1e-6)
    la = np.array([0.0, 1.0, -np.inf, np.inf, 100.0, -100.0, np.nan], np.float32)
    lb = np.array([0.0, -1.0, -np.inf, 1.0, 99.0, 3.0, 1.0], np.float32)
    yield Case("logaddexp", "logaddexp", [la, lb], np.logaddexp(la, lb), rtol=1e-6, atol=1e-6)
    for name, fn in (("equal", np.equal), ("not_equal", np.not_equal), ("less", np.less), ("less_equal", np.less_equal),
                     ("greater", np.greater), ("greater_equal", np.greater_equal)):
        a = rng.integers(0, 3, size=(3, 4)).astype(np.float32)
        b = rng.integers(0, 3, size=(4,)).astype(np.int32)
        yield Case(f"{name}_mixed", name, [a, b], fn(a, b), dtype="bool", rtol=0, atol=0)
        sp = specials(np.float32)
        yield Case(f"{name}_nan", name, [sp, sp], fn(sp, sp), dtype="bool", rtol=0, atol=0)
    for name, fn in (("logical_and", np.logical_and), ("logical_or", np.logical_or)):
        a = rng.integers(0, 2, size=(5, 3)).astype(np.bool_)
        b = rng.integers(0, 3, size=(3,)).astype(np.int32)
        yield Case(name, name, [a, b], fn(a, b), dtype="bool", rtol=0, atol=0)
    for name, fn in (("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or), ("bitwise_xor", np.bitwise_xor)):
        for dt in (np.int32, np.uint8, np.int64):
            a = rng.integers(0, 100, size=(4, 5)).astype(dt)
            b = rng.integers(0, 100, size=(5,)).astype(dt)
            yield Case(f"{name}_{np.dtype(dt).name}", name, [a, b], fn(a, b), rtol=0, atol=0)
    a = rng.integers(0, 1000, size=10).astype(np.int32)
    s = np.arange(10, dtype=np.int32)
    yield Case("left_shift", "left_shift", [a, s], np.left_shift(a, s), rtol=0, atol=0)
    yield Case("right_shift", "right_shift", [a, s], np.right_shift(a, s), rtol=0, atol=0)
    yield Case("add_shape_mismatch", "add", [np.ones((2, 3), np.float32), np.ones((4,), np.float32)], [],
               error="invalid_argument")
    yield Case("divide_by_zero", "divide", [np.array([1.0, -1.0, 0.0], np.float32), np.zeros(3, np.float32)],
               np.array([np.inf, -np.inf, np.nan], np.float32), rtol=0, atol=0)
    x = rng.standard_normal(10).astype(np.float32)
    y = x + rng.standard_normal(10).astype(np.float32) * 1e-6
    yield Case("isclose", "isclose", [x, y], np.isclose(x, y), dtype="bool", rtol=0, atol=0)
    yield Case("array_equal_true", "array_equal", [x, x], np.array(True), rtol=0, atol=0)
    yield Case("array_equal_nan", "array_equal", [specials(np.float32), specials(np.float32)], np.array(True),
               params={"equal_nan": True}, rtol=0, atol=0)

    # ---- where / clip / nan_to_num / astype
    c = rng.random((3, 4)) < 0.5
    x = rng.standard_normal((3, 1)).astype(np.float32)
    y = rng.integers(0, 5, size=(4,)).astype(np.int32)
    yield Case("where_bcast", "where", [c, x, y], np.where(c, x, y).astype(np.float32), rtol=0, atol=0)
    x = rng.standard_normal((6, 6)).astype(np.float32)
    yield Case("clip", "clip", [x, np.float32(-0.5), np.float32(0.5)], np.clip(x, -0.5, 0.5), rtol=0, atol=0)
    sp = specials(np.float32)
    yield Case("nan_to_num", "nan_to_num", [sp], np.nan_to_num(sp), rtol=0, atol=0)
    for src in (np.float32, np.int32, np.float16, np.uint8, np.bool_, np.float64, np.int64):
        for dst in ("float32", "int32", "float16", "uint8", "bool", "float64", "int8", "uint64", "complex64"):
            x = (rng.standard_normal((4, 5)) * 50).astype(src)
            if dst in ("uint8", "int8", "uint64", "int32") and np.issubdtype(src, np.floating):
                x = np.abs(x) % 100
            ex = x.astype(dst)
            yield Case(f"astype_{np.dtype(src).name}_{dst}", "astype", [Input(x, view="T")], ex,
                       params={"dtype": dst}, dtype=dst, rtol=0, atol=0)
    xb = (rng.standard_normal(100).astype(np.float32).view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    yield Case("astype_bf16_roundtrip", "astype", [Input(xb, cast="bfloat16")], xb, params={"dtype": "float32"},
               rtol=0, atol=0)

    # ---- reductions
    for name, fn in (("sum", np.sum), ("prod", np.prod), ("max", np.max), ("min", np.min), ("mean", np.mean)):
        for shape, axes in (((7, 9), [1]), ((7, 9), [0]), ((3, 4, 5), [0, 2]), ((3, 4, 5), [1]), ((6,), [0]),
                            ((2, 3, 4), [0, 1, 2])):
            x = (rng.standard_normal(shape) * (0.5 if name == "prod" else 3)).astype(np.float32)
            yield Case(f"{name}_{'x'.join(map(str, shape))}_ax{''.join(map(str, axes))}", name, [x],
                       fn(x.astype(np.float64), axis=tuple(axes)), params={"axes": axes}, rtol=1e-5, atol=1e-5)
            yield Case(f"{name}_{'x'.join(map(str, shape))}_ax{''.join(map(str, axes))}_keep", name,
                       [Input(x, view="T")] if len(shape) > 1 else [x],
                       fn(x.astype(np.float64), axis=tuple(axes), keepdims=True),
                       params={"axes": axes, "keepdims": True}, rtol=1e-5, atol=1e-5)
        big = rng.standard_normal((2, 300000)).astype(np.float32) if name != "prod" else \
            (1 + rng.standard_normal((2, 3000)) * 0.001).astype(np.float32)
        yield Case(f"{name}_large_rows", name, [big], fn(big.astype(np.float64), axis=1), params={"axes": [1]},
                   rtol=1e-4, atol=1e-3)
        yield Case(f"{name}_large_cols", name, [big], fn(big.astype(np.float64), axis=0), params={"axes": [0]},
                   rtol=1e-4, atol=1e-3)
        yield Case(f"{name}_all_large", name, [big], fn(big.astype(np.float64)), rtol=1e-4, atol=1e-2)
    xi = rng.integers(-50, 50, size=(5, 6)).astype(np.int32)
    yield Case("sum_int32", "sum", [xi], np.sum(xi, axis=1).astype(np.int32), params={"axes": [1]}, dtype="int32",
               rtol=0, atol=0)
    xb = rng.random((5, 6)) < 0.5
    yield Case("sum_bool", "sum", [xb], np.sum(xb, axis=0).astype(np.int32), params={"axes": [0]}, dtype="int32",
               rtol=0, atol=0)
    xu = rng.integers(0, 200, size=(5, 6)).astype(np.uint8)
    yield Case("max_uint8", "max", [xu], np.max(xu, axis=1), params={"axes": [1]}, dtype="uint8", rtol=0, atol=0)
    xh = rng.standard_normal((8, 100)).astype(np.float16)
    yield Case("sum_float16", "sum", [xh], np.sum(xh.astype(np.float32), axis=1).astype(np.float16),
               params={"axes": [1]}, rtol=2e-3, atol=2e-2)
    sp = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], np.float32)
    for name, fn in (("max", np.max), ("min", np.min), ("sum", np.sum)):
        yield Case(f"{name}_nan", name, [sp], fn(sp, axis=1), params={"axes": [1]}, rtol=0, atol=0)
    for name, fn in (("all", np.all), ("any", np.any)):
        x = rng.random((4, 5, 6)) < 0.8
        yield Case(f"{name}_ax1", name, [x], fn(x, axis=1), params={"axes": [1]}, dtype="bool", rtol=0, atol=0)
        y = rng.standard_normal((4, 5)).astype(np.float32)
        y[0] = 0
        yield Case(f"{name}_float", name, [y], fn(y, axis=1), params={"axes": [1]}, dtype="bool", rtol=0, atol=0)
    empty = np.zeros((0, 3), np.float32)
    yield Case("sum_empty", "sum", [empty], np.sum(empty, axis=0), params={"axes": [0]}, rtol=0, atol=0)
    yield Case("prod_empty", "prod", [empty], np.prod(empty, axis=0), params={"axes": [0]}, rtol=0, atol=0)
    yield Case("max_empty_rejected", "max", [empty], [], params={"axes": [0]}, error="invalid_argument")
    yield Case("sum_bad_axis", "sum", [np.ones((2, 3), np.float32)], [], params={"axes": [2]}, error="out_of_range")
    yield Case("sum_dup_axis", "sum", [np.ones((2, 3), np.float32)], [], params={"axes": [1, -1]},
               error="invalid_argument")
    x = rng.standard_normal((4, 7, 3)).astype(np.float32)
    for ddof in (0, 1):
        yield Case(f"var_ddof{ddof}", "var", [x], np.var(x.astype(np.float64), axis=(0, 2), ddof=ddof),
                   params={"axes": [0, 2], "ddof": ddof}, rtol=1e-5, atol=1e-6)
        yield Case(f"std_ddof{ddof}", "std", [x], np.std(x.astype(np.float64), axis=1, ddof=ddof),
                   params={"axes": [1], "ddof": ddof}, rtol=1e-5, atol=1e-6)
    lx = (rng.standard_normal((5, 40)) * 30).astype(np.float32)
    lx[0, :] = -np.inf
    lx[1, 3] = np.inf
    def lse(v, axis):
        m = np.max(v, axis=axis, keepdims=True)
        m = np.where(np.isinf(m), 0, m)
        return np.squeeze(np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)) + m, axis=axis)
    with np.errstate(all="ignore"):
        yield Case("logsumexp", "logsumexp", [lx], lse(lx.astype(np.float64), 1), params={"axes": [1]}, rtol=1e-5,
                   atol=1e-5)
    cx = rng.integers(0, 3, size=(4, 6)).astype(np.int32)
    yield Case("count_nonzero", "count_nonzero", [cx], np.count_nonzero(cx, axis=1).astype(np.int32),
               params={"axes": [1]}, rtol=0, atol=0)
    ax = rng.integers(0, 5, size=(6, 7, 5)).astype(np.float32)
    for axis in (0, 1, 2, -1):
        yield Case(f"argmax_ax{axis}", "argmax", [ax], np.argmax(ax, axis=axis).astype(np.uint32),
                   params={"axis": axis}, dtype="uint32", rtol=0, atol=0)
        yield Case(f"argmin_ax{axis}_T", "argmin", [Input(ax, view="T")], np.argmin(ax, axis=axis).astype(np.uint32),
                   params={"axis": axis}, dtype="uint32", rtol=0, atol=0)
    yield Case("argmax_nan", "argmax", [np.array([1.0, np.nan, 5.0], np.float32)], np.array(1, np.uint32),
               params={"axis": 0}, rtol=0, atol=0)

    # ---- shapes and views
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    yield Case("reshape_T_copy", "reshape", [Input(x, view="T")], x.reshape(6, 4), params={"shape": [6, 4]},
               rtol=0, atol=0)
    yield Case("reshape_infer", "reshape", [x], x.reshape(-1, 2), params={"shape": [-1, 2]}, rtol=0, atol=0)
    yield Case("reshape_bad", "reshape", [x], [], params={"shape": [5, 5]}, error="invalid_argument")
    yield Case("transpose_axes", "transpose", [x], np.transpose(x, (1, 2, 0)), params={"axes": [1, 2, 0]}, rtol=0,
               atol=0)
    yield Case("transpose_bad_axes", "transpose", [x], [], params={"axes": [0, 0, 1]}, error="invalid_argument")
    yield Case("broadcast_to", "broadcast_to", [x[:, :1, :]], np.broadcast_to(x[:, :1, :], (5, 2, 3, 4)),
               params={"shape": [5, 2, 3, 4]}, rtol=0, atol=0)
    yield Case("broadcast_bad", "broadcast_to", [x], [], params={"shape": [2, 5, 4]}, error="invalid_argument")
    y = rng.standard_normal((10, 12)).astype(np.float32)
    for (st, sp, stp) in (((1, 2), (8, 11), (2, 3)), ((9, 11), (0, 0), (-1, -2)), ((-3, -100), (100, 5), (1, 1)),
                          ((5, 0), (5, 12), (1, 1))):
        sl = tuple(slice(a, b, c) for a, b, c in zip(st, sp, stp))
        yield Case(f"slice_{st}_{sp}_{stp}".replace(" ", ""), "slice", [y], y[sl],
                   params={"start": list(st), "stop": list(sp), "strides": list(stp)}, rtol=0, atol=0)
    yield Case("squeeze", "squeeze", [x[:, :1, :1]], np.squeeze(x[:, :1, :1], axis=(1, 2)), params={"axes": [1, -1]},
               rtol=0, atol=0)
    yield Case("squeeze_bad", "squeeze", [x], [], params={"axes": [0]}, error="invalid_argument")
    yield Case("expand_dims", "expand_dims", [x], np.expand_dims(x, (0, 4)), params={"axes": [0, 4]}, rtol=0, atol=0)
    yield Case("moveaxis", "moveaxis", [x], np.moveaxis(x, 0, -1), params={"source": 0, "destination": -1}, rtol=0,
               atol=0)
    yield Case("swapaxes", "swapaxes", [x], np.swapaxes(x, 0, 2), params={"axis1": 0, "axis2": 2}, rtol=0, atol=0)
    yield Case("flatten_12", "flatten", [x], x.reshape(2, 12), params={"start_axis": 1, "end_axis": 2}, rtol=0, atol=0)
    yield Case("split_equal", "split", [y], np.split(y, 3, axis=1), params={"indices": 3, "axis": 1}, rtol=0, atol=0)
    yield Case("split_indices", "split", [y], np.split(y, [2, 7], axis=0), params={"indices": [2, 7], "axis": 0},
               rtol=0, atol=0)
    yield Case("split_unequal", "split", [y], [], params={"indices": 7, "axis": 0}, error="invalid_argument")

    # ---- creation
    yield Case("arange_f32", "arange", [], np.arange(0.5, 10.0, 0.75, dtype=np.float32),
               params={"start": 0.5, "stop": 10.0, "step": 0.75, "dtype": "float32"}, rtol=1e-6, atol=1e-6)
    yield Case("arange_int_neg", "arange", [], np.arange(10, -5, -3, dtype=np.int32),
               params={"start": 10, "stop": -5, "step": -3, "dtype": "int32"}, rtol=0, atol=0)
    yield Case("arange_zero_step", "arange", [], [], params={"start": 0, "stop": 3, "step": 0, "dtype": "int32"},
               error="invalid_argument")
    yield Case("linspace", "linspace", [], np.linspace(-1, 3, 17, dtype=np.float32),
               params={"start": -1, "stop": 3, "num": 17}, rtol=1e-6, atol=1e-6)
    yield Case("eye", "eye", [], np.eye(4, 6, 1, dtype=np.float32), params={"n": 4, "m": 6, "k": 1}, rtol=0, atol=0)
    yield Case("tril", "tril", [y], np.tril(y, -1), params={"k": -1}, rtol=0, atol=0)
    yield Case("triu", "triu", [y], np.triu(y, 2), params={"k": 2}, rtol=0, atol=0)
    yield Case("full_bcast", "full", [np.arange(3, dtype=np.int32)], np.broadcast_to(np.arange(3, dtype=np.int32), (2, 3)),
               params={"shape": [2, 3]}, rtol=0, atol=0)
    a1 = np.arange(3, dtype=np.float32)
    b1 = np.arange(4, dtype=np.float32) * 2
    yield Case("meshgrid_xy", "meshgrid", [a1, b1], list(np.meshgrid(a1, b1)), rtol=0, atol=0)
    yield Case("meshgrid_ij", "meshgrid", [a1, b1], list(np.meshgrid(a1, b1, indexing="ij")),
               params={"indexing": "ij"}, rtol=0, atol=0)

    # ---- matmul family
    for (sa, sb) in (((5, 7), (7, 3)), ((2, 5, 7), (7, 4)), ((3, 1, 4, 6), (2, 6, 5)), ((7,), (7, 3)), ((4, 7), (7,)),
                     ((7,), (7,)), ((64, 200), (200, 96))):
        a = rng.standard_normal(sa).astype(np.float32)
        b = rng.standard_normal(sb).astype(np.float32)
        yield Case(f"matmul_{sa}_{sb}".replace(" ", ""), "matmul", [a, b], a.astype(np.float64) @ b.astype(np.float64),
                   rtol=1e-4, atol=1e-4)
    a = rng.standard_normal((6, 9)).astype(np.float32)
    b = rng.standard_normal((9, 4)).astype(np.float32)
    yield Case("matmul_T_inputs", "matmul", [Input(a, view="T"), Input(b, view="T")], a @ b,
               rtol=1e-5, atol=1e-5)
    yield Case("matmul_strided", "matmul", [Input(a, view="step2"), b], a @ b, rtol=1e-5, atol=1e-5)
    yield Case("matmul_float64", "matmul", [a.astype(np.float64), b.astype(np.float64)],
               a.astype(np.float64) @ b.astype(np.float64), rtol=1e-12, atol=1e-12)
    yield Case("matmul_float16", "matmul", [a.astype(np.float16), b.astype(np.float16)],
               (a.astype(np.float16).astype(np.float32) @ b.astype(np.float16).astype(np.float32)).astype(np.float16),
               rtol=2e-3, atol=5e-3)
    yield Case("matmul_bf16", "matmul", [Input(a, cast="bfloat16"), Input(b, cast="bfloat16")], a @ b, rtol=3e-2,
               atol=6e-2, dtype="bfloat16")
    yield Case("matmul_mismatch", "matmul", [a, a], [], error="invalid_argument")
    yield Case("matmul_int_rejected", "matmul", [np.ones((2, 2), np.int32), np.ones((2, 2), np.int32)], [],
               error="invalid_argument")
    c = rng.standard_normal((4,)).astype(np.float32)
    yield Case("addmm", "addmm", [c, a, b], 0.5 * (a @ b) + 2.0 * c, params={"alpha": 0.5, "beta": 2.0}, rtol=1e-5,
               atol=1e-5)
    t1 = rng.standard_normal((3, 4, 5)).astype(np.float32)
    t2 = rng.standard_normal((5, 4, 2)).astype(np.float32)
    yield Case("tensordot", "tensordot", [t1, t2], np.tensordot(t1, t2, axes=([1, 2], [1, 0])),
               params={"axes_a": [1, 2], "axes_b": [1, 0]}, rtol=1e-5, atol=1e-5)
    v1 = rng.standard_normal(5).astype(np.float32)
    v2 = rng.standard_normal(3).astype(np.float32)
    yield Case("outer", "outer", [v1, v2], np.outer(v1, v2), rtol=1e-6, atol=1e-6)
    yield Case("inner", "inner", [t1, rng.standard_normal((2, 5)).astype(np.float32)], None, rtol=1e-5, atol=1e-5) \
        if False else Case("inner", "inner", [t1, t1[0]], np.inner(t1, t1[0]), rtol=1e-5, atol=1e-5)
    k1 = rng.standard_normal((2, 3)).astype(np.float32)
    k2 = rng.standard_normal((3, 2)).astype(np.float32)
    yield Case("kron", "kron", [k1, k2], np.kron(k1, k2), rtol=1e-6, atol=1e-6)


def cases_views(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    yield Case("copy_T", "copy", [Input(x, view="T")], x, rtol=0, atol=0)
    base = np.arange(12, dtype=np.float32)
    win = np.lib.stride_tricks.as_strided(base, shape=(5, 4), strides=(8, 4))
    yield Case("as_strided_windows", "as_strided", [base], win.copy(),
               params={"shape": [5, 4], "strides": [2, 1], "offset": 0}, rtol=0, atol=0)
    yield Case("as_strided_offset", "as_strided", [base], base[3:9].reshape(2, 3),
               params={"shape": [2, 3], "strides": [3, 1], "offset": 3}, rtol=0, atol=0)
    yield Case("as_strided_out_of_bounds", "as_strided", [base], [],
               params={"shape": [5, 4], "strides": [3, 1], "offset": 0}, error="invalid_argument")
    yield Case("as_strided_noncontig_input", "as_strided", [Input(x, view="T")],
               np.lib.stride_tricks.as_strided(x.copy(), shape=(3, 2), strides=(24, 4)).copy(),
               params={"shape": [3, 2], "strides": [6, 1], "offset": 0}, rtol=0, atol=0)
    y = rng.integers(-1000, 1000, size=(3, 8)).astype(np.int32)
    yield Case("view_int32_as_float32", "view", [y], y.view(np.float32), params={"dtype": "float32"}, rtol=0, atol=0)
    yield Case("view_int32_as_int16", "view", [y], y.view(np.int16), params={"dtype": "int16"}, rtol=0, atol=0)
    yield Case("view_uint8_as_int32", "view", [y.view(np.uint8)], y, params={"dtype": "int32"}, rtol=0, atol=0)
    yield Case("view_T_as_uint16", "view", [Input(y, view="T")], y.view(np.uint16), params={"dtype": "uint16"},
               rtol=0, atol=0)
    yield Case("view_bad_size", "view", [np.ones((3, 3), np.int8)], [], params={"dtype": "int32"},
               error="invalid_argument")


_cases_main = cases


def cases(rng):  # noqa: F811 - extends the list above
    yield from _cases_main(rng)
    yield from cases_views(rng)
