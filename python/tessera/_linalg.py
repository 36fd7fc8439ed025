"""tessera.core.linalg: the parts of MLX's ``mx.linalg`` that compose from core ops.

Tessera's C++ core has no matrix decompositions yet, so norms are here and ``inv``, ``svd``,
``qr``, ``cholesky`` and friends are not.
"""

from tessera import _core


def _vector_norm(x, ord, axis, keepdims, stream):
    a = _core.abs(x, stream=stream)
    if ord is None or ord == 2:
        return _core.sqrt(_core.sum(a * a, axis, keepdims, stream=stream), stream=stream)
    if ord == float("inf"):
        return _core.max(a, axis, keepdims, stream=stream)
    if ord == float("-inf"):
        return _core.min(a, axis, keepdims, stream=stream)
    if ord == 0:
        return _core.sum((a != 0).astype(a.dtype), axis, keepdims, stream=stream)
    if ord == 1:
        return _core.sum(a, axis, keepdims, stream=stream)
    if isinstance(ord, str):
        raise ValueError(f"[linalg.norm] Norm order '{ord}' is only defined for matrices.")
    return _core.power(_core.sum(_core.power(a, ord, stream=stream), axis, keepdims, stream=stream), 1.0 / ord)


def _matrix_norm(x, ord, axis, keepdims, stream):
    r, c = axis
    a = _core.abs(x, stream=stream)
    if ord is None or ord == "fro":
        return _core.sqrt(_core.sum(a * a, axis, keepdims, stream=stream), stream=stream)
    col, row = (c if c >= 0 else c + x.ndim), (r if r >= 0 else r + x.ndim)
    if ord in (1, -1):
        s = _core.sum(a, row, True, stream=stream)
        red = _core.max if ord == 1 else _core.min
        out = red(s, col, True, stream=stream)
    elif ord in (float("inf"), float("-inf")):
        s = _core.sum(a, col, True, stream=stream)
        red = _core.max if ord > 0 else _core.min
        out = red(s, row, True, stream=stream)
    else:
        raise ValueError(f"[linalg.norm] Matrix norm order {ord!r} needs a singular value decomposition, which "
                         "Tessera's core does not have yet.")
    if not keepdims:
        out = _core.squeeze(out, (row, col))
    return out


def norm(a, /, ord=None, axis=None, keepdims=False, *, stream=None):
    """Matrix or vector norm, with NumPy's and MLX's conventions for ``ord`` and ``axis``."""
    a = _core.array(a) if not isinstance(a, _core.array) else a
    if isinstance(axis, int):
        axis = (axis,)
    if axis is None:
        if ord is None:
            return _core.sqrt(_core.sum(_core.abs(a) * _core.abs(a), None, keepdims, stream=stream))
        if a.ndim == 1:
            return _vector_norm(a, ord, None, keepdims, stream)
        if a.ndim == 2:
            return _matrix_norm(a, ord, (0, 1), keepdims, stream)
        raise ValueError("[linalg.norm] Norms with an order need an axis for arrays with more than 2 dimensions.")
    axis = tuple(axis)
    if len(axis) == 1:
        return _vector_norm(a, ord, axis, keepdims, stream)
    if len(axis) == 2:
        return _matrix_norm(a, ord, axis, keepdims, stream)
    raise ValueError("[linalg.norm] axis must be an int or a pair of ints.")
