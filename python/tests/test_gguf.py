"""GGUF through tessera.core.load / save_gguf, with MLX's conventions: arrays round-trip in their
float dtype, metadata comes back as str, list of str or arrays, and quantized tensors come back as
the (weight, scales, biases) triplet that quantized_matmul takes (checked against the dense
tensor the C++ reader dequantizes and against numpy)."""

import os
import pathlib

import numpy as np
import pytest

import tessera.core as mx

STORIES = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "models" / "stories260K" / "stories260K.gguf"


def test_round_trip_arrays_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 8)).astype(np.float32)
    arrays = {"w": mx.array(w), "h": mx.array(w).astype(mx.float16), "b": mx.array(w).astype(mx.bfloat16)}
    meta = {"general.name": "tiny", "tokens": ["a", "b", "c"], "count": mx.array(7), "ratio": mx.array(0.5),
            "ids": mx.array([1, 2, 3]), "scores": mx.array([0.25, -1.0])}
    path = str(tmp_path / "t.gguf")
    mx.save_gguf(path, arrays, meta)
    got, got_meta = mx.load(path, return_metadata=True)
    assert set(got) == {"w", "h", "b"}
    np.testing.assert_array_equal(np.array(got["w"]), w)
    assert got["h"].dtype == mx.float16 and got["b"].dtype == mx.bfloat16
    np.testing.assert_array_equal(np.array(got["h"].astype(mx.float32)), w.astype(np.float16).astype(np.float32))
    assert got_meta["general.name"] == "tiny"
    assert got_meta["tokens"] == ["a", "b", "c"]
    assert got_meta["count"].item() == 7
    assert got_meta["ratio"].item() == 0.5
    assert got_meta["ids"].tolist() == [1, 2, 3]
    assert got_meta["scores"].tolist() == [0.25, -1.0]
    assert set(mx.load(path)) == {"w", "h", "b"}


def test_bad_input_is_a_clear_error(tmp_path):
    path = str(tmp_path / "bad.gguf")
    with pytest.raises(TypeError, match="save_gguf.*'i'.*int32"):
        mx.save_gguf(path, {"i": mx.array([1, 2])})
    with pytest.raises(TypeError, match="lists may hold only str"):
        mx.save_gguf(path, {"w": mx.ones((2,))}, {"k": ["a", 1]})
    with open(path, "wb") as f:
        f.write(b"GGUF\x03\x00\x00\x00\x01")
    with pytest.raises(Exception, match="bad.gguf"):
        mx.load(path)


def write_q8_0_gguf(path, name, rows):
    """A GGUF v3 file written here byte by byte (independently of Tessera's writer) holding one
    Q8_0 tensor: per block of 32, a float16 scale d and 32 int8 codes, value = d * code."""
    import struct

    def string(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    cols = rows.shape[1]
    blocks = b""
    for r in rows:
        for g in range(cols // 32):
            chunk = r[g * 32:(g + 1) * 32]
            d = np.float16(np.abs(chunk).max() / 127.0)
            q = np.round(chunk / np.float32(d)).astype(np.int8) if d != 0 else np.zeros(32, np.int8)
            blocks += np.array([d], np.float16).tobytes() + q.tobytes()
    header = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    header += string("general.architecture") + struct.pack("<I", 8) + string("llama")
    header += string(name) + struct.pack("<I", 2) + struct.pack("<QQ", cols, rows.shape[0])
    header += struct.pack("<IQ", 8, 0)  # type Q8_0, offset 0
    header += b"\0" * ((-len(header)) % 32)
    with open(path, "wb") as f:
        f.write(header + blocks)
    # The values the blocks stand for.
    out = []
    for r in rows:
        vals = []
        for g in range(cols // 32):
            chunk = r[g * 32:(g + 1) * 32]
            d = np.float16(np.abs(chunk).max() / 127.0)
            q = np.round(chunk / np.float32(d)).astype(np.int8)
            vals.append(np.float32(d) * q.astype(np.float32))
        out.append(np.concatenate(vals))
    return np.stack(out)


def test_quantized_tensors_come_back_as_triplets(tmp_path):
    rows = np.random.default_rng(2).standard_normal((3, 64)).astype(np.float32)
    path = str(tmp_path / "q.gguf")
    want = write_q8_0_gguf(path, "blk.0.ffn_up.weight", rows)
    arrays, meta = mx.load(path, return_metadata=True)
    assert meta["general.architecture"] == "llama"
    assert set(arrays) == {"blk.0.ffn_up.weight", "blk.0.ffn_up.scales", "blk.0.ffn_up.biases"}
    w, s, b = arrays["blk.0.ffn_up.weight"], arrays["blk.0.ffn_up.scales"], arrays["blk.0.ffn_up.biases"]
    assert w.dtype == mx.uint32 and s.shape == (3, 2)
    assert s.dtype == mx.float16 and b.dtype == mx.float16  # Q8_0's d and -128 d, exactly (as MLX loads them)
    deq = mx.dequantize(w, s, b, group_size=32, bits=8, dtype=mx.float32)
    np.testing.assert_allclose(np.array(deq), want, rtol=1e-6, atol=1e-7)
    x = mx.array(np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32))
    got = mx.quantized_matmul(x, w, s, b, transpose=True, group_size=32, bits=8)
    np.testing.assert_allclose(np.array(got), np.array(x) @ want.T, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not STORIES.exists(), reason="shared/data/models/stories260K is absent")
def test_real_model_metadata():
    arrays, meta = mx.load(str(STORIES), return_metadata=True)
    assert meta["general.architecture"] == "llama"
    assert isinstance(meta["tokenizer.ggml.tokens"], list) and len(meta["tokenizer.ggml.tokens"]) == 512
    assert meta["llama.block_count"].item() == 5
    assert arrays["token_embd.weight"].shape == (512, 64)
