"""LayerNorm, RMSNorm, GroupNorm, InstanceNorm and BatchNorm (features on the last axis)."""

import tessera.core as mx
from tessera.nn.layers.base import Module


class InstanceNorm(Module):
    def __init__(self, dims, eps=1e-5, affine=False):
        super().__init__()
        if affine:
            self.weight = mx.ones((dims,))
            self.bias = mx.zeros((dims,))
        self.dims = dims
        self.eps = eps

    def __call__(self, x):
        reduction_axes = tuple(range(1, x.ndim - 1))
        mean = mx.mean(x, axis=reduction_axes, keepdims=True)
        var = mx.var(x, axis=reduction_axes, keepdims=True)
        x = (x - mean) * mx.rsqrt(var + self.eps)
        return (self.weight * x + self.bias) if "weight" in self else x


class LayerNorm(Module):
    def __init__(self, dims, eps=1e-5, affine=True, bias=True):
        super().__init__()
        if affine:
            self.weight = mx.ones((dims,))
            if bias:
                self.bias = mx.zeros((dims,))
        self.dims = dims
        self.eps = eps

    def _extra_repr(self):
        return f"{self.dims}, eps={self.eps}, affine={'weight' in self}"

    def __call__(self, x):
        weight = self.weight if "weight" in self else None
        bias = self.bias if "bias" in self else None
        return mx.fast.layer_norm(x, weight, bias, self.eps)


class RMSNorm(Module):
    def __init__(self, dims, eps=1e-5):
        super().__init__()
        self.weight = mx.ones((dims,))
        self.eps = eps

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, eps={self.eps}"

    def __call__(self, x):
        return mx.fast.rms_norm(x, self["weight"], self.eps)


class GroupNorm(Module):
    def __init__(self, num_groups, dims, eps=1e-5, affine=True, pytorch_compatible=False):
        super().__init__()
        if affine:
            self.bias = mx.zeros((dims,))
            self.weight = mx.ones((dims,))
        self.num_groups = num_groups
        self.dims = dims
        self.eps = eps
        self.pytorch_compatible = pytorch_compatible

    def _norm(self, x, groups_last):
        batch, *rest, dims = x.shape
        group_size = dims // self.num_groups
        if groups_last:
            # PyTorch groups consecutive channels: normalize over the spatial axes and the group.
            x = x.reshape(batch, -1, self.num_groups, group_size)
            x = x.transpose(0, 2, 1, 3).reshape(batch, self.num_groups, -1)
            mean = mx.mean(x, axis=-1, keepdims=True)
            var = mx.var(x, axis=-1, keepdims=True)
            x = (x - mean) * mx.rsqrt(var + self.eps)
            x = x.reshape(batch, self.num_groups, -1, group_size).transpose(0, 2, 1, 3)
            return x.reshape(batch, *rest, dims)
        x = x.reshape(batch, -1, group_size, self.num_groups)
        mean = mx.mean(x, axis=(1, 2), keepdims=True)
        var = mx.var(x, axis=(1, 2), keepdims=True)
        x = (x - mean) * mx.rsqrt(var + self.eps)
        return x.reshape(batch, *rest, dims)

    def __call__(self, x):
        x = self._norm(x, self.pytorch_compatible)
        return (self.weight * x + self.bias) if "weight" in self else x


class BatchNorm(Module):
    """Normalizes over every axis but the last; running statistics are kept for eval mode and are
    not trained."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = mx.ones((num_features,))
            self.bias = mx.zeros((num_features,))
        if track_running_stats:
            self.running_mean = mx.zeros((num_features,))
            self.running_var = mx.ones((num_features,))
            self.freeze(keys=["running_mean", "running_var"], recurse=False)

    def unfreeze(self, *args, **kwargs):
        super().unfreeze(*args, **kwargs)
        self.freeze(keys=["running_mean", "running_var"], recurse=False)
        return self

    def _extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={'weight' in self}"

    def __call__(self, x):
        if x.ndim < 2 or x.ndim > 4:
            raise ValueError(f"Expected input tensor to have 2, 3 or 4 dimensions, but got {x.ndim}")
        axes = tuple(range(0, x.ndim - 1))
        if self.training or not self.track_running_stats:
            mean = mx.mean(x, axis=axes)
            var = mx.var(x, axis=axes)
            if self.training and self.track_running_stats:
                # MLX keeps the biased batch variance in the running estimate.
                mu = self.momentum
                self.running_mean = (1 - mu) * self.running_mean + mu * mx.stop_gradient(mean)
                self.running_var = (1 - mu) * self.running_var + mu * mx.stop_gradient(var)
        else:
            mean, var = self.running_mean, self.running_var
        x = (x - mean) * mx.rsqrt(var + self.eps)
        return (self.weight * x + self.bias) if "weight" in self else x
