"""save/load with binary file objects as well as paths, as MLX allows: io.BytesIO and open files
round-trip every format, a stream's `name` gives the format, and a nameless stream without
format= is a clear error."""

import io

import numpy as np
import pytest

import tessera.core as mx


def arrays():
    rng = np.random.default_rng(0)
    return {"a": mx.array(rng.standard_normal((3, 4)).astype(np.float32)), "b": mx.array(np.arange(5, dtype=np.int32))}


def test_npy_through_bytesio():
    buf = io.BytesIO()
    a = arrays()["a"]
    mx.save(buf, a)
    assert buf.getvalue()[:6] == b"\x93NUMPY"
    # The bytes are a real .npy file: numpy reads them.
    np.testing.assert_array_equal(np.load(io.BytesIO(buf.getvalue())), np.array(a))
    buf.seek(0)
    np.testing.assert_array_equal(np.array(mx.load(buf, format="npy")), np.array(a))


@pytest.mark.parametrize("fmt", ["npz", "safetensors", "gguf"])
def test_dict_formats_through_bytesio(fmt):
    d = arrays()
    if fmt == "gguf":
        d = {"a": d["a"]}
    buf = io.BytesIO()
    {"npz": lambda: mx.savez(buf, **d), "safetensors": lambda: mx.save_safetensors(buf, d),
     "gguf": lambda: mx.save_gguf(buf, d)}[fmt]()
    assert len(buf.getvalue()) > 0
    buf.seek(0)
    got = mx.load(buf, format=fmt)
    assert set(got) == set(d)
    for k in d:
        np.testing.assert_array_equal(np.array(got[k]), np.array(d[k]))


def test_open_file_gives_the_format_by_name(tmp_path):
    d = arrays()
    with open(tmp_path / "w.safetensors", "wb") as f:
        mx.save_safetensors(f, d)
    with open(tmp_path / "w.safetensors", "rb") as f:
        got = mx.load(f)
    np.testing.assert_array_equal(np.array(got["b"]), np.arange(5))


def test_nameless_stream_needs_a_format():
    with pytest.raises(ValueError, match="needs format="):
        mx.load(io.BytesIO(b"\x93NUMPY"))
    with pytest.raises(TypeError, match="binary file object"):
        mx.save(12, mx.ones(2))
