"""array.__dlpack__: NumPy and PyTorch read Tessera's buffers without copying, for every dtype the
consumers know, strided views included; the buffer outlives the Tessera array."""

import gc

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int8", "int32", "int64", "uint8", "uint16",
                                   "uint32", "uint64", "int16", "complex64"])
def test_numpy_reads_every_dtype(dtype):
    ref = (np.arange(24).reshape(2, 3, 4) * 3 - 5)
    ref = ref.astype(dtype) if not dtype.startswith("uint") else np.abs(ref).astype(dtype)
    a = mx.array(ref, dtype=getattr(mx, dtype))
    got = np.from_dlpack(a)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


def test_strided_views_keep_their_strides():
    a = mx.arange(24, dtype=mx.float32).reshape(4, 6)
    view = a.T[1:, ::2]
    ref = np.arange(24, dtype=np.float32).reshape(4, 6).T[1:, ::2]
    np.testing.assert_array_equal(np.from_dlpack(view), ref)
    tv = torch.from_dlpack(view)
    assert tv.shape == ref.shape
    np.testing.assert_array_equal(tv.numpy(), ref)
    wide = mx.broadcast_to(mx.array([1.0, 2.0]), (3, 2))  # zero strides
    np.testing.assert_array_equal(np.from_dlpack(wide), [[1, 2]] * 3)
    assert np.from_dlpack(mx.zeros((0, 3))).shape == (0, 3)
    assert np.from_dlpack(mx.array(3.5)).shape == ()


def test_no_copy_and_lifetime():
    a = mx.arange(1000, dtype=mx.float32) * 2
    t1 = torch.from_dlpack(a)
    t2 = torch.from_dlpack(a)
    assert t1.data_ptr() == t2.data_ptr()
    del a
    gc.collect()
    assert t1[999].item() == 1998.0
    lazy = mx.ones((3,)) + 1  # unevaluated: exporting evaluates it
    np.testing.assert_array_equal(np.from_dlpack(lazy), [2, 2, 2])


def test_bfloat16_to_torch_and_back():
    a = mx.array([1.5, -2.25, 3.0], dtype=mx.bfloat16)
    t = torch.from_dlpack(a)
    assert t.dtype == torch.bfloat16
    assert t.float().tolist() == [1.5, -2.25, 3.0]


def test_device_stream_and_unconsumed_capsules():
    a = mx.zeros((2, 2))
    assert a.__dlpack_device__() == (1, 0)
    with pytest.raises(ValueError, match=r"\[__dlpack__\].*stream"):
        a.__dlpack__(stream=1)
    for _ in range(100):  # capsules dropped unconsumed release their tensors
        a.__dlpack__()
    gc.collect()
    assert type(mx.array([True]).__dlpack__()).__name__ == "PyCapsule"


def test_array_from_a_dlpack_only_object():
    class Producer:
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, stream=None):
            return self.t.__dlpack__()

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    a = mx.array(Producer(torch.arange(6, dtype=torch.int32).reshape(2, 3)))
    assert a.dtype == mx.int32 and a.tolist() == [[0, 1, 2], [3, 4, 5]]
