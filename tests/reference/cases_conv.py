"""NumPy reference cases: conv1d/2d/3d, conv_general and conv_transpose1d/2d/3d (MLX semantics,
channels-last: input [N, spatial..., C_in], weight [C_out, kernel..., C_in / groups]).

conv_np follows the definition directly: dilate the input, pad it (negative padding crops),
then for every kernel offset take the strided window and contract the channels group by group.
The transposed convolutions use an independent scatter-add definition (conv_transpose_np)."""
import itertools

import numpy as np

from make_fixtures import Case, Input

BF16_TOL = (3e-2, 3e-2)


def bf16_round(x):
    # Rounds float32 values to bfloat16 precision (round to nearest even) so the inputs are exact.
    x = np.asarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)


def conv_np(x, w, stride=None, lo=None, hi=None, kdil=None, idil=None, groups=1, flip=False):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    D = x.ndim - 2
    stride = stride or [1] * D
    lo = lo or [0] * D
    hi = hi or [0] * D
    kdil = kdil or [1] * D
    idil = idil or [1] * D
    N, c_in, c_out = x.shape[0], x.shape[-1], w.shape[0]
    cig, cog = c_in // groups, c_out // groups
    # Input dilation: idil - 1 zeros between neighbours.
    dshape = [N] + [(L - 1) * s + 1 if L > 0 else 0 for L, s in zip(x.shape[1:-1], idil)] + [c_in]
    xd = np.zeros(dshape)
    xd[(slice(None),) + tuple(slice(None, None, s) for s in idil)] = x
    # Padding; negative amounts crop.
    xp = np.pad(xd, [(0, 0)] + [(max(a, 0), max(b, 0)) for a, b in zip(lo, hi)] + [(0, 0)])
    xp = xp[(slice(None),) + tuple(slice(max(-a, 0), xp.shape[1 + i] - max(-b, 0))
                                   for i, (a, b) in enumerate(zip(lo, hi)))]
    if flip:
        w = w[(slice(None),) + (slice(None, None, -1),) * D]
    K = w.shape[1:-1]
    O = [(xp.shape[1 + d] - ((K[d] - 1) * kdil[d] + 1)) // stride[d] + 1 for d in range(D)]
    out = np.zeros([N] + O + [c_out])
    for k in itertools.product(*[range(n) for n in K]):
        win = xp[(slice(None),) + tuple(slice(k[d] * kdil[d], k[d] * kdil[d] + (O[d] - 1) * stride[d] + 1, stride[d])
                                        for d in range(D))]
        for g in range(groups):
            wk = w[(slice(g * cog, (g + 1) * cog),) + k]  # [cog, cig]
            out[..., g * cog:(g + 1) * cog] += np.einsum("...c,oc->...o", win[..., g * cig:(g + 1) * cig], wk)
    return out


def conv_transpose_np(x, w, stride, padding, dilation, output_padding, groups=1):
    """Scatter-add definition: input position i with kernel tap j adds x[i] * w[j] at output
    position i * stride - padding + j * dilation."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    D = x.ndim - 2
    N, c_in, c_out = x.shape[0], x.shape[-1], w.shape[0]
    cig, cog = c_in // groups, c_out // groups
    L, K = x.shape[1:-1], w.shape[1:-1]
    full = [(L[d] - 1) * stride[d] + (K[d] - 1) * dilation[d] + 1 + output_padding[d] for d in range(D)]
    buf = np.zeros([N] + full + [c_out])
    for j in itertools.product(*[range(n) for n in K]):
        dst = (slice(None),) + tuple(slice(j[d] * dilation[d], j[d] * dilation[d] + (L[d] - 1) * stride[d] + 1,
                                           stride[d]) for d in range(D))
        for g in range(groups):
            wj = w[(slice(g * cog, (g + 1) * cog),) + j]  # [cog, cig]
            buf[dst + (slice(g * cog, (g + 1) * cog),)] += np.einsum("...c,oc->...o", x[..., g * cig:(g + 1) * cig], wj)
    O = [(L[d] - 1) * stride[d] - 2 * padding[d] + (K[d] - 1) * dilation[d] + output_padding[d] + 1 for d in range(D)]
    return buf[(slice(None),) + tuple(slice(padding[d], padding[d] + O[d]) for d in range(D))]


def f32_tol(w):
    kc = int(np.prod(w.shape[1:]))
    return 2e-5, 2e-6 * kc


def cases(rng):
    def rand(*shape, dtype=np.float32):
        return rng.standard_normal(shape).astype(dtype)

    # ---------------------------------------------------------------- conv1d
    c1 = [
        # name, x shape, w shape, stride, padding, dilation, groups
        ("basic", (2, 10, 3), (4, 3, 3), 1, 0, 1, 1),
        ("stride2_pad1", (2, 11, 3), (5, 3, 3), 2, 1, 1, 1),
        ("dilation2_pad2", (1, 12, 2), (3, 3, 2), 1, 2, 2, 1),
        ("stride3_dil2", (2, 20, 4), (2, 4, 4), 3, 1, 2, 1),
        ("groups2", (2, 9, 4), (6, 3, 2), 1, 1, 1, 2),
        ("depthwise", (2, 16, 5), (5, 3, 1), 1, 1, 1, 5),
        ("depthwise_mult2", (1, 13, 3), (6, 5, 1), 2, 2, 1, 3),
        ("k1", (3, 7, 6), (4, 1, 6), 1, 0, 1, 1),
        ("k1_stride2", (3, 7, 6), (4, 1, 6), 2, 0, 1, 1),
        ("kernel_eq_input", (2, 5, 3), (4, 5, 3), 1, 0, 1, 1),
    ]
    for name, xs, ws, s, p, d, g in c1:
        x, w = rand(*xs), rand(*ws)
        r, a = f32_tol(w)
        yield Case(f"conv1d_{name}", "conv1d", [x, w], conv_np(x, w, [s], [p], [p], [d], None, g).astype(np.float32),
                   params={"stride": s, "padding": p, "dilation": d, "groups": g}, rtol=r, atol=a, dtype="float32")
    x, w = rand(2, 9, 3, dtype=np.float64), rand(4, 3, 3, dtype=np.float64)
    yield Case("conv1d_float64", "conv1d", [x, w], conv_np(x, w, [2], [1], [1]), params={"stride": 2, "padding": 1},
               rtol=1e-12, atol=1e-12, dtype="float64")

    # ---------------------------------------------------------------- conv2d
    c2 = [
        ("basic", (2, 6, 7, 3), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1),
        ("pad1", (2, 8, 8, 3), (5, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
        ("stride2_pad1", (2, 9, 8, 4), (6, 3, 3, 4), (2, 2), (1, 1), (1, 1), 1),
        ("stride21_pad10", (1, 7, 9, 2), (3, 3, 2, 2), (2, 1), (1, 0), (1, 1), 1),
        ("dilation2", (2, 10, 9, 3), (4, 3, 3, 3), (1, 1), (2, 2), (2, 2), 1),
        ("dilation12_stride2", (1, 11, 12, 2), (3, 2, 3, 2), (2, 2), (0, 1), (1, 2), 1),
        ("groups4", (2, 7, 6, 8), (12, 3, 3, 2), (1, 1), (1, 1), (1, 1), 4),
        ("groups2_stride2", (2, 9, 9, 6), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), 2),
        ("depthwise", (2, 8, 8, 6), (6, 3, 3, 1), (1, 1), (1, 1), (1, 1), 6),
        ("depthwise_stride2", (2, 9, 10, 4), (4, 3, 3, 1), (2, 2), (1, 1), (1, 1), 4),
        ("depthwise_mult3", (1, 7, 7, 2), (6, 3, 3, 1), (1, 1), (0, 0), (2, 1), 2),
        ("pointwise", (2, 5, 6, 8), (7, 1, 1, 8), (1, 1), (0, 0), (1, 1), 1),
        ("pointwise_groups2", (2, 5, 6, 8), (6, 1, 1, 4), (1, 1), (0, 0), (1, 1), 2),
        ("pointwise_stride2_pad1", (2, 5, 6, 8), (7, 1, 1, 8), (2, 2), (1, 1), (1, 1), 1),
        ("rect_kernel", (2, 8, 9, 3), (4, 2, 5, 3), (1, 2), (1, 2), (1, 1), 1),
        ("single_output", (1, 3, 3, 1), (1, 3, 3, 1), (1, 1), (0, 0), (1, 1), 1),
    ]
    for name, xs, ws, s, p, d, g in c2:
        x, w = rand(*xs), rand(*ws)
        r, a = f32_tol(w)
        yield Case(f"conv2d_{name}", "conv2d", [x, w],
                   conv_np(x, w, list(s), list(p), list(p), list(d), None, g).astype(np.float32),
                   params={"stride": list(s), "padding": list(p), "dilation": list(d), "groups": g},
                   rtol=r, atol=a, dtype="float32")

    # 16-bit floats (computed in float32).
    for dt in (np.float16,):
        x, w = rand(2, 7, 8, 4, dtype=dt), rand(6, 3, 3, 4, dtype=dt)
        yield Case("conv2d_float16", "conv2d", [x, w], conv_np(x, w, [1, 1], [1, 1], [1, 1]),
                   params={"padding": [1, 1]}, rtol=1e-2, atol=2e-2, dtype="float16")
        x, w = rand(2, 8, 8, 6, dtype=dt), rand(6, 3, 3, 2, dtype=dt)
        yield Case("conv2d_float16_groups3_stride2", "conv2d", [x, w],
                   conv_np(x, w, [2, 2], [1, 1], [1, 1], None, None, 3),
                   params={"stride": [2, 2], "padding": [1, 1], "groups": 3}, rtol=1e-2, atol=2e-2, dtype="float16")
    x, w = bf16_round(rand(2, 7, 8, 4)), bf16_round(rand(6, 3, 3, 4))
    yield Case("conv2d_bfloat16", "conv2d", [Input(x, cast="bfloat16"), Input(w, cast="bfloat16")],
               conv_np(x, w, [1, 1], [1, 1], [1, 1]).astype(np.float32), params={"padding": [1, 1]},
               rtol=BF16_TOL[0], atol=BF16_TOL[1] * 4, dtype="bfloat16")
    x, w = bf16_round(rand(2, 8, 8, 4)), bf16_round(rand(4, 3, 3, 1))
    yield Case("conv2d_bfloat16_depthwise", "conv2d", [Input(x, cast="bfloat16"), Input(w, cast="bfloat16")],
               conv_np(x, w, [1, 1], [1, 1], [1, 1], None, None, 4).astype(np.float32),
               params={"padding": [1, 1], "groups": 4}, rtol=BF16_TOL[0], atol=BF16_TOL[1], dtype="bfloat16")
    # Mixed dtypes promote (float16 with float32 -> float32).
    x, w = rand(1, 6, 6, 3, dtype=np.float16), rand(2, 3, 3, 3)
    yield Case("conv2d_mixed_f16_f32", "conv2d", [x, w], conv_np(x, w).astype(np.float32), rtol=2e-5, atol=1e-4,
               dtype="float32")

    # Non-contiguous inputs: fully transposed storage and strided channels.
    x, w = rand(2, 7, 6, 5), rand(4, 3, 3, 5)
    r, a = f32_tol(w)
    yield Case("conv2d_transposed_input", "conv2d", [Input(x, view="T"), w],
               conv_np(x, w, [1, 1], [1, 1], [1, 1]).astype(np.float32), params={"padding": [1, 1]}, rtol=r, atol=a)
    yield Case("conv2d_transposed_weight", "conv2d", [x, Input(w, view="T")],
               conv_np(x, w, [2, 1], [0, 1], [0, 1]).astype(np.float32), params={"stride": [2, 1], "padding": [0, 1]},
               rtol=r, atol=a)
    yield Case("conv2d_step2_both", "conv2d", [Input(x, view="step2"), Input(w, view="step2")],
               conv_np(x, w, [1, 1], [1, 1], [1, 1]).astype(np.float32), params={"padding": [1, 1]}, rtol=r, atol=a)
    x, w = rand(2, 6, 6, 8), rand(8, 3, 3, 1)
    yield Case("conv2d_depthwise_transposed_input", "conv2d", [Input(x, view="T"), Input(w, view="T")],
               conv_np(x, w, [1, 1], [1, 1], [1, 1], None, None, 8).astype(np.float32),
               params={"padding": [1, 1], "groups": 8}, rtol=2e-5, atol=1e-5)
    x, w = rand(2, 5, 5, 6), rand(3, 1, 1, 6)
    yield Case("conv2d_pointwise_step2", "conv2d", [Input(x, view="step2"), w], conv_np(x, w).astype(np.float32),
               rtol=2e-5, atol=1e-5)

    # Empty batch.
    x, w = np.zeros((0, 5, 5, 3), np.float32), rand(4, 3, 3, 3)
    yield Case("conv2d_empty_batch", "conv2d", [x, w], np.zeros((0, 5, 5, 4), np.float32), params={"padding": [1, 1]})

    # Larger: threaded im2col and BLAS-sized GEMMs, grouped and depthwise, several scratch tiles.
    x, w = rand(2, 32, 32, 16), rand(32, 3, 3, 16)
    yield Case("conv2d_large_16_32", "conv2d", [x, w], conv_np(x, w, [1, 1], [1, 1], [1, 1]).astype(np.float32),
               params={"padding": [1, 1]}, rtol=1e-4, atol=1e-4)
    x, w = rand(2, 32, 32, 16), rand(32, 3, 3, 4)
    yield Case("conv2d_large_groups4_stride2", "conv2d", [x, w],
               conv_np(x, w, [2, 2], [1, 1], [1, 1], None, None, 4).astype(np.float32),
               params={"stride": [2, 2], "padding": [1, 1], "groups": 4}, rtol=1e-4, atol=1e-4)
    x, w = rand(2, 32, 32, 32), rand(32, 3, 3, 1)
    yield Case("conv2d_large_depthwise", "conv2d", [x, w],
               conv_np(x, w, [1, 1], [1, 1], [1, 1], None, None, 32).astype(np.float32),
               params={"padding": [1, 1], "groups": 32}, rtol=1e-4, atol=1e-5)
    x, w = rand(2, 64, 64, 64), rand(8, 3, 3, 64)
    yield Case("conv2d_large_multi_tile", "conv2d", [x, w], conv_np(x, w, [1, 1], [1, 1], [1, 1]).astype(np.float32),
               params={"padding": [1, 1]}, rtol=1e-4, atol=2e-4)

    # ---------------------------------------------------------------- conv3d
    c3 = [
        ("basic", (1, 5, 6, 7, 2), (3, 3, 2, 2, 2), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1),
        ("stride_pad_dil", (2, 7, 6, 8, 3), (4, 3, 3, 2, 3), (2, 1, 2), (1, 0, 1), (1, 2, 1), 1),
        ("groups2", (1, 5, 5, 5, 4), (6, 3, 3, 3, 2), (1, 1, 1), (1, 1, 1), (1, 1, 1), 2),
        ("depthwise", (1, 6, 5, 4, 3), (3, 3, 3, 3, 1), (1, 2, 1), (1, 1, 1), (1, 1, 1), 3),
        ("pointwise", (2, 3, 4, 5, 6), (5, 1, 1, 1, 6), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1),
    ]
    for name, xs, ws, s, p, d, g in c3:
        x, w = rand(*xs), rand(*ws)
        r, a = f32_tol(w)
        yield Case(f"conv3d_{name}", "conv3d", [x, w],
                   conv_np(x, w, list(s), list(p), list(p), list(d), None, g).astype(np.float32),
                   params={"stride": list(s), "padding": list(p), "dilation": list(d), "groups": g},
                   rtol=r, atol=a, dtype="float32")
    x, w = rand(1, 5, 6, 7, 4), rand(4, 2, 3, 2, 4)
    yield Case("conv3d_transposed_input", "conv3d", [Input(x, view="T"), w],
               conv_np(x, w, [1, 2, 1], [1, 1, 0], [1, 1, 0]).astype(np.float32),
               params={"stride": [1, 2, 1], "padding": [1, 1, 0]}, rtol=2e-5, atol=1e-4)
    x, w = rand(1, 4, 5, 6, 3, dtype=np.float16), rand(2, 2, 2, 2, 3, dtype=np.float16)
    yield Case("conv3d_float16", "conv3d", [x, w], conv_np(x, w), rtol=1e-2, atol=2e-2, dtype="float16")

    # ---------------------------------------------------------------- conv_general
    cg = [
        # name, x, w, stride, lo, hi, kdil, idil, groups, flip
        ("asym_pad", (2, 7, 8, 3), (4, 3, 3, 3), [1, 2], [0, 2], [1, 0], [1, 1], [1, 1], 1, False),
        ("input_dilation", (2, 5, 6, 3), (4, 3, 2, 3), [1, 1], [1, 0], [2, 1], [1, 1], [2, 3], 1, False),
        ("all_params", (2, 6, 5, 4), (6, 3, 3, 2), [2, 1], [2, 1], [0, 3], [2, 1], [2, 2], 2, False),
        ("flip", (2, 7, 8, 3), (4, 3, 2, 3), [1, 1], [1, 1], [1, 1], [1, 1], [1, 1], 1, True),
        ("flip_dilations_groups", (1, 6, 7, 6), (9, 2, 3, 2), [2, 1], [1, 2], [2, 0], [2, 1], [1, 2], 3, True),
        ("negative_padding", (2, 9, 8, 2), (3, 3, 3, 2), [1, 1], [-1, 0], [-2, 1], [1, 1], [1, 1], 1, False),
        ("1d_flip_idil", (2, 7, 3), (4, 3, 3), [1], [2], [2], [1], [3], 1, True),
        ("3d", (1, 4, 5, 3, 2), (3, 2, 2, 2, 2), [1, 2, 1], [1, 0, 1], [0, 1, 1], [1, 1, 2], [2, 1, 1], 1, True),
        ("4d", (1, 3, 4, 3, 4, 2), (2, 2, 2, 2, 2, 2), [1, 1, 1, 2], [0, 1, 0, 1], [1, 0, 0, 0], [1, 1, 2, 1],
         [1, 1, 1, 1], 1, False),
    ]
    for name, xs, ws, s, lo, hi, kd, idl, g, fl in cg:
        x, w = rand(*xs), rand(*ws)
        r, a = f32_tol(w)
        yield Case(f"conv_general_{name}", "conv_general", [x, w],
                   conv_np(x, w, s, lo, hi, kd, idl, g, fl).astype(np.float32),
                   params={"stride": s, "padding_lo": lo, "padding_hi": hi, "kernel_dilation": kd,
                           "input_dilation": idl, "groups": g, "flip": fl}, rtol=r, atol=a, dtype="float32")
    # Single values apply to every spatial dimension; missing ones take the defaults.
    x, w = rand(2, 7, 6, 3), rand(2, 3, 3, 3)
    yield Case("conv_general_scalar_params", "conv_general", [x, w],
               conv_np(x, w, [2, 2], [1, 1], [0, 0], [1, 1], [2, 2]).astype(np.float32),
               params={"stride": [2], "padding_lo": [1], "input_dilation": [2]}, rtol=2e-5, atol=1e-4)
    x, w = rand(2, 6, 6, 4, dtype=np.float16), rand(4, 3, 3, 4, dtype=np.float16)
    yield Case("conv_general_float16_flip_idil", "conv_general", [x, w],
               conv_np(x, w, [1, 1], [2, 2], [2, 2], [1, 1], [2, 2], 1, True),
               params={"padding_lo": [2], "padding_hi": [2], "input_dilation": [2], "flip": True},
               rtol=1e-2, atol=2e-2, dtype="float16")

    # ---------------------------------------------------------------- transposed convolutions
    t1 = [
        # name, x, w, stride, padding, dilation, output_padding, groups
        ("basic", (2, 6, 3), (4, 3, 3), 1, 0, 1, 0, 1),
        ("stride2_pad1", (2, 6, 3), (4, 3, 3), 2, 1, 1, 0, 1),
        ("stride2_outpad1", (2, 5, 3), (2, 3, 3), 2, 1, 1, 1, 1),
        ("stride3_dil2", (1, 5, 2), (3, 3, 2), 3, 2, 2, 2, 1),
        ("groups2", (2, 7, 4), (6, 3, 2), 2, 1, 1, 1, 2),
        ("depthwise", (2, 6, 3), (3, 4, 1), 2, 1, 1, 0, 3),
    ]
    for name, xs, ws, s, p, d, op, g in t1:
        x, w = rand(*xs), rand(*ws)
        r, a = f32_tol(w)
        yield Case(f"conv_transpose1d_{name}", "conv_transpose1d", [x, w],
                   conv_transpose_np(x, w, [s], [p], [d], [op], g).astype(np.float32),
                   params={"stride": s, "padding": p, "dilation": d, "output_padding": op, "groups": g},
                   rtol=r, atol=a, dtype="float32")
    t2 = [
        ("basic", (2, 5, 6, 3), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), (0, 0), 1),
        ("stride2_pad1_outpad1", (2, 5, 4, 3), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), (1, 1), 1),
        ("stride12_dil21", (1, 4, 5, 2), (3, 3, 2, 2), (1, 2), (1, 0), (2, 1), (0, 1), 1),
        ("stride2_k4_pad1", (2, 4, 4, 4), (3, 4, 4, 4), (2, 2), (1, 1), (1, 1), (0, 0), 1),
        ("groups2", (2, 4, 5, 4), (6, 3, 3, 2), (2, 2), (1, 1), (1, 1), (1, 0), 2),
        ("large", (2, 16, 16, 16), (8, 3, 3, 16), (2, 2), (1, 1), (1, 1), (1, 1), 1),
    ]
    for name, xs, ws, s, p, d, op, g in t2:
        x, w = rand(*xs), rand(*ws)
        r, a = f32_tol(w)
        yield Case(f"conv_transpose2d_{name}", "conv_transpose2d", [x, w],
                   conv_transpose_np(x, w, list(s), list(p), list(d), list(op), g).astype(np.float32),
                   params={"stride": list(s), "padding": list(p), "dilation": list(d), "output_padding": list(op),
                           "groups": g}, rtol=r, atol=a, dtype="float32")
    x, w = rand(2, 4, 5, 3, dtype=np.float16), rand(4, 3, 3, 3, dtype=np.float16)
    yield Case("conv_transpose2d_float16", "conv_transpose2d", [x, w],
               conv_transpose_np(x, w, [2, 2], [1, 1], [1, 1], [1, 1]),
               params={"stride": [2, 2], "padding": [1, 1], "output_padding": [1, 1]}, rtol=1e-2, atol=2e-2,
               dtype="float16")
    x, w = bf16_round(rand(2, 4, 5, 3)), bf16_round(rand(4, 3, 3, 3))
    yield Case("conv_transpose2d_bfloat16", "conv_transpose2d", [Input(x, cast="bfloat16"), Input(w, cast="bfloat16")],
               conv_transpose_np(x, w, [2, 1], [1, 1], [1, 1], [0, 0]).astype(np.float32),
               params={"stride": [2, 1], "padding": [1, 1]}, rtol=BF16_TOL[0], atol=BF16_TOL[1] * 4,
               dtype="bfloat16")
    x, w = rand(2, 5, 4, 6), rand(3, 3, 3, 6)
    yield Case("conv_transpose2d_noncontiguous", "conv_transpose2d", [Input(x, view="T"), Input(w, view="step2")],
               conv_transpose_np(x, w, [2, 2], [0, 1], [1, 1], [1, 0]).astype(np.float32),
               params={"stride": [2, 2], "padding": [0, 1], "output_padding": [1, 0]}, rtol=2e-5, atol=1e-4)
    t3 = [
        ("basic", (1, 3, 4, 3, 2), (3, 2, 2, 2, 2), (1, 1, 1), (0, 0, 0), (1, 1, 1), (0, 0, 0), 1),
        ("stride2_outpad", (2, 3, 3, 4, 2), (2, 3, 3, 3, 2), (2, 2, 2), (1, 0, 1), (1, 1, 1), (1, 0, 1), 1),
        ("dil_groups", (1, 3, 4, 3, 4), (4, 2, 3, 2, 2), (1, 2, 1), (1, 1, 0), (2, 1, 1), (0, 1, 0), 2),
    ]
    for name, xs, ws, s, p, d, op, g in t3:
        x, w = rand(*xs), rand(*ws)
        r, a = f32_tol(w)
        yield Case(f"conv_transpose3d_{name}", "conv_transpose3d", [x, w],
                   conv_transpose_np(x, w, list(s), list(p), list(d), list(op), g).astype(np.float32),
                   params={"stride": list(s), "padding": list(p), "dilation": list(d), "output_padding": list(op),
                           "groups": g}, rtol=r, atol=a, dtype="float32")

    # ---------------------------------------------------------------- errors
    x2 = np.ones((2, 6, 6, 4), np.float32)
    err = [
        ("conv2d_channel_mismatch", "conv2d", [x2, np.ones((3, 3, 3, 5), np.float32)], {}),
        ("conv2d_groups_not_dividing_in", "conv2d", [np.ones((2, 6, 6, 6), np.float32),
                                                     np.ones((4, 3, 3, 1), np.float32)], {"groups": 4}),
        ("conv2d_groups_not_dividing_out", "conv2d", [x2, np.ones((3, 3, 3, 2), np.float32)], {"groups": 2}),
        ("conv2d_groups_wrong_weight_channels", "conv2d", [x2, np.ones((4, 3, 3, 4), np.float32)], {"groups": 2}),
        ("conv2d_groups_zero", "conv2d", [x2, np.ones((4, 3, 3, 4), np.float32)], {"groups": 0}),
        ("conv2d_stride_zero", "conv2d", [x2, np.ones((3, 3, 3, 4), np.float32)], {"stride": [0, 1]}),
        ("conv2d_stride_negative", "conv2d", [x2, np.ones((3, 3, 3, 4), np.float32)], {"stride": [1, -2]}),
        ("conv2d_dilation_zero", "conv2d", [x2, np.ones((3, 3, 3, 4), np.float32)], {"dilation": [0, 1]}),
        ("conv2d_output_empty", "conv2d", [x2, np.ones((3, 7, 3, 4), np.float32)], {}),
        ("conv2d_output_empty_dilation", "conv2d", [x2, np.ones((3, 3, 3, 4), np.float32)], {"dilation": [3, 1]}),
        ("conv2d_input_ndim", "conv2d", [np.ones((6, 6, 4), np.float32), np.ones((3, 3, 3, 4), np.float32)], {}),
        ("conv2d_weight_ndim", "conv2d", [x2, np.ones((3, 3, 4), np.float32)], {}),
        ("conv2d_int_rejected", "conv2d", [np.ones((2, 6, 6, 4), np.int32), np.ones((3, 3, 3, 4), np.int32)], {}),
        ("conv1d_input_ndim", "conv1d", [x2, np.ones((3, 3, 4), np.float32)], {}),
        ("conv1d_channel_mismatch", "conv1d", [np.ones((2, 6, 4), np.float32), np.ones((3, 3, 2), np.float32)], {}),
        ("conv3d_input_ndim", "conv3d", [x2, np.ones((3, 3, 3, 3, 4), np.float32)], {}),
        ("conv3d_output_empty", "conv3d", [np.ones((1, 2, 6, 6, 4), np.float32),
                                           np.ones((3, 3, 3, 3, 4), np.float32)], {}),
        ("conv_general_input_dilation_zero", "conv_general", [x2, np.ones((3, 3, 3, 4), np.float32)],
         {"input_dilation": [1, 0]}),
        ("conv_general_param_count", "conv_general", [x2, np.ones((3, 3, 3, 4), np.float32)], {"stride": [1, 1, 1]}),
        ("conv_general_input_ndim", "conv_general", [np.ones((4, 4), np.float32), np.ones((3, 4), np.float32)], {}),
        ("conv_general_crop_too_much", "conv_general", [x2, np.ones((3, 3, 3, 4), np.float32)],
         {"padding_lo": [-2, 0], "padding_hi": [-2, 0]}),
        ("conv_transpose2d_channel_mismatch", "conv_transpose2d", [x2, np.ones((3, 3, 3, 2), np.float32)], {}),
        ("conv_transpose2d_stride_zero", "conv_transpose2d", [x2, np.ones((3, 3, 3, 4), np.float32)],
         {"stride": [0, 1]}),
        ("conv_transpose2d_negative_output_padding", "conv_transpose2d", [x2, np.ones((3, 3, 3, 4), np.float32)],
         {"output_padding": [-1, 0]}),
        ("conv_transpose1d_input_ndim", "conv_transpose1d", [x2, np.ones((3, 3, 4), np.float32)], {}),
        ("conv_transpose3d_output_empty", "conv_transpose3d", [np.ones((1, 1, 2, 2, 4), np.float32),
                                                               np.ones((3, 1, 1, 1, 4), np.float32)],
         {"padding": [1, 0, 0]}),
    ]
    for name, op, inputs, params in err:
        yield Case(f"error_{name}", op, inputs, [], params=params, error="invalid_argument")
