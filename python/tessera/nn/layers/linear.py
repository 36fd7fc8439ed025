"""Identity, Linear and Bilinear (MLX's initialization: uniform in +-1/sqrt(fan_in))."""

import math

import tessera.core as mx
from tessera.nn.layers.base import Module


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def __call__(self, x):
        return x


class Linear(Module):
    """y = x W^T + b with W of shape [output_dims, input_dims]."""

    def __init__(self, input_dims, output_dims, bias=True):
        super().__init__()
        scale = math.sqrt(1.0 / input_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def _extra_repr(self):
        return f"input_dims={self.weight.shape[1]}, output_dims={self.weight.shape[0]}, bias={'bias' in self}"

    def __call__(self, x):
        w = self["weight"]
        if "bias" not in self:
            return x @ w.T
        if x.ndim == 2:
            return mx.addmm(self["bias"], x, w.T)
        if x.ndim < 2:
            return x @ w.T + self["bias"]
        # addmm on the flattened rows keeps the fused bias without broadcasting the weight.
        y = mx.addmm(self["bias"], x.reshape(-1, x.shape[-1]), w.T)
        return y.reshape(*x.shape[:-1], w.shape[0])

    def to_quantized(self, group_size=64, bits=4, mode="affine"):
        from tessera.nn.layers.quantized import QuantizedLinear

        return QuantizedLinear.from_linear(self, group_size, bits, mode=mode)


class Bilinear(Module):
    """y_i = x1^T W_i x2 + b_i."""

    def __init__(self, input1_dims, input2_dims, output_dims, bias=True):
        super().__init__()
        scale = math.sqrt(1.0 / input1_dims)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input2_dims, input1_dims))
        if bias:
            self.bias = mx.random.uniform(low=-scale, high=scale, shape=(output_dims,))

    def __call__(self, x1, x2):
        out_dims, in2, in1 = self.weight.shape
        shape = x1.shape
        x1 = x1.reshape(-1, in1)
        x2 = x2.reshape(-1, 1, in2)
        w = self.weight.reshape(out_dims * in2, in1)
        y = (x1 @ w.T).reshape(-1, out_dims, in2).swapaxes(-2, -1)
        y = (x2 @ y).squeeze(1)
        y = y.reshape(*shape[:-1], out_dims)
        if "bias" in self:
            y = y + self.bias
        return y
