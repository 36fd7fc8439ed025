"""tessera.nn: the module tree, layers and losses (against PyTorch where it has the layer) and
value_and_grad over a model."""

import math

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
nn = pytest.importorskip("tessera.nn")
from tessera.utils import tree_flatten  # noqa: E402

torch = pytest.importorskip("torch")
F = torch.nn.functional


def close(a, b, tol=1e-4):
    np.testing.assert_allclose(np.array(a), np.asarray(b), rtol=tol, atol=tol)


def t(a):
    return torch.tensor(np.array(a))


def test_module_tree():
    m = nn.Sequential(nn.Sequential(nn.Linear(2, 10), nn.relu), nn.Sequential(nn.Linear(10, 10), nn.ReLU()),
                      nn.Linear(10, 1), mx.sigmoid)
    children = m.children()
    assert isinstance(children["layers"], list) and len(children["layers"]) == 4
    assert children["layers"][3] == {}
    leaves = tree_flatten(m.leaf_modules(), is_leaf=nn.Module.is_module)
    assert [k for k, _ in leaves] == ["layers.0.layers.0", "layers.1.layers.0", "layers.1.layers.1", "layers.2"]
    assert leaves[0][1] is m.layers[0].layers[0]
    names = sorted(k for k, _ in tree_flatten(m.parameters()))
    assert names == ["layers.0.layers.0.bias", "layers.0.layers.0.weight", "layers.1.layers.0.bias",
                     "layers.1.layers.0.weight", "layers.2.bias", "layers.2.weight"]
    m.eval()
    assert all(not mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    assert m(mx.ones((3, 2))).shape == (3, 1)


def test_freeze_update_and_weights(tmp_path):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(3, 4)
            self.l2 = nn.Linear(4, 2)
            self.scale = 2.0  # not a parameter
            self._buffer = mx.zeros(3)  # private

        def __call__(self, x):
            return self.l2(mx.tanh(self.l1(x))) * self.scale

    m = Model()
    assert set(m.parameters()) == {"l1", "l2"}
    m.freeze()
    assert tree_flatten(m.trainable_parameters()) == []
    m.unfreeze(keys="bias")
    assert sorted(k for k, _ in tree_flatten(m.trainable_parameters())) == ["l1.bias", "l2.bias"]
    m.unfreeze()
    m.l1.freeze(keys=["weight"])
    assert "weight" not in m.trainable_parameters()["l1"]
    m.unfreeze()
    m.update({"l1": {"bias": mx.ones(4)}})
    assert m.l1.bias.tolist() == [1.0] * 4
    with pytest.raises(ValueError):
        m.update({"nope": mx.ones(1)})
    for ext in ("npz", "safetensors"):
        path = str(tmp_path / f"w.{ext}")
        m.save_weights(path)
        m2 = Model()
        m2.load_weights(path)
        for (k1, v1), (k2, v2) in zip(tree_flatten(m.parameters()), tree_flatten(m2.parameters())):
            assert k1 == k2 and np.array_equal(np.array(v1), np.array(v2))
    with pytest.raises(ValueError):
        m.load_weights([("l1.weight", mx.ones((3, 3)))])
    m.load_weights([("l1.bias", mx.zeros(4))], strict=False)
    assert m.l1.bias.tolist() == [0.0] * 4
    m.set_dtype(mx.float16)
    assert m.l1.weight.dtype == mx.float16
    assert "Linear(input_dims=3, output_dims=4, bias=True)" in repr(m)


def test_value_and_grad_over_model():
    model = nn.Linear(3, 1)
    x = mx.array([[1.0, 2.0, 3.0]])
    y = mx.array([[1.0]])

    def loss_fn(model, x, y):
        return nn.losses.mse_loss(model(x), y)

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    model.freeze(keys="bias")
    loss, grads = loss_and_grad(model, x, y)
    assert set(grads) == {"weight"}
    err = (x @ model.weight.T + model.bias - y).item()
    close(loss, err**2)
    close(grads["weight"], 2 * err * np.array([[1.0, 2.0, 3.0]]))


def test_linear_conv_and_norms_match_torch(rng):
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    lin = nn.Linear(6, 4)
    ref = F.linear(t(x), t(lin.weight), t(lin.bias))
    close(lin(mx.array(x)), ref.numpy())
    assert nn.Linear(6, 4, bias=False)(mx.array(x)).shape == (2, 5, 4)

    conv = nn.Conv1d(6, 3, kernel_size=3, stride=2, padding=1)
    ref = F.conv1d(t(x).transpose(1, 2), t(conv.weight).permute(0, 2, 1), t(conv.bias), stride=2, padding=1)
    close(conv(mx.array(x)), ref.transpose(1, 2).numpy())

    img = rng.standard_normal((2, 7, 7, 4)).astype(np.float32)
    conv2 = nn.Conv2d(4, 6, kernel_size=(3, 2), stride=(1, 2), padding=1, groups=2)
    ref = F.conv2d(t(img).permute(0, 3, 1, 2), t(conv2.weight).permute(0, 3, 1, 2), t(conv2.bias),
                   stride=(1, 2), padding=1, groups=2)
    close(conv2(mx.array(img)), ref.permute(0, 2, 3, 1).numpy())

    ln = nn.LayerNorm(6)
    ln.weight = mx.array(rng.standard_normal(6).astype(np.float32))
    close(ln(mx.array(x)), F.layer_norm(t(x), (6,), t(ln.weight), t(ln.bias), 1e-5).numpy())
    rms = nn.RMSNorm(6, eps=1e-6)
    close(rms(mx.array(x)), (x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6)))
    gn = nn.GroupNorm(2, 4, pytorch_compatible=True)
    ref = F.group_norm(t(img).permute(0, 3, 1, 2), 2, t(gn.weight), t(gn.bias), 1e-5).permute(0, 2, 3, 1)
    close(gn(mx.array(img)), ref.numpy())
    bn = nn.BatchNorm(4)
    tbn = torch.nn.BatchNorm2d(4)
    close(bn(mx.array(img)), tbn(t(img).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).detach().numpy())
    close(bn.running_mean, tbn.running_mean.numpy())
    assert "running_mean" not in bn.trainable_parameters()
    bn.eval()
    tbn.eval()
    assert bn(mx.array(img)).shape == img.shape
    emb = nn.Embedding(10, 3)
    idx = np.array([[1, 2], [9, 1]])
    close(emb(mx.array(idx)), np.array(emb.weight)[idx])
    close(emb.as_linear(mx.ones((1, 3))), np.ones((1, 3)) @ np.array(emb.weight).T)
    pool = nn.MaxPool2d(kernel_size=2, stride=2)
    close(pool(mx.array(img)), F.max_pool2d(t(img).permute(0, 3, 1, 2), 2, 2).permute(0, 2, 3, 1).numpy())
    avg = nn.AvgPool1d(kernel_size=2)
    close(avg(mx.array(x)), F.avg_pool1d(t(x).transpose(1, 2), 2).transpose(1, 2).numpy())


def test_activations_match_torch(rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    tx = t(x)
    for ours, ref in [
        (nn.relu, F.relu), (nn.gelu, F.gelu), (nn.silu, F.silu), (nn.sigmoid, torch.sigmoid),
        (nn.leaky_relu, F.leaky_relu), (nn.elu, F.elu), (nn.selu, F.selu), (nn.softplus, F.softplus),
        (nn.mish, F.mish), (nn.hardswish, F.hardswish), (nn.log_sigmoid, F.logsigmoid),
        (nn.softsign, F.softsign), (nn.relu6, F.relu6), (nn.celu, F.celu),
        (lambda v: nn.log_softmax(v, axis=-1), lambda v: F.log_softmax(v, dim=-1)),
        (lambda v: nn.glu(v), lambda v: F.glu(v, dim=-1)),
        (nn.GELU(approx="tanh"), lambda v: F.gelu(v, approximate="tanh")),
    ]:
        close(ours(mx.array(x)), ref(tx).numpy(), tol=2e-4)


def test_losses_match_torch(rng):
    logits = rng.standard_normal((6, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 6)
    close(nn.losses.cross_entropy(mx.array(logits), mx.array(labels)),
          F.cross_entropy(t(logits), torch.tensor(labels), reduction="none").numpy())
    close(nn.losses.cross_entropy(mx.array(logits), mx.array(labels), label_smoothing=0.1, reduction="mean"),
          F.cross_entropy(t(logits), torch.tensor(labels), label_smoothing=0.1).numpy())
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    close(nn.losses.cross_entropy(mx.array(logits), mx.array(probs), reduction="sum"),
          F.cross_entropy(t(logits), t(probs), reduction="sum").numpy())
    y = (rng.uniform(size=(6, 5)) > 0.5).astype(np.float32)
    close(nn.losses.binary_cross_entropy(mx.array(logits), mx.array(y)),
          F.binary_cross_entropy_with_logits(t(logits), t(y)).numpy())
    p = 1 / (1 + np.exp(-logits))
    close(nn.losses.binary_cross_entropy(mx.array(p), mx.array(y), with_logits=False),
          F.binary_cross_entropy(t(p), t(y)).numpy())
    a, b = mx.array(logits), mx.array(y)
    close(nn.losses.mse_loss(a, b), F.mse_loss(t(logits), t(y)).numpy())
    close(nn.losses.l1_loss(a, b), F.l1_loss(t(logits), t(y)).numpy())
    close(nn.losses.smooth_l1_loss(a, b, beta=0.5), F.smooth_l1_loss(t(logits), t(y), beta=0.5).numpy())
    close(nn.losses.huber_loss(a, b, delta=0.7, reduction="mean"),
          F.huber_loss(t(logits), t(y), delta=0.7).numpy())
    logp = nn.log_softmax(a)
    close(nn.losses.nll_loss(logp, mx.array(labels), reduction="mean"),
          F.nll_loss(t(logp), torch.tensor(labels)).numpy())
    logq = nn.log_softmax(mx.array(logits[::-1].copy()))
    close(nn.losses.kl_div_loss(logq, logp, reduction="sum"),
          F.kl_div(t(logq), t(logp), reduction="sum", log_target=True).numpy())
    close(nn.losses.cosine_similarity_loss(a, b, axis=1),
          F.cosine_similarity(t(logits), t(y), dim=1).numpy())
    close(nn.losses.margin_ranking_loss(a[:, 0], b[:, 0], mx.array(np.sign(logits[:, 1])), margin=0.1,
                                        reduction="mean"),
          F.margin_ranking_loss(t(logits[:, 0]), t(y[:, 0]), t(np.sign(logits[:, 1])), margin=0.1).numpy())


def test_attention_and_rope(rng):
    mha = nn.MultiHeadAttention(8, 2, bias=True)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    mask = nn.MultiHeadAttention.create_additive_causal_mask(5)
    out = mha(mx.array(x), mx.array(x), mx.array(x), mask)
    tm = torch.nn.MultiheadAttention(8, 2, bias=True, batch_first=True)
    with torch.no_grad():
        tm.in_proj_weight.copy_(torch.cat([t(mha.query_proj.weight), t(mha.key_proj.weight),
                                           t(mha.value_proj.weight)]))
        tm.in_proj_bias.copy_(torch.cat([t(mha.query_proj.bias), t(mha.key_proj.bias), t(mha.value_proj.bias)]))
        tm.out_proj.weight.copy_(t(mha.out_proj.weight))
        tm.out_proj.bias.copy_(t(mha.out_proj.bias))
        ref, _ = tm(t(x), t(x), t(x), attn_mask=torch.triu(torch.ones(5, 5, dtype=torch.bool), 1))
    close(out, ref.numpy(), tol=1e-4)
    rope = nn.RoPE(4)
    q = mx.array(rng.standard_normal((1, 3, 4)).astype(np.float32))
    r = rope(q, offset=2)
    # Position p rotates pairs (i, i + d/2) by p * base^(-2i/d).
    v = np.array(q)[0]
    ref = np.empty_like(v)
    for pos in range(3):
        for i in range(2):
            th = (pos + 2) * 10000 ** (-2 * i / 4)
            a, b = v[pos, i], v[pos, i + 2]
            ref[pos, i] = a * math.cos(th) - b * math.sin(th)
            ref[pos, i + 2] = a * math.sin(th) + b * math.cos(th)
    close(r[0], ref, tol=1e-5)


def test_dropout_and_init():
    d = nn.Dropout(0.5)
    x = mx.ones((1000,))
    y = d(x)
    kept = np.array(y) != 0
    assert 0.4 < kept.mean() < 0.6 and np.allclose(np.array(y)[kept], 2.0)
    d.eval()
    assert d(x).tolist() == x.tolist()
    w = mx.zeros((64, 32))
    assert nn.init.constant(0.5)(w).tolist()[0][0] == 0.5
    g = nn.init.glorot_uniform()(w)
    assert float(mx.abs(g).max()) <= math.sqrt(6 / 96) + 1e-6
    he = nn.init.he_normal()(mx.zeros((256, 512)))
    assert abs(float(he.std()) - math.sqrt(1 / 512)) < 0.005
    assert nn.init.identity()(mx.zeros((3, 3))).tolist() == np.eye(3).tolist()


def test_quantize_model(rng):
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 64))
    x = mx.array(rng.standard_normal((2, 64)).astype(np.float32))
    ref = model(x)
    nn.quantize(model, group_size=32, bits=8)
    assert isinstance(model.layers[0], nn.QuantizedLinear)
    assert set(tree_flatten(model.trainable_parameters())[i][0] for i in range(2)) == {"layers.0.bias",
                                                                                       "layers.2.bias"}
    close(model(x), np.array(ref), tol=5e-2)


def test_transforms_take_modules_as_arguments():
    model = nn.Linear(3, 2)
    x = mx.ones((4, 3))
    ref = model(x)
    out = mx.compile(lambda m, v: m(v))(model, x)
    close(out, np.array(ref))
    g = mx.grad(lambda m, v: m(v).sum())(model, x)
    assert type(g) is dict and set(g) == {"weight", "bias"}
    close(g["bias"], [4.0, 4.0])
    close(mx.vmap(lambda m, v: m(v), in_axes=(None, 0))(model, x), np.array(ref))


def test_sparse_and_orthogonal_init():
    w = nn.init.sparse(sparsity=0.3, std=2.0)(mx.zeros((64, 50)))
    zeros_per_row = (np.array(w) == 0).sum(axis=1)
    assert (zeros_per_row == 15).all()  # ceil(0.3 * 50)
    nz = np.array(w)[np.array(w) != 0]
    assert abs(nz.std() - 2.0) < 0.1
    assert not (np.array(w)[:, :15] == 0).all()  # the zeroed columns differ per row
    with pytest.raises(ValueError, match="2-D"):
        nn.init.sparse(0.5)(mx.zeros((3,)))

    for shape in [(8, 8), (5, 12), (12, 5)]:
        q = np.array(nn.init.orthogonal(gain=2.0)(mx.zeros(shape)), dtype=np.float64) / 2.0
        small = min(shape)
        gram = q @ q.T if shape[0] <= shape[1] else q.T @ q
        np.testing.assert_allclose(gram, np.eye(small), atol=2e-5)
    assert nn.init.orthogonal(dtype=mx.bfloat16)(mx.zeros((4, 4))).dtype == mx.bfloat16
    with pytest.raises(ValueError, match="2-D"):
        nn.init.orthogonal()(mx.zeros((2, 2, 2)))
