#!/usr/bin/env python3
"""An independent NumPy implementation of ggml's k-quant blocks (Q2_K-Q6_K, Q8_K) for
tests/gguf_kquants_test.cpp.

Usage: gguf_kquants.py DIR

Reads DIR/cpp.gguf (tensors Tessera's writer quantized, one per type, named after the type in
lower case) and writes
  DIR/py.gguf     tensors "<type>" (known float data quantized here) and "rand_<type>" (blocks of
                  random bits with finite super-block scales, so that every field and bit position
                  is exercised)
  DIR/ref.npz     "x": the float data, "py_<name>": this script's float32 decoding of py.gguf's
                  tensors, "cpp_<type>": its decoding of cpp.gguf's tensors.
The decoders follow the ggml dequantization loops structure by structure, in float32 arithmetic,
so their results are the values ggml computes.
"""
import struct
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(77)  # the test skips, naming NumPy

QK = 256
BLOCK_BYTES = {"q2_k": 84, "q3_k": 110, "q4_k": 144, "q5_k": 176, "q6_k": 210, "q8_k": 292}
TYPE_IDS = {"q2_k": 10, "q3_k": 11, "q4_k": 12, "q5_k": 13, "q6_k": 14, "q8_k": 15}
TYPE_NAMES = {v: k for k, v in TYPE_IDS.items()}
F32 = np.float32


def half(raw):
    """float16 bytes [..., 2] -> float32."""
    return np.ascontiguousarray(raw).view("<f2")[..., 0].astype(F32)


def to_half_bytes(v):
    return np.asarray(v, F32).astype("<f2").view(np.uint8).reshape(np.shape(v) + (2,))


# ------------------------------------------------------------------ decoders (ggml's loops)

def decode(name, blocks):
    """blocks: uint8 [nb, bytes] -> float32 [nb, 256]."""
    nb = blocks.shape[0]
    y = np.zeros((nb, QK), F32)
    if name == "q2_k":
        scales, qs = blocks[:, 0:16], blocks[:, 16:80]
        d, dmin = half(blocks[:, 80:82]), half(blocks[:, 82:84])
        out = 0
        is_ = 0
        for n in range(2):
            q = qs[:, 32 * n: 32 * n + 32]
            for shift in (0, 2, 4, 6):
                for half_ in range(2):
                    sc = scales[:, is_]
                    is_ += 1
                    dl = d * (sc & 0xF).astype(F32)
                    ml = dmin * (sc >> 4).astype(F32)
                    vals = ((q[:, 16 * half_: 16 * half_ + 16] >> shift) & 3).astype(F32)
                    y[:, out: out + 16] = dl[:, None] * vals - ml[:, None]
                    out += 16
        return y
    if name == "q3_k":
        hmask, qs, raw_sc = blocks[:, 0:32], blocks[:, 32:96], blocks[:, 96:108]
        d = half(blocks[:, 108:110])
        # The 12 scale bytes as three little-endian words, rearranged into 16 bytes (4 words).
        aux = np.ascontiguousarray(raw_sc).view("<u4").copy()
        k1, k2 = np.uint32(0x03030303), np.uint32(0x0F0F0F0F)
        tmp = aux[:, 2].copy()
        a0, a1 = aux[:, 0].copy(), aux[:, 1].copy()
        words = np.stack([
            (a0 & k2) | (((tmp >> 0) & k1) << 4),
            (a1 & k2) | (((tmp >> 2) & k1) << 4),
            ((a0 >> 4) & k2) | (((tmp >> 4) & k1) << 4),
            ((a1 >> 4) & k2) | (((tmp >> 6) & k1) << 4),
        ], axis=1).astype("<u4")
        scales = np.ascontiguousarray(words).view(np.int8).reshape(nb, 16)
        out = 0
        is_ = 0
        m = 1
        for n in range(2):
            q = qs[:, 32 * n: 32 * n + 32]
            for shift in (0, 2, 4, 6):
                for half_ in range(2):
                    dl = d * (scales[:, is_].astype(F32) - F32(32))
                    is_ += 1
                    part = slice(16 * half_, 16 * half_ + 16)
                    low = ((q[:, part] >> shift) & 3).astype(np.int8)
                    sub = np.where((hmask[:, part] & m) != 0, 0, 4).astype(np.int8)
                    y[:, out: out + 16] = dl[:, None] * (low - sub).astype(F32)
                    out += 16
                m <<= 1
        return y
    if name in ("q4_k", "q5_k"):
        five = name == "q5_k"
        d, dmin = half(blocks[:, 0:2]), half(blocks[:, 2:4])
        sc = blocks[:, 4:16]
        qh = blocks[:, 16:48] if five else None
        ql = blocks[:, 48:176] if five else blocks[:, 16:144]

        def scale_min(j):
            if j < 4:
                return sc[:, j] & 63, sc[:, j + 4] & 63
            return ((sc[:, j + 4] & 0xF) | ((sc[:, j - 4] >> 6) << 4),
                    (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4))

        u1, u2 = 1, 2
        for j in range(4):
            s1, m1 = scale_min(2 * j)
            s2, m2 = scale_min(2 * j + 1)
            d1, mm1 = d * s1.astype(F32), dmin * m1.astype(F32)
            d2, mm2 = d * s2.astype(F32), dmin * m2.astype(F32)
            q = ql[:, 32 * j: 32 * j + 32]
            lo = (q & 0xF).astype(F32)
            hi = (q >> 4).astype(F32)
            if five:
                lo = lo + np.where((qh & u1) != 0, 16, 0).astype(F32)
                hi = hi + np.where((qh & u2) != 0, 16, 0).astype(F32)
                u1 <<= 2
                u2 <<= 2
            y[:, 64 * j: 64 * j + 32] = d1[:, None] * lo - mm1[:, None]
            y[:, 64 * j + 32: 64 * j + 64] = d2[:, None] * hi - mm2[:, None]
        return y
    if name == "q6_k":
        ql, qh = blocks[:, 0:128], blocks[:, 128:192]
        sc = blocks[:, 192:208].view(np.int8)
        d = half(blocks[:, 208:210])
        for n in range(2):
            l_ = ql[:, 64 * n: 64 * n + 64]
            h_ = qh[:, 32 * n: 32 * n + 32]
            s_ = sc[:, 8 * n: 8 * n + 8]
            base = 128 * n
            for l in range(32):
                is_ = l // 16
                q1 = ((l_[:, l] & 0xF) | (((h_[:, l] >> 0) & 3) << 4)).astype(np.int8) - 32
                q2 = ((l_[:, l + 32] & 0xF) | (((h_[:, l] >> 2) & 3) << 4)).astype(np.int8) - 32
                q3 = ((l_[:, l] >> 4) | (((h_[:, l] >> 4) & 3) << 4)).astype(np.int8) - 32
                q4 = ((l_[:, l + 32] >> 4) | (((h_[:, l] >> 6) & 3) << 4)).astype(np.int8) - 32
                y[:, base + l] = d * s_[:, is_ + 0].astype(F32) * q1.astype(F32)
                y[:, base + l + 32] = d * s_[:, is_ + 2].astype(F32) * q2.astype(F32)
                y[:, base + l + 64] = d * s_[:, is_ + 4].astype(F32) * q3.astype(F32)
                y[:, base + l + 96] = d * s_[:, is_ + 6].astype(F32) * q4.astype(F32)
        return y
    if name == "q8_k":
        d = np.ascontiguousarray(blocks[:, 0:4]).view("<f4")[:, 0]
        q = blocks[:, 4:260].view(np.int8).astype(F32)
        return d[:, None] * q
    raise ValueError(name)


# ------------------------------------------------------------------ encoders

def nearest(v, lo, hi):
    return np.clip(np.rint(np.nan_to_num(v)), lo, hi).astype(np.int32)


def encode(name, x):
    """x: float32 [nb, 256] -> uint8 [nb, bytes]. Scales come from each sub-block's min/max or
    largest magnitude (signs kept where the format has signed scales)."""
    nb = x.shape[0]
    out = np.zeros((nb, BLOCK_BYTES[name]), np.uint8)
    if name in ("q2_k", "q4_k", "q5_k"):
        sub = 16 if name == "q2_k" else 32
        nmax = {"q2_k": 3, "q4_k": 15, "q5_k": 31}[name]
        smax = 15 if name == "q2_k" else 63
        g = x.reshape(nb, QK // sub, sub)
        lo = np.minimum(g.min(-1), 0)
        hi = np.maximum(g.max(-1), 0)
        scale = (hi - lo) / nmax
        mins = -lo
        d = (scale.max(-1) / smax).astype(np.float16).astype(F32)
        dmin = (mins.max(-1) / smax).astype(np.float16).astype(F32)
        with np.errstate(divide="ignore", invalid="ignore"):
            sc = np.where(d[:, None] > 0, nearest(scale / d[:, None], 0, smax), 0)
            mq = np.where(dmin[:, None] > 0, nearest(mins / dmin[:, None], 0, smax), 0)
            es = (d[:, None] * sc).astype(F32)
            em = (dmin[:, None] * mq).astype(F32)
            q = np.where(es[:, :, None] > 0, nearest((g + em[:, :, None]) / es[:, :, None], 0, nmax), 0)
        q = q.reshape(nb, QK)
        if name == "q2_k":
            out[:, 0:16] = sc | (mq << 4)
            for v in range(QK):
                n, r = divmod(v, 128)
                j, l = divmod(r, 32)
                out[:, 16 + 32 * n + l] |= (q[:, v] << (2 * j)).astype(np.uint8)
            out[:, 80:82] = to_half_bytes(d)
            out[:, 82:84] = to_half_bytes(dmin)
            return out
        out[:, 0:2] = to_half_bytes(d)
        out[:, 2:4] = to_half_bytes(dmin)
        for j in range(8):
            if j < 4:
                out[:, 4 + j] |= sc[:, j].astype(np.uint8)
                out[:, 4 + j + 4] |= mq[:, j].astype(np.uint8)
            else:
                out[:, 4 + j + 4] |= ((sc[:, j] & 0xF) | ((mq[:, j] & 0xF) << 4)).astype(np.uint8)
                out[:, 4 + j - 4] |= ((sc[:, j] >> 4) << 6).astype(np.uint8)
                out[:, 4 + j] |= ((mq[:, j] >> 4) << 6).astype(np.uint8)
        qs0 = 48 if name == "q5_k" else 16
        for v in range(QK):
            p, r = divmod(v, 64)
            hi_nib, l = divmod(r, 32)
            out[:, qs0 + 32 * p + l] |= ((q[:, v] & 0xF) << (4 * hi_nib)).astype(np.uint8)
            if name == "q5_k":
                out[:, 16 + l] |= ((q[:, v] >> 4) << (2 * p + hi_nib)).astype(np.uint8)
        return out
    if name in ("q3_k", "q6_k"):
        qmin, qmax, smin, smax = (-4, 3, -32, 31) if name == "q3_k" else (-32, 31, -128, 127)
        g = x.reshape(nb, 16, 16)
        idx = np.abs(g).argmax(-1)
        big = np.take_along_axis(g, idx[..., None], -1)[..., 0]
        s = big / qmin
        sidx = np.abs(s).argmax(-1)
        d = (np.take_along_axis(s, sidx[:, None], -1)[:, 0] / smin).astype(np.float16).astype(F32)
        with np.errstate(divide="ignore", invalid="ignore"):
            sc = np.where(d[:, None] != 0, nearest(s / d[:, None], smin, smax), 0)
            es = (d[:, None] * sc).astype(F32)
            q = np.where(es[:, :, None] != 0, nearest(g / es[:, :, None], qmin, qmax), 0)
        code = (q - qmin).reshape(nb, QK)
        if name == "q3_k":
            for v in range(QK):
                n, r = divmod(v, 128)
                j, l = divmod(r, 32)
                out[:, 32 + 32 * n + l] |= ((code[:, v] & 3) << (2 * j)).astype(np.uint8)
                out[:, l] |= ((code[:, v] >> 2) << (4 * n + j)).astype(np.uint8)
            u = sc + 32
            for j in range(16):
                lowpos = 96 + (j % 8)
                out[:, lowpos] |= ((u[:, j] & 0xF) << (4 * (j // 8))).astype(np.uint8)
                out[:, 96 + 8 + j % 4] |= ((u[:, j] >> 4) << (2 * (j // 4))).astype(np.uint8)
            out[:, 108:110] = to_half_bytes(d)
            return out
        for v in range(QK):
            n, r = divmod(v, 128)
            j, l = divmod(r, 32)
            out[:, 64 * n + 32 * (j % 2) + l] |= ((code[:, v] & 0xF) << (4 * (j // 2))).astype(np.uint8)
            out[:, 128 + 32 * n + l] |= ((code[:, v] >> 4) << (2 * j)).astype(np.uint8)
        out[:, 192:208] = sc.astype(np.int8).view(np.uint8)
        out[:, 208:210] = to_half_bytes(d)
        return out
    if name == "q8_k":
        amax = np.abs(x).max(-1)
        d = (amax / 127).astype(F32)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(d[:, None] > 0, nearest(x / d[:, None], -127, 127), 0).astype(np.int8)
        out[:, 0:4] = d.astype("<f4").view(np.uint8).reshape(nb, 4)
        out[:, 4:260] = q.view(np.uint8)
        out[:, 260:292] = q.reshape(nb, 16, 16).astype(np.int32).sum(-1).astype("<i2").view(np.uint8).reshape(nb, 32)
        return out
    raise ValueError(name)


def random_blocks(name, rng, nb):
    """Random bytes with finite, moderate super-block scales at the float16/float32 fields."""
    b = rng.integers(0, 256, (nb, BLOCK_BYTES[name]), dtype=np.uint8)
    d_at = {"q2_k": [80, 82], "q3_k": [108], "q4_k": [0, 2], "q5_k": [0, 2], "q6_k": [208]}
    if name == "q8_k":
        b[:, 0:4] = rng.uniform(-0.1, 0.1, nb).astype("<f4").view(np.uint8).reshape(nb, 4)
        return b
    for at in d_at[name]:
        b[:, at: at + 2] = to_half_bytes(rng.uniform(-0.05, 0.05, nb))
    return b


# ------------------------------------------------------------------ GGUF (version 3, no metadata)

def write_gguf(path, tensors):
    """tensors: list of (name, type_id, shape row-major, bytes)."""
    head = bytearray(b"GGUF") + struct.pack("<IQQ", 3, len(tensors), 0)
    offset = 0
    offsets = []
    for name, tid, shape, data in tensors:
        nb = name.encode()
        head += struct.pack("<Q", len(nb)) + nb + struct.pack("<I", len(shape))
        for dim in reversed(shape):
            head += struct.pack("<Q", dim)
        head += struct.pack("<IQ", tid, offset)
        offsets.append(offset)
        offset += (len(data) + 31) // 32 * 32
    head += b"\0" * ((32 - len(head) % 32) % 32)
    body = bytearray()
    for (_, _, _, data), off in zip(tensors, offsets):
        body += b"\0" * (off - len(body))
        body += data
    with open(path, "wb") as f:
        f.write(head + body)


def read_gguf(path):
    """name -> (type_id, row-major shape, bytes) for the k-quant tensors of a file."""
    buf = open(path, "rb").read()
    assert buf[:4] == b"GGUF"
    version, n_t, n_kv = struct.unpack_from("<IQQ", buf, 4)
    assert version == 3 and n_kv == 0, "cpp.gguf is written without metadata"
    pos = 24
    infos = []
    for _ in range(n_t):
        (n,) = struct.unpack_from("<Q", buf, pos)
        name = buf[pos + 8: pos + 8 + n].decode()
        pos += 8 + n
        (nd,) = struct.unpack_from("<I", buf, pos)
        dims = struct.unpack_from("<%dQ" % nd, buf, pos + 4)
        pos += 4 + 8 * nd
        tid, off = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        infos.append((name, tid, tuple(reversed(dims)), off))
    data_start = (pos + 31) // 32 * 32
    out = {}
    for name, tid, shape, off in infos:
        if tid not in TYPE_NAMES:
            continue
        count = int(np.prod(shape))
        nbytes = count // QK * BLOCK_BYTES[TYPE_NAMES[tid]]
        out[name] = (tid, shape, buf[data_start + off: data_start + off + nbytes])
    return out


def main():
    out_dir = sys.argv[1]
    rng = np.random.default_rng(20240611)
    rows, cols = 32, 512
    x = rng.standard_normal((rows, cols)).astype(F32)
    # Sub-blocks of special shapes: all zero, constant, all negative, one outlier, a ramp.
    x[0, :256] = 0
    x[1, :32] = 0.75
    x[2, :64] = -np.abs(x[2, :64]) - 0.5
    x[3, 17] = 40.0
    x[4, 256:512] = np.linspace(-3, 5, 256, dtype=F32)
    tensors = []
    ref = {"x": x}
    for name in ("q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k"):
        blocks = encode(name, x.reshape(-1, QK))
        tensors.append((name, TYPE_IDS[name], (rows, cols), blocks.tobytes()))
        ref["py_" + name] = decode(name, blocks).reshape(rows, cols)
        rb = random_blocks(name, rng, 8)
        tensors.append(("rand_" + name, TYPE_IDS[name], (4, 512), rb.tobytes()))
        ref["py_rand_" + name] = decode(name, rb).reshape(4, 512)
    write_gguf(out_dir + "/py.gguf", tensors)
    for name, (tid, shape, raw) in read_gguf(out_dir + "/cpp.gguf").items():
        blocks = np.frombuffer(raw, np.uint8).reshape(-1, BLOCK_BYTES[TYPE_NAMES[tid]])
        ref["cpp_" + name] = decode(TYPE_NAMES[tid], blocks).reshape(shape)
    np.savez(out_dir + "/ref.npz", **ref)


if __name__ == "__main__":
    main()
