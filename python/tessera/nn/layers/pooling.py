"""Max and average pooling over the spatial axes of channels-last inputs."""

import tessera.core as mx
from tessera.nn.layers.base import Module


def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


class _Pool(Module):
    def __init__(self, n, reduce, kernel_size, stride, padding, pad_value):
        super().__init__()
        self._n = n
        self._reduce = reduce
        self._kernel = _tuple(kernel_size, n)
        self._stride = _tuple(stride if stride is not None else kernel_size, n)
        self._padding = _tuple(padding, n)
        self._pad_value = pad_value

    def _extra_repr(self):
        return f"kernel_size={self._kernel}, stride={self._stride}, padding={self._padding}"

    def __call__(self, x):
        n = self._n
        if any(self._padding):
            pads = [(0, 0)] + [(p, p) for p in self._padding] + [(0, 0)]
            x = mx.pad(x, pads, constant_values=self._pad_value)
        # Windows as a strided view [N, *out, *kernel, C], then one reduction over the kernel axes.
        shape = x.shape
        spatial = shape[1:1 + n]
        out = [(s - k) // st + 1 for s, k, st in zip(spatial, self._kernel, self._stride)]
        strides = [1] * len(shape)
        for i in range(len(shape) - 2, -1, -1):
            strides[i] = strides[i + 1] * shape[i + 1]
        new_shape = [shape[0], *out, *self._kernel, shape[-1]]
        new_strides = [strides[0], *(strides[1 + i] * self._stride[i] for i in range(n)),
                       *(strides[1 + i] for i in range(n)), strides[-1]]
        windows = mx.as_strided(mx.contiguous(x), new_shape, new_strides)
        axes = tuple(range(1 + n, 1 + 2 * n))
        return self._reduce(windows, axis=axes)


class MaxPool1d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(1, mx.max, kernel_size, stride, padding, float("-inf"))


class MaxPool2d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(2, mx.max, kernel_size, stride, padding, float("-inf"))


class AvgPool1d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(1, mx.mean, kernel_size, stride, padding, 0)


class AvgPool2d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(2, mx.mean, kernel_size, stride, padding, 0)


class MaxPool3d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(3, mx.max, kernel_size, stride, padding, float("-inf"))


class AvgPool3d(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(3, mx.mean, kernel_size, stride, padding, 0)
