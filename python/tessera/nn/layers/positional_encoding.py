"""Rotary (RoPE), sinusoidal and ALiBi positional encodings."""

import math

import tessera.core as mx
from tessera.nn.layers.base import Module


class RoPE(Module):
    """Rotary positional encoding of the first ``dims`` features of [..., L, D] inputs."""

    def __init__(self, dims, traditional=False, base=10000, scale=1.0):
        super().__init__()
        self.dims = dims
        self.traditional = traditional
        self.base = base
        self.scale = scale

    def _extra_repr(self):
        return f"{self.dims}, traditional={self.traditional}"

    def __call__(self, x, offset=0):
        return mx.fast.rope(x, self.dims, traditional=self.traditional, base=self.base, scale=self.scale,
                            offset=offset)


class SinusoidalPositionalEncoding(Module):
    """sin/cos features of (integer or real) positions."""

    def __init__(self, dims, min_freq=0.0001, max_freq=1, scale=None, cos_first=False, full_turns=False):
        super().__init__()
        one_zero = 1 - mx.arange(0, dims // 2) / (dims // 2 - 1)
        min_freq = math.log(min_freq)
        max_freq = math.log(max_freq)
        # Private, so it is not a parameter.
        self._sigmas = mx.exp(one_zero * (max_freq - min_freq) + min_freq)
        if full_turns:
            self._sigmas = self._sigmas * (2 * math.pi)
        self.scale = scale or (2 / dims) ** 0.5
        self.cos_first = cos_first

    def __call__(self, x):
        y = x[..., None] * self._sigmas
        cosy, siny = mx.cos(y), mx.sin(y)
        y = mx.concatenate([cosy, siny] if self.cos_first else [siny, cosy], axis=-1)
        if self.scale != 1:
            y = y * self.scale
        return y


class ALiBi(Module):
    """Attention with linear biases: adds -slope * |i - j| per head to the attention scores."""

    @staticmethod
    def create_alibi_matrix(q_sequence_length, k_sequence_length, num_heads, offset, dtype=mx.float32):
        x1 = mx.arange(offset, q_sequence_length)
        x2 = mx.arange(0, k_sequence_length)
        distance = mx.abs(x1[:, None] - x2[None, :]).astype(dtype)
        slopes = ALiBi.create_alibi_slope(num_heads).astype(dtype)
        return (-distance[None] * slopes).reshape(1, num_heads, q_sequence_length - offset, k_sequence_length)

    @staticmethod
    def create_alibi_slope(num_heads):
        x = (2**8) ** (1 / num_heads)
        out = mx.power(x, -mx.arange(1, num_heads + 1))
        return out.reshape(num_heads, 1, 1)

    def __call__(self, attention_scores, offset=0, mask=None):
        alibi = self.create_alibi_matrix(attention_scores.shape[-2] + offset, attention_scores.shape[-1],
                                         attention_scores.shape[1], offset, attention_scores.dtype)
        if mask is not None:
            alibi = alibi + mask
        return attention_scores + alibi
