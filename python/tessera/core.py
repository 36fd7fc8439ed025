"""tessera.core: MLX's ``mlx.core`` over Tessera (``import tessera.core as mx``).

The ops, the array type, random, fast, io and memory come from the compiled ``tessera._core``;
this module adds the pytree-aware transforms, the array methods that forward to ops, linalg
composites and a few constants.
"""

import math as _math
import sys as _sys

from tessera import _core
from tessera._core import *  # noqa: F401,F403
from tessera._core import Dtype, __version__, array, fast, random  # noqa: F401
from tessera._transforms import (  # noqa: F401
    checkpoint,
    compile,
    custom_function,
    grad,
    jvp,
    value_and_grad,
    vjp,
    vmap,
)

pi = _math.pi
e = _math.e
euler_gamma = 0.5772156649015329
inf = float("inf")
nan = float("nan")
newaxis = None

from tessera import _random_state  # noqa: E402,F401  (adds random.state)

# `import tessera.core.random` and friends resolve to the compiled submodules.
_sys.modules[__name__ + ".random"] = random
_sys.modules[__name__ + ".fast"] = fast


# ---------------------------------------------------------------- array methods
# MLX's array methods are thin forwards to the ops, with the same keywords.


def _shape_args(args):
    if len(args) == 1 and not isinstance(args[0], int):
        return args[0]
    return args


def _reshape(self, *shape, stream=None):
    return _core.reshape(self, _shape_args(shape), stream=stream)


def _transpose(self, *axes, stream=None):
    axes = _shape_args(axes) if axes else None
    return _core.transpose(self, axes, stream=stream)


def _reduction(op):
    def method(self, axis=None, keepdims=False, *, stream=None):
        return op(self, axis, keepdims, stream=stream)

    method.__name__ = op.__name__
    return method


def _var_method(op):
    def method(self, axis=None, keepdims=False, ddof=0, *, stream=None):
        return op(self, axis, keepdims, ddof, stream=stream)

    method.__name__ = op.__name__
    return method


def _scan_method(op):
    def method(self, axis=None, *, reverse=False, inclusive=True, stream=None):
        return op(self, axis, reverse=reverse, inclusive=inclusive, stream=stream)

    method.__name__ = op.__name__
    return method


def _unary_method(op):
    def method(self, *, stream=None):
        return op(self, stream=stream)

    method.__name__ = op.__name__
    return method


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d array")
    for i in range(self.shape[0]):
        yield self[i]


def _format(self, spec):
    if spec and self.size == 1:
        return format(self.item(), spec)
    return format(repr(self), spec)


def _dtype_by_name(name):
    return getattr(_core, name)


Dtype.__reduce__ = lambda self: (_dtype_by_name, (repr(self).rsplit(".", 1)[-1].replace("bool", "bool_"),))


def _reduce(self):
    import numpy as np

    return (array, (np.array(self), self.dtype))


_methods = {
    "reshape": _reshape,
    "transpose": _transpose,
    "flatten": lambda self, start_axis=0, end_axis=-1, *, stream=None: _core.flatten(
        self, start_axis, end_axis, stream=stream
    ),
    "unflatten": lambda self, axis, shape, *, stream=None: _core.unflatten(self, axis, shape, stream=stream),
    "squeeze": lambda self, axis=None, *, stream=None: _core.squeeze(self, axis, stream=stream),
    "swapaxes": lambda self, axis1, axis2, *, stream=None: _core.swapaxes(self, axis1, axis2, stream=stream),
    "moveaxis": lambda self, source, destination, *, stream=None: _core.moveaxis(
        self, source, destination, stream=stream
    ),
    "split": lambda self, indices_or_sections, axis=0, *, stream=None: _core.split(
        self, indices_or_sections, axis, stream=stream
    ),
    "diagonal": lambda self, offset=0, axis1=0, axis2=1, stream=None: _core.diagonal(
        self, offset, axis1, axis2, stream=stream
    ),
    "diag": lambda self, k=0, *, stream=None: _core.diag(self, k, stream=stream),
    "round": lambda self, decimals=0, *, stream=None: _core.round(self, decimals, stream=stream),
    "view": lambda self, dtype, *, stream=None: _core.view(self, dtype, stream=stream),
    "argmax": lambda self, axis=None, keepdims=False, *, stream=None: _core.argmax(
        self, axis, keepdims, stream=stream
    ),
    "argmin": lambda self, axis=None, keepdims=False, *, stream=None: _core.argmin(
        self, axis, keepdims, stream=stream
    ),
    "__iter__": _iter,
    "__format__": _format,
    "__copy__": lambda self: self,
    "__deepcopy__": lambda self, memo: array(self),
    "__reduce__": _reduce,
}
for _name in ("all", "any", "sum", "prod", "mean", "max", "min", "logsumexp"):
    _methods[_name] = _reduction(getattr(_core, _name))
for _name in ("var", "std"):
    _methods[_name] = _var_method(getattr(_core, _name))
for _name in ("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"):
    _methods[_name] = _scan_method(getattr(_core, _name))
for _name in (
    "abs",
    "conj",
    "cos",
    "exp",
    "log",
    "log10",
    "log1p",
    "log2",
    "reciprocal",
    "rsqrt",
    "sin",
    "sqrt",
    "square",
):
    _methods[_name] = _unary_method(getattr(_core, _name))
for _name, _fn in _methods.items():
    setattr(array, _name, _fn)
del _name, _fn


# ---------------------------------------------------------------- dtype info


class finfo:
    """Machine limits of a floating point dtype (MLX's ``mx.finfo``)."""

    _table = {
        "float16": (65504.0, 2.0**-10, 2.0**-14),
        "bfloat16": (3.3895313892515355e38, 2.0**-7, 1.1754943508222875e-38),
        "float32": (3.4028234663852886e38, 2.0**-23, 1.1754943508222875e-38),
        "float64": (1.7976931348623157e308, 2.0**-52, 2.2250738585072014e-308),
        "complex64": (3.4028234663852886e38, 2.0**-23, 1.1754943508222875e-38),
    }

    def __init__(self, dtype):
        name = repr(dtype).rsplit(".", 1)[-1]
        if name not in self._table:
            raise ValueError(f"[finfo] dtype {name} is not inexact.")
        self.dtype = dtype
        self.max, self.eps, self.tiny = self._table[name]
        self.min = -self.max
        self.smallest_normal = self.tiny

    def __repr__(self):
        return f"finfo(min={self.min}, max={self.max}, dtype={self.dtype})"


class iinfo:
    """Limits of an integer dtype (MLX's ``mx.iinfo``)."""

    def __init__(self, dtype):
        name = repr(dtype).rsplit(".", 1)[-1]
        if name.startswith("int"):
            bits = int(name[3:])
            self.min, self.max = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        elif name.startswith("uint"):
            bits = int(name[4:])
            self.min, self.max = 0, 2**bits - 1
        else:
            raise ValueError(f"[iinfo] dtype {name} is not an integer type.")
        self.dtype = dtype

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# ---------------------------------------------------------------- device namespaces
# MLX scripts probe `mx.metal` / `mx.cuda` and read memory statistics through them; here neither
# backend exists and the statistics are the allocator's.
class _BackendNamespace:
    def __init__(self, name):
        self.__name__ = f"{__name__}.{name}"

    @staticmethod
    def is_available():
        return False

    get_active_memory = staticmethod(_core.get_active_memory)
    get_peak_memory = staticmethod(_core.get_peak_memory)
    reset_peak_memory = staticmethod(_core.reset_peak_memory)
    get_cache_memory = staticmethod(_core.get_cache_memory)
    set_memory_limit = staticmethod(_core.set_memory_limit)
    set_cache_limit = staticmethod(_core.set_cache_limit)
    set_wired_limit = staticmethod(_core.set_wired_limit)
    clear_cache = staticmethod(_core.clear_cache)


metal = _BackendNamespace("metal")
cuda = _BackendNamespace("cuda")


# ---------------------------------------------------------------- linalg
from tessera import _linalg as linalg  # noqa: E402

_sys.modules[__name__ + ".linalg"] = linalg
