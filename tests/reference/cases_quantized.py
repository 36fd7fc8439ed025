"""NumPy reference cases: MLX-layout affine quantization (quantize, dequantize,
quantized_matmul, gather_qmm). The reference below follows MLX's definition: per group,
delta = max((w_max - w_min) / (2^bits - 1), 1e-7); the edge (w_min or w_max, whichever has the
larger magnitude) is made exactly representable, scale = edge / round(edge / ±delta) and bias =
edge (or scale = ±delta, bias = 0 when that rounds to 0); q = clip(round((w - bias) / scale),
0, 2^bits - 1). Values are packed as a little-endian bit stream into uint32 words along the
last axis. Math is float32, as in MLX."""
import numpy as np

from make_fixtures import Case, Input


def bf16(x):
    """Rounds float32 values to bfloat16 (nearest even), returned as float32."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def quantize_ref(w, gs, bits):
    w32 = np.asarray(w, np.float32)
    K = w32.shape[-1]
    g = w32.reshape(w32.shape[:-1] + (K // gs, gs))
    n_bins = np.float32(2 ** bits - 1)
    wmax = g.max(-1, keepdims=True)
    wmin = g.min(-1, keepdims=True)
    mask = np.abs(wmin) > np.abs(wmax)
    delta = np.maximum((wmax - wmin) / n_bins, np.float32(1e-7)).astype(np.float32)
    scale = np.where(mask, delta, -delta).astype(np.float32)
    edge = np.where(mask, wmin, wmax).astype(np.float32)
    q0 = np.rint(edge / scale).astype(np.float32)
    with np.errstate(all="ignore"):
        scale = np.where(q0 != 0, edge / q0, scale).astype(np.float32)
    bias = np.where(q0 == 0, np.float32(0), edge).astype(np.float32)
    q = np.clip(np.rint((g - bias) / scale), 0, n_bins).astype(np.uint32)
    q = q.reshape(w32.shape)
    return pack(q, bits), scale[..., 0], bias[..., 0]


def pack(q, bits):
    K = q.shape[-1]
    bitsarr = (q[..., :, None] >> np.arange(bits, dtype=np.uint32)) & 1  # [..., K, bits]
    stream = bitsarr.reshape(q.shape[:-1] + (K * bits // 32, 32)).astype(np.uint64)
    return (stream << np.arange(32, dtype=np.uint64)).sum(-1).astype(np.uint32)


def unpack(wq, bits):
    W = wq.shape[-1]
    b = (wq[..., :, None] >> np.arange(32, dtype=np.uint32)) & 1
    b = b.reshape(wq.shape[:-1] + (W * 32 // bits, bits))
    return (b << np.arange(bits, dtype=np.uint32)).sum(-1).astype(np.uint32)


def dequant_ref(wq, scales, biases, gs, bits):
    q = unpack(wq, bits).astype(np.float64)
    K = q.shape[-1]
    g = q.reshape(q.shape[:-1] + (K // gs, gs))
    w = g * np.asarray(scales, np.float64)[..., None] + np.asarray(biases, np.float64)[..., None]
    return w.reshape(q.shape)


def weights(rng, shape, dtype=np.float32):
    w = rng.standard_normal(shape).astype(np.float32)
    # Groups of special shapes: constant, all zero, all positive, near-zero edge.
    flat = w.reshape(-1, shape[-1])
    if flat.shape[0] >= 4 and shape[-1] >= 32:
        flat[0, :32] = 0.5
        flat[1, :32] = 0.0
        flat[2, :32] = np.abs(flat[2, :32]) + 1
        flat[3, :32] = np.linspace(-1e-3, 2.0, 32, dtype=np.float32)
    if dtype == "bfloat16":
        return bf16(w)
    return w.astype(dtype).astype(np.float32) if dtype == np.float16 else w


def cast_scales(sc, dtype):
    if dtype == np.float16:
        return sc.astype(np.float16)
    if dtype == "bfloat16":
        return bf16(sc)
    return sc


def cases(rng):
    # ---- quantize: exact packed words, scales and biases. Group 16 (GGUF k-quant sub-blocks)
    # exists for the widths whose 16 values fill whole words.
    for bits in (2, 3, 4, 5, 6, 8):
        for gs in (16, 32, 64, 128) if bits in (2, 4, 6, 8) else (32, 64, 128):
            w = weights(rng, (6, 256))
            wq, sc, bi = quantize_ref(w, gs, bits)
            yield Case(f"quantize_b{bits}_g{gs}", "quantize", [w], [wq, sc, bi],
                       params={"group_size": gs, "bits": bits}, rtol=0, atol=0,
                       dtype=["uint32", "float32", "float32"])
    w = weights(rng, (2, 3, 128))
    yield Case("quantize_3d", "quantize", [w], list(quantize_ref(w, 64, 4)), params={}, rtol=0, atol=0)
    for dt, name in ((np.float16, "float16"), ("bfloat16", "bfloat16")):
        for bits in (4, 8, 3):
            w = weights(rng, (5, 128), dt)
            wq, sc, bi = quantize_ref(w, 64, bits)
            inp = Input(w.astype(np.float16)) if dt == np.float16 else Input(w, cast="bfloat16")
            yield Case(f"quantize_{name}_b{bits}", "quantize", [inp], [wq, cast_scales(sc, dt), cast_scales(bi, dt)],
                       params={"group_size": 64, "bits": bits}, rtol=0, atol=0, dtype=["uint32", name, name])

    # ---- quantize then dequantize: error within scale / 2 per group (checked here on the
    # reference, and on Tessera through an atol of the largest half-scale).
    for bits in (2, 3, 4, 5, 6, 8):
        for gs in (16, 32, 64, 128) if bits in (2, 4, 6, 8) else (32, 64, 128):
            w = weights(rng, (4, 256))
            wq, sc, bi = quantize_ref(w, gs, bits)
            deq = dequant_ref(wq, sc, bi, gs, bits)
            g = w.astype(np.float64).reshape(4, 256 // gs, gs)
            err = np.abs(g - deq.reshape(g.shape)).max(-1)
            # MLX makes the larger-magnitude endpoint exact; that can shrink the range by up to
            # half a step per level, so values past the far end are clipped: the bound is
            # scale/2 or that shortfall, whichever is larger.
            shortfall = np.maximum((g.max(-1) - g.min(-1)) - (2 ** bits - 1) * np.abs(sc.astype(np.float64)), 0)
            bound = np.maximum(np.abs(sc) / 2, shortfall) * (1 + 1e-5) + 1e-7
            assert np.all(err <= bound), (bits, gs)
            yield Case(f"dequantize_b{bits}_g{gs}", "dequantize", [wq, sc, bi], deq.astype(np.float32),
                       params={"group_size": gs, "bits": bits}, rtol=1e-6, atol=1e-6, dtype="float32")
            yield Case(f"quantize_roundtrip_b{bits}_g{gs}", "quantize_roundtrip", [w], w,
                       params={"group_size": gs, "bits": bits}, rtol=0,
                       atol=float(bound.max() + 1e-6))
    w = weights(rng, (4, 128))
    wq, sc, bi = quantize_ref(w, 64, 4)
    yield Case("dequantize_float16_out", "dequantize", [wq, sc, bi],
               dequant_ref(wq, sc, bi, 64, 4).astype(np.float16), params={"dtype": "float16"},
               rtol=1e-3, atol=1e-3, dtype="float16")

    # ---- quantized_matmul against x @ dequantize(w).T (or @ dequantize(w)).
    for dt, name, tol in ((np.float32, "float32", 2e-4), (np.float16, "float16", 2e-2), ("bfloat16", "bf16", 6e-2)):
        for bits, gs in ((4, 64), (2, 32), (8, 128), (3, 64), (5, 32), (6, 128), (2, 16), (4, 16), (6, 16), (8, 16)):
            for M in (1, 33):
                for transpose in (True, False):
                    K, N = 256, 384
                    wshape = (N, K) if transpose else (K, N)
                    w = weights(rng, wshape, dt)
                    wq, sc, bi = quantize_ref(w, gs, bits)
                    sc, bi = cast_scales(sc, dt), cast_scales(bi, dt)
                    deq = dequant_ref(wq, sc.astype(np.float32), bi.astype(np.float32), gs, bits)
                    x = rng.standard_normal((M, K)).astype(np.float32)
                    if dt == "bfloat16":
                        x = bf16(x)
                        ins = [Input(x, cast="bfloat16"), wq, Input(sc, cast="bfloat16"), Input(bi, cast="bfloat16")]
                    else:
                        x = x.astype(dt)
                        ins = [x, wq, sc, bi]
                    want = x.astype(np.float64) @ (deq.T if transpose else deq)
                    scale = float(np.abs(want).max())
                    yield Case(f"qmm_{name}_b{bits}_g{gs}_M{M}_{'T' if transpose else 'N'}", "quantized_matmul", ins,
                               want.astype(np.float32), params={"group_size": gs, "bits": bits, "transpose": transpose},
                               rtol=tol, atol=tol * scale)
    # Batched x with a 2-D w, a vector x, and batched w.
    K, N = 128, 64
    w = weights(rng, (N, K))
    wq, sc, bi = quantize_ref(w, 64, 4)
    deq = dequant_ref(wq, sc, bi, 64, 4)
    x = rng.standard_normal((2, 3, K)).astype(np.float32)
    yield Case("qmm_batched_x", "quantized_matmul", [x, wq, sc, bi], (x.astype(np.float64) @ deq.T).astype(np.float32),
               params={}, rtol=2e-4, atol=2e-3)
    xv = rng.standard_normal((K,)).astype(np.float32)
    yield Case("qmm_vector_x", "quantized_matmul", [xv, wq, sc, bi], (xv.astype(np.float64) @ deq.T).astype(np.float32),
               params={}, rtol=2e-4, atol=2e-3)
    yield Case("qmm_transposed_x", "quantized_matmul", [Input(x[0], view="T"), wq, sc, bi],
               (x[0].astype(np.float64) @ deq.T).astype(np.float32), params={}, rtol=2e-4, atol=2e-3)
    wb = weights(rng, (3, N, K))
    wqb, scb, bib = quantize_ref(wb, 64, 4)
    deqb = dequant_ref(wqb, scb, bib, 64, 4)
    xb = rng.standard_normal((3, 5, K)).astype(np.float32)
    yield Case("qmm_batched_w", "quantized_matmul", [xb, wqb, scb, bib],
               (xb.astype(np.float64) @ np.swapaxes(deqb, -1, -2)).astype(np.float32), params={}, rtol=2e-4, atol=2e-3)

    # ---- gather_qmm: x[lhs] @ dequantize(w[rhs]).T
    xg = rng.standard_normal((4, 2, K)).astype(np.float32)
    lhs = np.array([0, 3, 1, 1, 2], np.uint32)
    rhs = np.array([2, 0, 1, 2, 0], np.uint32)
    want = np.stack([xg[l].astype(np.float64) @ deqb[r].T for l, r in zip(lhs, rhs)])
    yield Case("gather_qmm_T", "gather_qmm", [xg, wqb, scb, bib, lhs, rhs], want.astype(np.float32), params={},
               rtol=2e-4, atol=2e-3)
    wn = weights(rng, (3, K, N))
    wqn, scn, bin_ = quantize_ref(wn, 32, 8)
    deqn = dequant_ref(wqn, scn, bin_, 32, 8)
    want = np.stack([xg[l].astype(np.float64) @ deqn[r] for l, r in zip(lhs, rhs)])
    yield Case("gather_qmm_N", "gather_qmm", [xg, wqn, scn, bin_, lhs, rhs], want.astype(np.float32),
               params={"transpose": False, "group_size": 32, "bits": 8}, rtol=2e-4, atol=2e-3)

    # ---- errors
    yield Case("quantize_bad_k", "quantize", [np.ones((2, 100), np.float32)], [], params={}, error="invalid_argument")
    yield Case("quantize_bits7", "quantize", [np.ones((2, 128), np.float32)], [], params={"bits": 7},
               error="invalid_argument")
    yield Case("quantize_group8", "quantize", [np.ones((2, 128), np.float32)], [], params={"group_size": 8},
               error="invalid_argument")
    yield Case("quantize_group16_bits3", "quantize", [np.ones((2, 128), np.float32)], [],
               params={"group_size": 16, "bits": 3}, error="invalid_argument")
    yield Case("qmm_w_not_uint32", "quantized_matmul",
               [np.ones((1, 128), np.float32), np.ones((8, 16), np.int32), sc[:8], bi[:8]], [], params={},
               error="invalid_argument")
    yield Case("qmm_scales_biases_mismatch", "quantized_matmul", [x[0], wq, sc, bi[:, :1]], [], params={},
               error="invalid_argument")
    yield Case("qmm_scales_wrong_groups", "quantized_matmul", [x[0], wq, sc, bi], [], params={"group_size": 32},
               error="invalid_argument")
    yield Case("qmm_bad_inner", "quantized_matmul", [np.ones((1, 64), np.float32), wq, sc, bi], [], params={},
               error="invalid_argument")
    yield Case("dequantize_not_uint32", "dequantize", [np.ones((4, 16), np.float32), sc, bi], [], params={},
               error="invalid_argument")
