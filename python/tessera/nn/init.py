"""Parameter initializers: each returns a function that takes an array and returns a new array of
its shape (MLX's ``mlx.nn.init``)."""

import math

import tessera.core as mx


def constant(value, dtype=mx.float32):
    def initializer(a):
        return mx.full(a.shape, value, dtype=dtype)

    return initializer


def normal(mean=0.0, std=1.0, dtype=mx.float32):
    def initializer(a):
        return mx.random.normal(shape=a.shape, scale=std, loc=mean, dtype=dtype)

    return initializer


def uniform(low=0.0, high=1.0, dtype=mx.float32):
    def initializer(a):
        return mx.random.uniform(low, high, a.shape, dtype=dtype)

    return initializer


def identity(dtype=mx.float32):
    def initializer(arr):
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
            raise ValueError(f"The input array must be a 2D square matrix but got shape {arr.shape}.")
        return mx.eye(n=arr.shape[0], dtype=dtype)

    return initializer


def _fans(x):
    if x.ndim < 2:
        raise ValueError(f"Glorot / He initialization requires at least 2 dimensional input but input with "
                         f"{x.ndim} dimensions.")
    fan_in, fan_out = x.shape[-1], x.shape[0]
    if x.ndim > 2:
        receptive = math.prod(x.shape[1:-1])
        fan_in *= receptive
        fan_out *= receptive
    return fan_in, fan_out


def glorot_normal(dtype=mx.float32):
    def initializer(a, gain=1.0):
        fan_in, fan_out = _fans(a)
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        return mx.random.normal(shape=a.shape, dtype=dtype) * std

    return initializer


def glorot_uniform(dtype=mx.float32):
    def initializer(a, gain=1.0):
        fan_in, fan_out = _fans(a)
        limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer


def he_normal(dtype=mx.float32):
    def initializer(a, mode="fan_in", gain=1.0):
        fan_in, fan_out = _fans(a)
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"Invalid mode: {mode}. Valid modes are: fan_in, fan_out")
        std = gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)
        return mx.random.normal(shape=a.shape, dtype=dtype) * std

    return initializer


def he_uniform(dtype=mx.float32):
    def initializer(a, mode="fan_in", gain=1.0):
        fan_in, fan_out = _fans(a)
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"Invalid mode: {mode}. Valid modes are: fan_in, fan_out")
        limit = gain * math.sqrt(3.0 / (fan_in if mode == "fan_in" else fan_out))
        return mx.random.uniform(-limit, limit, a.shape, dtype=dtype)

    return initializer
