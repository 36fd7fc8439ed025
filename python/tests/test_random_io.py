"""random, fast, io and memory."""

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")


def test_random_keys_and_shapes():
    mx.random.seed(3)
    a = mx.random.uniform(shape=(100,))
    mx.random.seed(3)
    b = mx.random.uniform(shape=(100,))
    assert np.array_equal(np.array(a), np.array(b))
    k = mx.random.key(0)
    k1, k2 = mx.random.split(k)
    assert k1.shape == (2,) and mx.random.split(k, num=3).shape == (3, 2)
    assert np.array_equal(np.array(mx.random.normal((4,), key=k1)), np.array(mx.random.normal((4,), key=k1)))
    u = mx.random.uniform(low=-2, high=-1, shape=(1000,), key=k2)
    assert float(u.min()) >= -2 and float(u.max()) < -1
    assert mx.random.normal((2, 3), dtype=mx.float16).dtype == mx.float16
    n = mx.random.normal(shape=(20000,), loc=1.0, scale=2.0, key=k)
    assert abs(float(n.mean()) - 1.0) < 0.1 and abs(float(n.std()) - 2.0) < 0.1
    r = mx.random.randint(0, 5, (1000,), key=k)
    assert r.dtype == mx.int32 and int(r.min()) >= 0 and int(r.max()) <= 4
    bern = mx.random.bernoulli(0.25, (4000,), key=k)
    assert bern.dtype == mx.bool_ and abs(float(bern.astype(mx.float32).mean()) - 0.25) < 0.05
    assert mx.random.bernoulli(mx.array([0.0, 1.0]), key=k).tolist() == [False, True]
    c = mx.random.categorical(mx.log(mx.array([0.0, 1.0, 0.0]) + 1e-9), key=k)
    assert c.item() == 1
    assert mx.random.categorical(mx.zeros((2, 5)), num_samples=7, key=k).shape == (2, 7)
    assert mx.random.categorical(mx.zeros((2, 5)), shape=(3, 2), key=k).shape == (3, 2)
    t = mx.random.truncated_normal(-1.0, 1.0, shape=(500,), key=k)
    assert float(mx.abs(t).max()) <= 1.0
    assert mx.random.gumbel((3,), key=k).shape == (3,)
    assert mx.random.laplace((3,), loc=1.0, scale=0.5, key=k).shape == (3,)
    assert sorted(mx.random.permutation(6, key=k).tolist()) == list(range(6))
    assert mx.random.permutation(mx.arange(4) * 2, key=k).shape == (4,)
    assert mx.random.bits((2,), width=4, key=k).dtype == mx.uint32
    mvn = mx.random.multivariate_normal(mx.zeros(2), mx.eye(2), shape=(5,), key=k)
    assert mvn.shape == (5, 2)


def test_fast_ops_match_composites(rng):
    x = mx.array(rng.standard_normal((2, 8)).astype(np.float32))
    w = mx.array(rng.standard_normal(8).astype(np.float32))
    b = mx.array(rng.standard_normal(8).astype(np.float32))
    v = np.array(x)
    ref = v / np.sqrt((v**2).mean(-1, keepdims=True) + 1e-5) * np.array(w)
    np.testing.assert_allclose(np.array(mx.fast.rms_norm(x, w, 1e-5)), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array(mx.fast.rms_norm(x, None, eps=1e-5)), ref / np.array(w), rtol=1e-4,
                               atol=1e-5)
    mu, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
    ref = (v - mu) / np.sqrt(var + 1e-5) * np.array(w) + np.array(b)
    np.testing.assert_allclose(np.array(mx.fast.layer_norm(x, w, b, 1e-5)), ref, rtol=1e-4, atol=1e-4)
    q = mx.array(rng.standard_normal((1, 2, 4, 8)).astype(np.float32))
    r = mx.fast.rope(q, 8, traditional=False, base=10000.0, scale=1.0, offset=0)
    assert r.shape == q.shape
    np.testing.assert_allclose(np.array(r[:, :, 0]), np.array(q[:, :, 0]), rtol=1e-6)
    out = mx.fast.scaled_dot_product_attention(q, q, q, scale=0.5, mask="causal")
    s = np.einsum("bhqd,bhkd->bhqk", np.array(q), np.array(q)) * 0.5
    s = np.where(np.tril(np.ones((4, 4), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.array(out), p @ np.array(q), rtol=1e-4, atol=1e-5)
    out2 = mx.fast.scaled_dot_product_attention(q, q, q, scale=0.5, mask=mx.array(np.tril(np.ones((4, 4), bool))))
    np.testing.assert_allclose(np.array(out2), np.array(out), rtol=1e-5, atol=1e-6)


def test_io_round_trips(tmp_path):
    a = mx.arange(6).reshape(2, 3).astype(mx.float32)
    b = mx.array([1, 2], dtype=mx.bfloat16)
    mx.save(str(tmp_path / "a.npy"), a)
    assert mx.load(str(tmp_path / "a.npy")).tolist() == a.tolist()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.array(a))
    mx.save(tmp_path / "noext", a)
    assert (tmp_path / "noext.npy").exists()
    mx.savez(str(tmp_path / "z.npz"), a, named=b)
    z = mx.load(str(tmp_path / "z.npz"))
    assert set(z) == {"arr_0", "named"} and z["named"].dtype == mx.bfloat16
    mx.savez_compressed(str(tmp_path / "zc.npz"), x=a)
    assert np.array_equal(np.load(tmp_path / "zc.npz")["x"], np.array(a))
    mx.save_safetensors(str(tmp_path / "w.safetensors"), {"a": a, "b": b}, metadata={"format": "mlx"})
    w = mx.load(str(tmp_path / "w.safetensors"))
    assert w["a"].tolist() == a.tolist() and w["b"].dtype == mx.bfloat16
    w, meta = mx.load(str(tmp_path / "w.safetensors"), return_metadata=True)
    assert meta == {"format": "mlx"}
    with pytest.raises(ValueError):
        mx.load(str(tmp_path / "x.unknown"))
    with pytest.raises(Exception):
        mx.load(str(tmp_path / "missing.npy"))


def test_memory_functions():
    before = mx.get_active_memory()
    x = mx.ones((1024, 1024))
    mx.eval(x)
    assert mx.get_active_memory() >= before
    assert mx.get_peak_memory() >= 4 * 1024 * 1024
    old = mx.set_cache_limit(0)
    mx.set_cache_limit(old)
    mx.clear_cache()
