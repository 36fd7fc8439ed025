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


def sparse(sparsity, mean=0.0, std=1.0, dtype=mx.float32):
    """Normal samples with ``ceil(sparsity * columns)`` entries of every row set to zero (the
    zeroed columns drawn independently per row)."""

    def initializer(a):
        if a.ndim != 2:
            raise ValueError(f"[init.sparse] Only 2-D arrays are supported, got shape {a.shape}.")
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError(f"[init.sparse] sparsity must be in [0, 1], got {sparsity}.")
        rows, cols = a.shape
        zeros = int(math.ceil(sparsity * cols))
        # A random permutation of each row's columns; its first `zeros` entries are dropped.
        order = mx.argsort(mx.random.uniform(shape=(rows, cols)), axis=1)
        rank = mx.argsort(order, axis=1)
        values = mx.random.normal(shape=(rows, cols), scale=std, loc=mean)
        return mx.where(rank < zeros, mx.zeros_like(values), values).astype(dtype)

    return initializer


def _orthonormal_columns(m):
    """Q of the QR factorization of a square matrix with R's diagonal positive: Gram-Schmidt with
    a second projection pass per column (columns stay orthogonal to float32 rounding)."""
    n = m.shape[0]
    cols = []
    for j in range(n):
        v = m[:, j]
        if cols:
            q = mx.stack(cols, axis=1)
            for _ in range(2):
                v = v - q @ (q.T @ v)
        v = v / mx.sqrt((v * v).sum())
        mx.eval(v)
        cols.append(v)
    return mx.stack(cols, axis=1)


def orthogonal(gain=1.0, dtype=mx.float32):
    """A random matrix with orthonormal rows or columns (whichever are fewer), times ``gain``: the
    Q factor of a Gaussian matrix's QR factorization with R's diagonal made positive."""

    def initializer(a):
        if a.ndim != 2:
            raise ValueError(f"[init.orthogonal] Orthogonal initialization needs a 2-D array, got shape {a.shape}.")
        rows, cols = a.shape
        n = max(rows, cols)
        q = _orthonormal_columns(mx.random.normal(shape=(n, n)))
        if rows < cols:
            q = q.T
        return (gain * q[:rows, :cols]).astype(dtype)

    return initializer
