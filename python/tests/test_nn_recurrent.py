"""nn.RNN, nn.GRU and nn.LSTM against PyTorch's layers (outputs and parameter gradients), plus the
no-initial-state semantics and input checks."""

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
nn = pytest.importorskip("tessera.nn")
torch = pytest.importorskip("torch")


def t(a):
    return torch.tensor(np.array(a))


def close(a, b, tol=2e-5):
    np.testing.assert_allclose(np.array(a), np.asarray(b), rtol=tol, atol=tol)


def torch_twin(layer):
    """The PyTorch layer with the same weights (hidden-side biases zero except GRU's b_hn)."""
    H = layer.hidden_size
    if isinstance(layer, nn.RNN):
        tl = torch.nn.RNN(layer.Wxh.shape[1], H, batch_first=True, bias=layer.bias is not None)
        w = [layer.Wxh, layer.Whh]
        b = None if layer.bias is None else [layer.bias, mx.zeros((H,))]
    elif isinstance(layer, nn.GRU):
        tl = torch.nn.GRU(layer.Wx.shape[1], H, batch_first=True, bias=layer.b is not None)
        w = [layer.Wx, layer.Wh]
        b = None if layer.b is None else [layer.b, mx.concatenate([mx.zeros((2 * H,)), layer.bhn])]
    else:
        tl = torch.nn.LSTM(layer.Wx.shape[1], H, batch_first=True, bias=layer.bias is not None)
        w = [layer.Wx, layer.Wh]
        b = None if layer.bias is None else [layer.bias, mx.zeros((4 * H,))]
    with torch.no_grad():
        tl.weight_ih_l0.copy_(t(w[0]))
        tl.weight_hh_l0.copy_(t(w[1]))
        if b is not None:
            tl.bias_ih_l0.copy_(t(b[0]))
            tl.bias_hh_l0.copy_(t(b[1]))
    return tl


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_batched_and_unbatched(rng, cls, bias):
    layer = getattr(nn, cls)(5, 7, bias=bias)
    tl = torch_twin(layer)
    x = rng.standard_normal((3, 6, 5)).astype(np.float32)
    h0 = rng.standard_normal((3, 7)).astype(np.float32)
    if cls == "LSTM":
        c0 = rng.standard_normal((3, 7)).astype(np.float32)
        hs, cs = layer(mx.array(x), mx.array(h0), mx.array(c0))
        ref, (hn, cn) = tl(t(x), (t(h0)[None], t(c0)[None]))
        close(hs, ref.detach().numpy())
        close(cs[:, -1], cn[0].detach().numpy())
        hs, _ = layer(mx.array(x[0]))  # [L, D], no state: zero state
        close(hs, tl(t(x[0]))[0].detach().numpy())
    else:
        ref = tl(t(x), t(h0)[None])[0].detach().numpy()
        assert layer(mx.array(x), mx.array(h0)).shape == (3, 6, 7)
        close(layer(mx.array(x), mx.array(h0)), ref)
        unbatched = layer(mx.array(x[1]), mx.array(np.zeros(7, np.float32)))
        close(unbatched, tl(t(x[1]))[0].detach().numpy())


def test_rnn_custom_nonlinearity_and_default_state(rng):
    layer = nn.RNN(4, 3, nonlinearity=nn.relu)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    wxh, whh, b = (np.array(p) for p in (layer.Wxh, layer.Whh, layer.bias))
    h = np.zeros((2, 3), np.float32)
    want = []
    for step in range(5):
        h = np.maximum(x[:, step] @ wxh.T + b + h @ whh.T, 0)
        want.append(h)
    close(layer(mx.array(x)), np.stack(want, axis=1))
    with pytest.raises(ValueError, match="callable"):
        nn.RNN(4, 3, nonlinearity="tanh")


def test_gru_without_state_leaves_out_bhn_on_the_first_step(rng):
    layer = nn.GRU(4, 3)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    wx, wh, b, bhn = (np.array(p) for p in (layer.Wx, layer.Wh, layer.b, layer.bhn))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    proj = x @ wx.T + b
    r, z = np.split(sig(proj[:, :6]), 2, axis=-1)
    h = (1 - z) * np.tanh(proj[:, 6:])
    hp = h @ wh.T
    r, z = np.split(sig(proj[1, :6] + hp[0, :6]), 2)
    h2 = (1 - z) * np.tanh(proj[1, 6:] + r * (hp[0, 6:] + bhn)) + z * h[0]
    close(layer(mx.array(x)), np.stack([h[0], h2]))


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_parameter_gradients_match_torch(rng, cls):
    layer = getattr(nn, cls)(3, 4)
    tl = torch_twin(layer)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    h0 = np.zeros((2, 4), np.float32)

    def loss(model, inp):
        out = model(inp, mx.array(h0))
        out = out[0] if isinstance(out, tuple) else out
        return (out * out).sum()

    value, grads = nn.value_and_grad(layer, loss)(layer, mx.array(x))
    out = tl(t(x), (t(h0)[None], t(h0)[None]) if cls == "LSTM" else t(h0)[None])[0]
    ref = (out * out).sum()
    ref.backward()
    close(value, ref.item(), tol=1e-4)
    names = {"RNN": ("Wxh", "Whh"), "GRU": ("Wx", "Wh"), "LSTM": ("Wx", "Wh")}[cls]
    close(grads[names[0]], tl.weight_ih_l0.grad.numpy(), tol=1e-4)
    close(grads[names[1]], tl.weight_hh_l0.grad.numpy(), tol=1e-4)
    bias_name = "b" if cls == "GRU" else "bias"
    close(grads[bias_name], tl.bias_ih_l0.grad.numpy(), tol=1e-4)
    if cls == "GRU":
        close(grads["bhn"], tl.bias_hh_l0.grad.numpy()[8:], tol=1e-4)


def test_parameters_and_bad_input():
    g = nn.GRU(5, 2)
    assert sorted(g.parameters()) == ["Wh", "Wx", "b", "bhn"]
    assert g.Wx.shape == (6, 5) and g.Wh.shape == (6, 2) and g.b.shape == (6,) and g.bhn.shape == (2,)
    assert sorted(nn.LSTM(5, 2, bias=False).parameters()) == ["Wh", "Wx"]
    assert nn.RNN(5, 2).Wxh.shape == (2, 5)
    with pytest.raises(ValueError, match=r"\[LSTM\].*input_size=5"):
        nn.LSTM(5, 2)(mx.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"\[GRU\].*\[N, L, D\]"):
        nn.GRU(5, 2)(mx.zeros((5,)))
    assert "hidden_size=2" in repr(nn.GRU(5, 2))
