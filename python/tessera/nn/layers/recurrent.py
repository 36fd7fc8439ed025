"""Elman RNN, GRU and LSTM layers over sequences shaped [N, L, D] or [L, D].

Weights follow MLX's layout: input projections [gates * H, D], hidden projections
[gates * H, H], gates stacked in the order the equations name them (GRU: r, z, n; LSTM: i, f, g,
o), which is also PyTorch's order. The input projection of the whole sequence is one product up
front; only the hidden projection runs per step.

Passing no initial state means "no previous step": the first step has no hidden-state term at
all. For RNN and LSTM that equals a zero state; for GRU it also leaves out ``bhn`` on the first
step (as MLX does), so a zero state passed explicitly is what matches PyTorch's default.
"""

import math

import tessera.core as mx
from tessera.nn.layers.activations import tanh
from tessera.nn.layers.base import Module


def _uniform_init(hidden_size, *shape):
    scale = 1.0 / math.sqrt(hidden_size)
    return mx.random.uniform(low=-scale, high=scale, shape=shape)


def _check_input(name, x, input_size):
    if x.ndim not in (2, 3):
        raise ValueError(f"[{name}] Expected an input of shape [N, L, D] or [L, D] but got shape {x.shape}.")
    if x.shape[-1] != input_size:
        raise ValueError(f"[{name}] The input's last axis has size {x.shape[-1]} but the layer expects "
                         f"input_size={input_size} (input shape {x.shape}).")


def _project_input(x, weight, bias):
    """x [.., L, D] -> x W^T + b [.., L, gates * H], as one product over all steps."""
    if bias is None:
        return x @ weight.T
    rows = x.reshape(-1, x.shape[-1])
    return mx.addmm(bias, rows, weight.T).reshape(*x.shape[:-1], weight.shape[0])


class RNN(Module):
    """Elman recurrence h_t = nonlinearity(W_xh x_t + W_hh h_{t-1} + b); returns every h_t."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity=None):
        super().__init__()
        self.nonlinearity = nonlinearity or tanh
        if not callable(self.nonlinearity):
            raise ValueError(f"[RNN] nonlinearity must be callable, got {nonlinearity!r}.")
        self.hidden_size = hidden_size
        self.Wxh = _uniform_init(hidden_size, hidden_size, input_size)
        self.Whh = _uniform_init(hidden_size, hidden_size, hidden_size)
        self.bias = _uniform_init(hidden_size, hidden_size) if bias else None

    def _extra_repr(self):
        return (f"input_dims={self.Wxh.shape[1]}, hidden_size={self.hidden_size}, "
                f"nonlinearity={self.nonlinearity}, bias={self.bias is not None}")

    def __call__(self, x, hidden=None):
        _check_input("RNN", x, self.Wxh.shape[1])
        x = _project_input(x, self.Wxh, self.bias)
        whh_t = self.Whh.T
        steps = []
        for t in range(x.shape[-2]):
            pre = x[..., t, :]
            if hidden is not None:
                pre = pre + hidden @ whh_t
            hidden = self.nonlinearity(pre)
            steps.append(hidden)
        return mx.stack(steps, axis=-2)


class GRU(Module):
    """Gated recurrent unit:

    r = sigma(W_xr x + W_hr h + b_r), z = sigma(W_xz x + W_hz h + b_z),
    n = tanh(W_xn x + b_n + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
    """

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.Wx = _uniform_init(hidden_size, 3 * hidden_size, input_size)
        self.Wh = _uniform_init(hidden_size, 3 * hidden_size, hidden_size)
        self.b = _uniform_init(hidden_size, 3 * hidden_size) if bias else None
        self.bhn = _uniform_init(hidden_size, hidden_size) if bias else None

    def _extra_repr(self):
        return f"input_dims={self.Wx.shape[1]}, hidden_size={self.hidden_size}, bias={self.b is not None}"

    def __call__(self, x, hidden=None):
        _check_input("GRU", x, self.Wx.shape[1])
        H = self.hidden_size
        x = _project_input(x, self.Wx, self.b)
        x_rz, x_n = x[..., :2 * H], x[..., 2 * H:]
        wh_t = self.Wh.T
        steps = []
        for t in range(x.shape[-2]):
            rz = x_rz[..., t, :]
            n = x_n[..., t, :]
            if hidden is None:
                r, z = mx.split(mx.sigmoid(rz), 2, axis=-1)
                hidden = (1 - z) * mx.tanh(n)
            else:
                h_proj = hidden @ wh_t
                h_n = h_proj[..., 2 * H:]
                if self.bhn is not None:
                    h_n = h_n + self.bhn
                r, z = mx.split(mx.sigmoid(rz + h_proj[..., :2 * H]), 2, axis=-1)
                n = mx.tanh(n + r * h_n)
                hidden = (1 - z) * n + z * hidden
            steps.append(hidden)
        return mx.stack(steps, axis=-2)


class LSTM(Module):
    """Long short-term memory; returns (every h_t, every c_t):

    i, f, o = sigma(.), g = tanh(.) of W_x x + W_h h + b, c' = f * c + i * g, h' = o * tanh(c').
    """

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.Wx = _uniform_init(hidden_size, 4 * hidden_size, input_size)
        self.Wh = _uniform_init(hidden_size, 4 * hidden_size, hidden_size)
        self.bias = _uniform_init(hidden_size, 4 * hidden_size) if bias else None

    def _extra_repr(self):
        return f"input_dims={self.Wx.shape[1]}, hidden_size={self.hidden_size}, bias={self.bias is not None}"

    def __call__(self, x, hidden=None, cell=None):
        _check_input("LSTM", x, self.Wx.shape[1])
        x = _project_input(x, self.Wx, self.bias)
        wh_t = self.Wh.T
        hiddens, cells = [], []
        for t in range(x.shape[-2]):
            gates = x[..., t, :]
            if hidden is not None:
                gates = gates + hidden @ wh_t
            i, f, g, o = mx.split(gates, 4, axis=-1)
            i, f, g, o = mx.sigmoid(i), mx.sigmoid(f), mx.tanh(g), mx.sigmoid(o)
            cell = i * g if cell is None else f * cell + i * g
            hidden = o * mx.tanh(cell)
            hiddens.append(hidden)
            cells.append(cell)
        return mx.stack(hiddens, axis=-2), mx.stack(cells, axis=-2)
