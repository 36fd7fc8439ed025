"""NumPy reference cases: fast::rms_norm, layer_norm, rope and scaled_dot_product_attention.
The CPU backend runs the fused kernels; the reference backend runs the decompositions."""
import numpy as np

from make_fixtures import Case, Input

TOL = {np.float32: (2e-5, 2e-5), np.float16: (1e-2, 1e-2)}
BF16_TOL = (4e-2, 4e-2)


def bf16_round(x):
    # Rounds float32 values to bfloat16 precision (round to nearest even) so the inputs are exact.
    x = np.asarray(x, dtype=np.float32)
    b = x.view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)


def rms_np(x, w, eps):
    x = x.astype(np.float64)
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * (1 if w is None else w.astype(np.float64))


def ln_np(x, w, b, eps):
    x = x.astype(np.float64)
    mu = x.mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def rope_np(x, dims, traditional, base, scale, offset, freqs=None):
    x = x.astype(np.float64)
    L = x.shape[-2]
    h = dims // 2
    inv = 1.0 / freqs.astype(np.float64) if freqs is not None else base ** (-2.0 * np.arange(h) / dims)
    theta = (offset + np.arange(L))[:, None] * scale * inv[None, :]
    c, s = np.cos(theta), np.sin(theta)
    out = x.copy()
    if traditional:
        x1, x2 = x[..., 0:dims:2], x[..., 1:dims:2]
        out[..., 0:dims:2] = x1 * c - x2 * s
        out[..., 1:dims:2] = x1 * s + x2 * c
    else:
        x1, x2 = x[..., :h], x[..., h:dims]
        out[..., :h] = x1 * c - x2 * s
        out[..., h:dims] = x1 * s + x2 * c
    return out


def sdpa_np(q, k, v, scale, causal=False, mask=None, sinks=None):
    q, k, v = (t.astype(np.float64) for t in (q, k, v))
    B, Hq, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    rep = Hq // Hkv
    k = np.repeat(k, rep, axis=1)
    v = np.repeat(v, rep, axis=1)
    s = np.einsum("bhqd,bhkd->bhqk", q, k) * scale
    if mask is not None:
        if mask.dtype == np.bool_:
            s = np.where(mask, s, -np.inf)
        else:
            s = s + mask.astype(np.float64)
    if causal:
        keep = np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq)
        s = np.where(keep, s, -np.inf)
    if sinks is not None:
        sk = np.broadcast_to(sinks.astype(np.float64).reshape(1, Hq, 1, 1), (B, Hq, Lq, 1))
        s = np.concatenate([sk, s], axis=-1)
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    p = p / p.sum(-1, keepdims=True)
    if sinks is not None:
        p = p[..., 1:]
    return p @ v


def cases(rng):
    # ---------------------------------------------------------------- rms_norm
    for dt in (np.float32, np.float16):
        r, a = TOL[dt]
        for shape in ((4, 16), (2, 3, 64), (3, 1000)):
            x = rng.standard_normal(shape).astype(dt)
            w = rng.standard_normal(shape[-1]).astype(dt)
            yield Case(f"rms_norm_{np.dtype(dt).name}_{shape}", "rms_norm", [x, w],
                       rms_np(x, w, 1e-5).astype(dt), params={"eps": 1e-5}, rtol=r, atol=a, dtype=np.dtype(dt).name)
        x = rng.standard_normal((5, 32)).astype(dt)
        yield Case(f"rms_norm_{np.dtype(dt).name}_noweight", "rms_norm", [x], rms_np(x, None, 1e-6).astype(dt),
                   params={"eps": 1e-6}, rtol=r, atol=a)
    x = bf16_round(rng.standard_normal((6, 48)))
    w = bf16_round(rng.standard_normal(48))
    yield Case("rms_norm_bfloat16", "rms_norm", [Input(x, cast="bfloat16"), Input(w, cast="bfloat16")],
               rms_np(x, w, 1e-5).astype(np.float32), params={"eps": 1e-5}, rtol=BF16_TOL[0], atol=BF16_TOL[1],
               dtype="bfloat16")
    x = rng.standard_normal((8, 24)).astype(np.float32)
    yield Case("rms_norm_transposed", "rms_norm", [Input(x, view="T")], rms_np(x, None, 1e-5).astype(np.float32),
               params={"eps": 1e-5}, rtol=2e-5, atol=2e-5)
    w24 = rng.standard_normal(24).astype(np.float32)
    yield Case("rms_norm_strided", "rms_norm", [Input(x, view="step2"), w24], rms_np(x, w24, 1e-5).astype(np.float32),
               params={"eps": 1e-5}, rtol=2e-5, atol=2e-5)
    big = rng.standard_normal((512, 2048)).astype(np.float32)
    wb = rng.standard_normal(2048).astype(np.float32)
    yield Case("rms_norm_large", "rms_norm", [big, wb], rms_np(big, wb, 1e-5).astype(np.float32), params={"eps": 1e-5},
               rtol=1e-4, atol=1e-4)
    yield Case("rms_norm_bad_weight", "rms_norm", [x, np.ones(7, np.float32)], x, params={"eps": 1e-5},
               error="invalid_argument")
    yield Case("rms_norm_bad_weight_ndim", "rms_norm", [x, np.ones((1, 24), np.float32)], x, params={"eps": 1e-5},
               error="invalid_argument")
    yield Case("rms_norm_int_error", "rms_norm", [np.ones((2, 3), np.int32)], np.ones((2, 3)), params={"eps": 1e-5},
               error="invalid_argument")

    # ---------------------------------------------------------------- layer_norm
    for dt in (np.float32, np.float16):
        r, a = TOL[dt]
        for shape in ((4, 16), (2, 3, 64), (3, 1000)):
            x = (rng.standard_normal(shape) * 2 + 1).astype(dt)
            w = rng.standard_normal(shape[-1]).astype(dt)
            b = rng.standard_normal(shape[-1]).astype(dt)
            yield Case(f"layer_norm_{np.dtype(dt).name}_{shape}", "layer_norm", [x, w, b],
                       ln_np(x, w, b, 1e-5).astype(dt), params={"eps": 1e-5, "weight": True, "bias": True},
                       rtol=r, atol=a)
        x = rng.standard_normal((5, 32)).astype(dt)
        w = rng.standard_normal(32).astype(dt)
        yield Case(f"layer_norm_{np.dtype(dt).name}_nobias", "layer_norm", [x, w], ln_np(x, w, None, 1e-5).astype(dt),
                   params={"eps": 1e-5, "weight": True, "bias": False}, rtol=r, atol=a)
        yield Case(f"layer_norm_{np.dtype(dt).name}_bias_only", "layer_norm", [x, w], ln_np(x, None, w, 1e-5).astype(dt),
                   params={"eps": 1e-5, "weight": False, "bias": True}, rtol=r, atol=a)
        yield Case(f"layer_norm_{np.dtype(dt).name}_plain", "layer_norm", [x], ln_np(x, None, None, 1e-5).astype(dt),
                   params={"eps": 1e-5, "weight": False, "bias": False}, rtol=r, atol=a)
    # Over 4 MiB of output the CPU kernel writes with streaming stores; odd rows start unaligned.
    x = (rng.standard_normal((1030, 1031)) * 2 + 1).astype(np.float32)
    w = rng.standard_normal(1031).astype(np.float32)
    b = rng.standard_normal(1031).astype(np.float32)
    yield Case("layer_norm_large_streamed", "layer_norm", [x, w, b], ln_np(x, w, b, 1e-5).astype(np.float32),
               params={"eps": 1e-5, "weight": True, "bias": True}, rtol=1e-4, atol=1e-4)
    x = bf16_round(rng.standard_normal((6, 48)))
    w = bf16_round(rng.standard_normal(48))
    yield Case("layer_norm_bfloat16", "layer_norm", [Input(x, cast="bfloat16"), Input(w, cast="bfloat16")],
               ln_np(x, w, None, 1e-5).astype(np.float32), params={"eps": 1e-5, "weight": True, "bias": False},
               rtol=BF16_TOL[0], atol=BF16_TOL[1], dtype="bfloat16")
    x = rng.standard_normal((8, 24)).astype(np.float32)
    yield Case("layer_norm_transposed", "layer_norm", [Input(x, view="T")], ln_np(x, None, None, 1e-5),
               params={"eps": 1e-5, "weight": False, "bias": False}, rtol=2e-5, atol=2e-5)
    big = rng.standard_normal((512, 2048)).astype(np.float32)
    yield Case("layer_norm_large", "layer_norm", [big, wb, wb], ln_np(big, wb, wb, 1e-5).astype(np.float32),
               params={"eps": 1e-5, "weight": True, "bias": True}, rtol=1e-4, atol=1e-4)
    yield Case("layer_norm_bad_bias", "layer_norm", [x, np.ones(24, np.float32), np.ones(5, np.float32)], x,
               params={"eps": 1e-5, "weight": True, "bias": True}, error="invalid_argument")

    # ---------------------------------------------------------------- rope
    for dt in (np.float32, np.float16):
        r, a = (1e-4, 1e-4) if dt == np.float32 else (1e-2, 1e-2)
        for traditional in (False, True):
            for dims, offset in ((32, 0), (16, 3), (24, 7)):
                x = rng.standard_normal((2, 3, 9, 32)).astype(dt)
                yield Case(f"rope_{np.dtype(dt).name}_t{int(traditional)}_d{dims}_o{offset}", "rope", [x],
                           rope_np(x, dims, traditional, 10000.0, 1.0, offset).astype(dt),
                           params={"dims": dims, "traditional": traditional, "base": 10000.0, "scale": 1.0,
                                   "offset": offset}, rtol=r, atol=a)
    x = rng.standard_normal((1, 2, 5, 16)).astype(np.float32)
    yield Case("rope_scale_base", "rope", [x], rope_np(x, 16, False, 500.0, 0.25, 2),
               params={"dims": 16, "traditional": False, "base": 500.0, "scale": 0.25, "offset": 2}, rtol=1e-4, atol=1e-4)
    yield Case("rope_offset_array", "rope", [x, np.array(11, np.int32)], rope_np(x, 16, True, 10000.0, 1.0, 11),
               params={"dims": 16, "traditional": True, "base": 10000.0, "scale": 1.0, "offset_array": True},
               rtol=1e-4, atol=1e-4)
    freqs = (rng.random(8) * 10 + 1).astype(np.float32)
    for traditional in (False, True):
        yield Case(f"rope_freqs_t{int(traditional)}", "rope", [x, freqs],
                   rope_np(x, 16, traditional, None, 1.0, 4, freqs=freqs),
                   params={"dims": 16, "traditional": traditional, "scale": 1.0, "offset": 4, "freqs": True},
                   rtol=1e-4, atol=1e-4)
    xb = bf16_round(rng.standard_normal((1, 2, 6, 16)))
    yield Case("rope_bfloat16", "rope", [Input(xb, cast="bfloat16")], rope_np(xb, 16, False, 10000.0, 1.0, 1).astype(np.float32),
               params={"dims": 16, "traditional": False, "base": 10000.0, "scale": 1.0, "offset": 1},
               rtol=BF16_TOL[0], atol=BF16_TOL[1], dtype="bfloat16")
    xt = rng.standard_normal((7, 16)).astype(np.float32)
    yield Case("rope_transposed", "rope", [Input(xt, view="T")], rope_np(xt, 8, False, 10000.0, 1.0, 0),
               params={"dims": 8, "traditional": False, "base": 10000.0, "scale": 1.0, "offset": 0}, rtol=1e-4, atol=1e-4)
    big = rng.standard_normal((4, 8, 128, 64)).astype(np.float32)
    yield Case("rope_large", "rope", [big], rope_np(big, 64, False, 10000.0, 1.0, 100),
               params={"dims": 64, "traditional": False, "base": 10000.0, "scale": 1.0, "offset": 100},
               rtol=1e-4, atol=2e-4)
    yield Case("rope_odd_dims", "rope", [x], x, params={"dims": 7, "traditional": False, "base": 10000.0,
                                                     "scale": 1.0, "offset": 0}, error="invalid_argument")
    yield Case("rope_dims_too_big", "rope", [x], x, params={"dims": 32, "traditional": False, "base": 10000.0,
                                                         "scale": 1.0, "offset": 0}, error="invalid_argument")
    yield Case("rope_bad_freqs", "rope", [x, np.ones(3, np.float32)], x,
               params={"dims": 16, "traditional": False, "scale": 1.0, "offset": 0, "freqs": True},
               error="invalid_argument")

    # ---------------------------------------------------------------- attention
    def qkv(B, Hq, Hkv, Lq, Lk, D, dt=np.float32):
        return (rng.standard_normal((B, Hq, Lq, D)).astype(dt), rng.standard_normal((B, Hkv, Lk, D)).astype(dt),
                rng.standard_normal((B, Hkv, Lk, D)).astype(dt))

    # The last three decode with heads narrower than a vector (gathered scores, masked value
    # rows): key counts that end in a partial block, groups of 1-6 query heads, a 12-wide head.
    for (B, Hq, Hkv, Lq, Lk, D) in ((1, 2, 2, 1, 10, 16), (2, 4, 2, 1, 33, 32), (1, 8, 2, 5, 20, 8),
                                    (2, 2, 1, 12, 12, 16), (1, 8, 4, 1, 37, 8), (1, 6, 1, 1, 21, 12),
                                    (2, 5, 5, 1, 3, 4)):
        q, k, v = qkv(B, Hq, Hkv, Lq, Lk, D)
        scale = 1.0 / np.sqrt(D)
        tag = f"{B}_{Hq}_{Hkv}_{Lq}_{Lk}_{D}"
        yield Case(f"sdpa_{tag}", "sdpa", [q, k, v], sdpa_np(q, k, v, scale).astype(np.float32),
                   params={"scale": scale, "mask_mode": ""}, rtol=1e-4, atol=1e-5)
        yield Case(f"sdpa_causal_{tag}", "sdpa", [q, k, v], sdpa_np(q, k, v, scale, causal=True).astype(np.float32),
                   params={"scale": scale, "mask_mode": "causal"}, rtol=1e-4, atol=1e-5)
        bm = rng.random((Lq, Lk)) > 0.3
        bm[:, 0] = True
        yield Case(f"sdpa_boolmask_{tag}", "sdpa", [q, k, v, bm], sdpa_np(q, k, v, scale, mask=bm).astype(np.float32),
                   params={"scale": scale, "mask_mode": "array"}, rtol=1e-4, atol=1e-5)
        am = rng.standard_normal((B, 1, Lq, Lk)).astype(np.float32)
        yield Case(f"sdpa_addmask_{tag}", "sdpa", [q, k, v, am], sdpa_np(q, k, v, scale, mask=am).astype(np.float32),
                   params={"scale": scale, "mask_mode": ""}, rtol=1e-4, atol=1e-5)
        sinks = rng.standard_normal(Hq).astype(np.float32)
        yield Case(f"sdpa_sinks_{tag}", "sdpa", [q, k, v, sinks],
                   sdpa_np(q, k, v, scale, causal=True, sinks=sinks).astype(np.float32),
                   params={"scale": scale, "mask_mode": "causal", "sinks": True}, rtol=1e-4, atol=1e-5)
    q, k, v = qkv(1, 4, 2, 3, 16, 16, np.float16)
    yield Case("sdpa_float16", "sdpa", [q, k, v], sdpa_np(q, k, v, 0.25, causal=True).astype(np.float16),
               params={"scale": 0.25, "mask_mode": "causal"}, rtol=1e-2, atol=1e-2, dtype="float16")
    q, k, v = (bf16_round(t) for t in qkv(1, 2, 1, 2, 16, 8))
    yield Case("sdpa_bfloat16", "sdpa", [Input(q, cast="bfloat16"), Input(k, cast="bfloat16"), Input(v, cast="bfloat16")],
               sdpa_np(q, k, v, 0.3).astype(np.float32), params={"scale": 0.3, "mask_mode": ""},
               rtol=BF16_TOL[0], atol=BF16_TOL[1], dtype="bfloat16")
    q, k, v = qkv(1, 2, 2, 4, 8, 8)
    qT = np.ascontiguousarray(q)
    yield Case("sdpa_transposed_keys", "sdpa", [q, Input(k, view="T"), v], sdpa_np(q, k, v, 0.5).astype(np.float32),
               params={"scale": 0.5, "mask_mode": ""}, rtol=1e-4, atol=1e-5)
    yield Case("sdpa_strided_values", "sdpa", [q, k, Input(v, view="step2")], sdpa_np(q, k, v, 0.5).astype(np.float32),
               params={"scale": 0.5, "mask_mode": ""}, rtol=1e-4, atol=1e-5)
    q, k, v = qkv(2, 8, 2, 1, 512, 64)
    yield Case("sdpa_decode_large", "sdpa", [q, k, v], sdpa_np(q, k, v, 0.125).astype(np.float32),
               params={"scale": 0.125, "mask_mode": ""}, rtol=1e-4, atol=1e-5)
    q, k, v = qkv(1, 4, 4, 64, 64, 32)
    yield Case("sdpa_prefill_causal", "sdpa", [q, k, v], sdpa_np(q, k, v, 0.2, causal=True).astype(np.float32),
               params={"scale": 0.2, "mask_mode": "causal"}, rtol=1e-4, atol=1e-5)
    # Prompt-sized query blocks (the CPU's tiled kernel): GQA with 3 query heads per key head,
    # a ragged last query tile, more keys than queries (a cache holding earlier tokens), key
    # blocks cut short, a head dim that is not whole vectors; every mask kind and sinks.
    q, k, v = qkv(2, 6, 2, 40, 300, 24)
    yield Case("sdpa_tiled_causal", "sdpa", [q, k, v], sdpa_np(q, k, v, 0.2, causal=True).astype(np.float32),
               params={"scale": 0.2, "mask_mode": "causal"}, rtol=1e-4, atol=1e-5)
    bm = rng.random((40, 300)) > 0.4
    bm[:, 290] = True
    bm[3, :256] = False  # whole key blocks masked for one row
    yield Case("sdpa_tiled_boolmask", "sdpa", [q, k, v, bm], sdpa_np(q, k, v, 0.2, mask=bm).astype(np.float32),
               params={"scale": 0.2, "mask_mode": "array"}, rtol=1e-4, atol=1e-5)
    am = rng.standard_normal((2, 1, 40, 300)).astype(np.float32)
    yield Case("sdpa_tiled_addmask", "sdpa", [q, k, v, am], sdpa_np(q, k, v, 0.2, mask=am).astype(np.float32),
               params={"scale": 0.2, "mask_mode": ""}, rtol=1e-4, atol=1e-5)
    sinks = rng.standard_normal(6).astype(np.float32) * 3
    yield Case("sdpa_tiled_sinks", "sdpa", [q, k, v, sinks],
               sdpa_np(q, k, v, 0.2, causal=True, sinks=sinks).astype(np.float32),
               params={"scale": 0.2, "mask_mode": "causal", "sinks": True}, rtol=1e-4, atol=1e-5)
    q, k, v = (bf16_round(t) for t in qkv(1, 4, 1, 33, 70, 64))
    yield Case("sdpa_tiled_bfloat16", "sdpa",
               [Input(q, cast="bfloat16"), Input(k, cast="bfloat16"), Input(v, cast="bfloat16")],
               sdpa_np(q, k, v, 0.125, causal=True).astype(np.float32), params={"scale": 0.125, "mask_mode": "causal"},
               rtol=BF16_TOL[0], atol=BF16_TOL[1], dtype="bfloat16")
    q, k, v = qkv(1, 2, 2, 20, 20, 16, np.float16)
    yield Case("sdpa_tiled_float16", "sdpa", [q, k, v], sdpa_np(q, k, v, 0.25, causal=True).astype(np.float16),
               params={"scale": 0.25, "mask_mode": "causal"}, rtol=1e-2, atol=1e-2, dtype="float16")
    # Decoding over long key ranges (the CPU kernel splits them across threads and merges), with
    # GQA, sinks, masks that blank whole key blocks, 16-bit keys/values and head dims that are not
    # a multiple of the vector width.
    q, k, v = qkv(1, 4, 1, 1, 700, 40)
    sinks = rng.standard_normal(4).astype(np.float32)
    yield Case("sdpa_decode_split_sinks", "sdpa", [q, k, v, sinks],
               sdpa_np(q, k, v, 0.15, causal=True, sinks=sinks).astype(np.float32),
               params={"scale": 0.15, "mask_mode": "causal", "sinks": True}, rtol=1e-4, atol=1e-5)
    bm = rng.random((1, 700)) > 0.5
    bm[:, :300] = False
    yield Case("sdpa_decode_split_boolmask", "sdpa", [q, k, v, bm], sdpa_np(q, k, v, 0.15, mask=bm).astype(np.float32),
               params={"scale": 0.15, "mask_mode": "array"}, rtol=1e-4, atol=1e-5)
    q, k, v = (bf16_round(t) for t in qkv(1, 4, 2, 1, 300, 24))
    yield Case("sdpa_decode_bfloat16", "sdpa",
               [Input(q, cast="bfloat16"), Input(k, cast="bfloat16"), Input(v, cast="bfloat16")],
               sdpa_np(q, k, v, 0.2).astype(np.float32), params={"scale": 0.2, "mask_mode": ""},
               rtol=BF16_TOL[0], atol=BF16_TOL[1], dtype="bfloat16")
    q, k, v = qkv(1, 4, 2, 1, 300, 24, np.float16)
    yield Case("sdpa_decode_float16", "sdpa", [q, k, v], sdpa_np(q, k, v, 0.2).astype(np.float16),
               params={"scale": 0.2, "mask_mode": ""}, rtol=1e-2, atol=1e-2, dtype="float16")
    q, k, v = qkv(1, 3, 2, 1, 4, 8)
    yield Case("sdpa_bad_heads", "sdpa", [q, k, v], q, params={"scale": 1.0, "mask_mode": ""}, error="invalid_argument")
    q, k, v = qkv(1, 2, 2, 2, 4, 8)
    yield Case("sdpa_bad_mask_mode", "sdpa", [q, k, v], q, params={"scale": 1.0, "mask_mode": "nope"},
               error="invalid_argument")
    yield Case("sdpa_bad_mask_shape", "sdpa", [q, k, v, np.ones((3, 4), np.bool_)], q,
               params={"scale": 1.0, "mask_mode": "array"}, error="invalid_argument")
    yield Case("sdpa_3d_error", "sdpa", [q[0], k[0], v[0]], q, params={"scale": 1.0, "mask_mode": ""},
               error="invalid_argument")
    yield Case("sdpa_bad_sinks", "sdpa", [q, k, v, np.ones(5, np.float32)], q,
               params={"scale": 1.0, "mask_mode": "", "sinks": True}, error="invalid_argument")
