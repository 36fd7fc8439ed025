"""Convolutions over channels-last inputs ([N, ..., C]) with weights [out, *kernel, in / groups]."""

import math

import tessera.core as mx
from tessera.nn.layers.base import Module


def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


class _ConvNd(Module):
    _transposed = False

    def __init__(self, n, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 output_padding=0):
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError(f"The number of input channels ({in_channels}) must be divisible by the number of "
                             f"groups ({groups})")
        kernel_size = _tuple(kernel_size, n)
        fan_in = (out_channels if self._transposed else in_channels) * math.prod(kernel_size)
        scale = math.sqrt(1 / fan_in)
        shape = (out_channels, *kernel_size, in_channels // groups)
        self.weight = mx.random.uniform(low=-scale, high=scale, shape=shape)
        if bias:
            self.bias = mx.zeros((out_channels,))
        self.n = n
        self.stride = stride if n == 1 else _tuple(stride, n)
        self.padding = padding if n == 1 else _tuple(padding, n)
        self.dilation = dilation if n == 1 else _tuple(dilation, n)
        self.output_padding = output_padding if n == 1 else _tuple(output_padding, n)
        self.groups = groups

    def _extra_repr(self):
        out, *kernel, cin = self.weight.shape
        return (f"{cin * self.groups}, {out}, kernel_size={tuple(kernel)}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, bias={'bias' in self}")

    def __call__(self, x):
        y = self._conv(x)
        if "bias" in self:
            y = y + self.bias
        return y


class Conv1d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)

    def _conv(self, x):
        return mx.conv1d(x, self.weight, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)

    def _conv(self, x):
        return mx.conv2d(x, self.weight, self.stride, self.padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__(3, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)

    def _conv(self, x):
        return mx.conv3d(x, self.weight, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose1d(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, output_padding=0,
                 groups=1, bias=True):
        super().__init__(1, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         output_padding)

    def _conv(self, x):
        return mx.conv_transpose1d(x, self.weight, self.stride, self.padding, self.dilation, self.output_padding,
                                   self.groups)


class ConvTranspose2d(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, output_padding=0,
                 groups=1, bias=True):
        super().__init__(2, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         output_padding)

    def _conv(self, x):
        return mx.conv_transpose2d(x, self.weight, self.stride, self.padding, self.dilation, self.output_padding,
                                   self.groups)


class ConvTranspose3d(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, output_padding=0,
                 groups=1, bias=True):
        super().__init__(3, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         output_padding)

    def _conv(self, x):
        return mx.conv_transpose3d(x, self.weight, self.stride, self.padding, self.dilation, self.output_padding,
                                   self.groups)
