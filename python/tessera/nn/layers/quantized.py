"""Quantized Linear and Embedding layers (MLX's affine layout) and nn.quantize."""

import math

import tessera.core as mx
from tessera.nn.layers.base import Module


class QuantizedLinear(Module):
    def __init__(self, input_dims, output_dims, bias=True, group_size=64, bits=4, mode="affine"):
        super().__init__()
        self.group_size = group_size
        self.bits = bits
        self.mode = mode
        scale = math.sqrt(1 / input_dims)
        weight = mx.random.uniform(low=-scale, high=scale, shape=(output_dims, input_dims))
        self.weight, self.scales, self.biases = mx.quantize(weight, group_size, bits, mode=mode)
        if bias:
            self.bias = mx.zeros((output_dims,))
        # The packed weights are not trainable.
        self.freeze()

    def unfreeze(self, *args, **kwargs):
        super().unfreeze(*args, **kwargs)
        self.freeze(recurse=False, keys=["weight", "scales", "biases"])
        return self

    def _extra_repr(self):
        out, packed = self.weight.shape
        return (f"input_dims={packed * 32 // self.bits}, output_dims={out}, bias={'bias' in self}, "
                f"group_size={self.group_size}, bits={self.bits}")

    def __call__(self, x):
        x = mx.quantized_matmul(x, self["weight"], scales=self["scales"], biases=self["biases"], transpose=True,
                                group_size=self.group_size, bits=self.bits, mode=self.mode)
        if "bias" in self:
            x = x + self["bias"]
        return x

    @classmethod
    def from_linear(cls, linear_layer, group_size=64, bits=4, mode="affine"):
        output_dims, input_dims = linear_layer.weight.shape
        ql = cls(input_dims, output_dims, False, group_size, bits, mode)
        ql.weight, ql.scales, ql.biases = mx.quantize(linear_layer.weight, group_size, bits, mode=mode)
        if "bias" in linear_layer:
            ql.bias = linear_layer.bias
        return ql


class QuantizedEmbedding(Module):
    def __init__(self, num_embeddings, dims, group_size=64, bits=4, mode="affine"):
        super().__init__()
        self.group_size = group_size
        self.bits = bits
        self.mode = mode
        weight = mx.random.normal(shape=(num_embeddings, dims), scale=math.sqrt(1 / dims))
        self.weight, self.scales, self.biases = mx.quantize(weight, group_size, bits, mode=mode)
        self.num_embeddings = num_embeddings
        self.dims = dims
        self.freeze()

    def __call__(self, x):
        return mx.dequantize(self["weight"][x], scales=self["scales"][x], biases=self["biases"][x],
                             group_size=self.group_size, bits=self.bits, mode=self.mode)

    def as_linear(self, x):
        return mx.quantized_matmul(x, self["weight"], scales=self["scales"], biases=self["biases"], transpose=True,
                                   group_size=self.group_size, bits=self.bits, mode=self.mode)

    @classmethod
    def from_embedding(cls, embedding_layer, group_size=64, bits=4, mode="affine"):
        num, dims = embedding_layer.weight.shape
        qe = cls(num, dims, group_size, bits, mode)
        qe.weight, qe.scales, qe.biases = mx.quantize(embedding_layer.weight, group_size, bits, mode=mode)
        return qe


def quantize(model, group_size=64, bits=4, *, mode="affine", class_predicate=None):
    """Replaces the Linear and Embedding layers (those ``class_predicate(path, module)`` accepts;
    it may also return a dict of quantization arguments) with their quantized forms, in place."""
    if class_predicate is None:
        def class_predicate(_, m):
            return hasattr(m, "to_quantized")

    def swap(path, m):
        if not hasattr(m, "to_quantized"):
            return m
        decision = class_predicate(path, m)
        if decision is False or decision is None:
            return m
        if isinstance(decision, dict):
            return m.to_quantized(**decision)
        return m.to_quantized(group_size=group_size, bits=bits, mode=mode)

    leaves = model.leaf_modules()
    from tessera.utils import tree_map_with_path

    leaves = tree_map_with_path(swap, leaves, is_leaf=Module.is_module)
    model.update_modules(leaves)
