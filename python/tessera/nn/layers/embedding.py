"""Embedding."""

import math

import tessera.core as mx
from tessera.nn.layers.base import Module


class Embedding(Module):
    """A [num_embeddings, dims] table looked up by integer indices."""

    def __init__(self, num_embeddings, dims):
        super().__init__()
        scale = math.sqrt(1 / dims)
        self.weight = mx.random.normal(shape=(num_embeddings, dims), scale=scale)

    def _extra_repr(self):
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"

    def __call__(self, x):
        return self.weight[x]

    def as_linear(self, x):
        """The table as an output projection (weight tying): x @ W^T."""
        return x @ self.weight.T

    def to_quantized(self, group_size=64, bits=4, mode="affine"):
        from tessera.nn.layers.quantized import QuantizedEmbedding

        return QuantizedEmbedding.from_embedding(self, group_size, bits, mode=mode)
