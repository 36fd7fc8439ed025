"""Dropout layers: identity in eval mode, scaled Bernoulli masks in training."""

import tessera.core as mx
from tessera.nn.layers.base import Module


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"The dropout probability {p} is not in [0, 1)")
        self._p_1 = 1 - p

    def _extra_repr(self):
        return f"p={1 - self._p_1}"

    def __call__(self, x):
        if self._p_1 == 1 or not self.training:
            return x
        mask = mx.random.bernoulli(self._p_1, x.shape)
        return (mask * x) * (1 / self._p_1)


class Dropout2d(Module):
    """Drops whole channels of [N, H, W, C] (or [H, W, C]) inputs."""

    def __init__(self, p=0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"The dropout probability {p} is not in [0, 1)")
        self._p_1 = 1 - p

    def __call__(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Received input with {x.ndim} dimensions. Expected 3 or 4 dimensions.")
        if self._p_1 == 1 or not self.training:
            return x
        shape = list(x.shape)
        shape[-2] = shape[-3] = 1
        mask = mx.random.bernoulli(p=self._p_1, shape=shape)
        return (1 / self._p_1) * mask * x


class Dropout3d(Module):
    """Drops whole channels of [N, D, H, W, C] (or [D, H, W, C]) inputs."""

    def __init__(self, p=0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"The dropout probability {p} is not in [0, 1)")
        self._p_1 = 1 - p

    def __call__(self, x):
        if x.ndim not in (4, 5):
            raise ValueError(f"Received input with {x.ndim} dimensions. Expected 4 or 5 dimensions.")
        if self._p_1 == 1 or not self.training:
            return x
        shape = list(x.shape)
        shape[-2] = shape[-3] = shape[-4] = 1
        mask = mx.random.bernoulli(p=self._p_1, shape=shape)
        return (1 / self._p_1) * mask * x
