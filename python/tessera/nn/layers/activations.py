"""Activation functions and their Module forms (MLX's names, defaults and formulas)."""

import math

import tessera.core as mx
from tessera.nn.layers.base import Module


def sigmoid(x):
    return mx.sigmoid(x)


def relu(x):
    return mx.maximum(x, 0)


def relu6(x):
    return mx.minimum(mx.maximum(x, 0), 6.0)


def leaky_relu(x, negative_slope=0.01):
    return mx.maximum(negative_slope * x, x)


def log_softmax(x, axis=-1):
    return x - mx.logsumexp(x, axis=axis, keepdims=True)


def softmax(x, axis=-1):
    return mx.softmax(x, axis=axis)


def softmin(x, axis=-1):
    return mx.softmax(-x, axis=axis)


def elu(x, alpha=1.0):
    return mx.where(x > 0, x, alpha * (mx.exp(x) - 1))


def celu(x, alpha=1.0):
    return mx.maximum(x, 0.0) + alpha * (mx.exp(mx.minimum(x, 0.0) / alpha) - 1)


def selu(x):
    return elu(x, 1.67326) * 1.0507


def softplus(x):
    return mx.logaddexp(x, 0)


def softsign(x):
    return mx.divide(x, 1 + mx.abs(x))


def silu(x):
    return x * mx.sigmoid(x)


def log_sigmoid(x):
    return -softplus(-x)


def gelu(x):
    """The exact GELU: x * Phi(x)."""
    return x * (1 + mx.erf(x / math.sqrt(2))) / 2


def gelu_approx(x):
    """GELU with the tanh approximation."""
    return 0.5 * x * (1 + mx.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_fast_approx(x):
    """GELU as x * sigmoid(1.702 x)."""
    return x * mx.sigmoid(1.702 * x)


def glu(x, axis=-1):
    a, b = mx.split(x, indices_or_sections=2, axis=axis)
    return a * mx.sigmoid(b)


def step(x, threshold=0.0):
    return mx.where(x > threshold, 1, 0)


def mish(x):
    return x * mx.tanh(softplus(x))


def prelu(x, alpha):
    return mx.maximum(0, x) + alpha * mx.minimum(0, x)


def hardswish(x):
    return x * mx.minimum(mx.maximum(x + 3, 0), 6) / 6


def hard_tanh(x, min_val=-1.0, max_val=1.0):
    return mx.minimum(mx.maximum(x, min_val), max_val)


def hard_shrink(x, lambd=0.5):
    return mx.where(mx.abs(x) > lambd, x, 0)


def soft_shrink(x, lambd=0.5):
    return mx.where(mx.abs(x) > lambd, x - mx.sign(x) * lambd, 0)


def tanh(x):
    return mx.tanh(x)


def _module(fn, name, doc=None):
    class Activation(Module):
        def __call__(self, x):
            return fn(x)

    Activation.__name__ = Activation.__qualname__ = name
    Activation.__doc__ = doc or f"Applies :func:`{fn.__name__}` elementwise."
    return Activation


Sigmoid = _module(sigmoid, "Sigmoid")
ReLU = _module(relu, "ReLU")
ReLU6 = _module(relu6, "ReLU6")
SELU = _module(selu, "SELU")
SiLU = _module(silu, "SiLU")
Softplus = _module(softplus, "Softplus")
Softsign = _module(softsign, "Softsign")
Mish = _module(mish, "Mish")
Hardswish = _module(hardswish, "Hardswish")
LogSigmoid = _module(log_sigmoid, "LogSigmoid")
Tanh = _module(tanh, "Tanh")


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self._negative_slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._negative_slope)


class ELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


class CELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


class GELU(Module):
    """GELU; ``approx`` is 'none' (or 'precise'), 'tanh' or 'fast'."""

    def __init__(self, approx="none"):
        super().__init__()
        if approx in ("none", "precise"):
            self._fn = gelu
        elif approx == "tanh":
            self._fn = gelu_approx
        elif approx == "fast":
            self._fn = gelu_fast_approx
        else:
            raise ValueError(f"The approximation should be in ['none', 'precise', 'tanh', 'fast'] but '{approx}' "
                             "was given")

    def __call__(self, x):
        return self._fn(x)


class GLU(Module):
    def __init__(self, axis=-1):
        super().__init__()
        self._axis = axis

    def __call__(self, x):
        return glu(x, self._axis)


class Softmax(Module):
    def __call__(self, x):
        return softmax(x)


class Softmin(Module):
    def __call__(self, x):
        return softmin(x)


class LogSoftmax(Module):
    def __call__(self, x):
        return log_softmax(x)


class Step(Module):
    def __init__(self, threshold=0.0):
        super().__init__()
        self._threshold = threshold

    def __call__(self, x):
        return step(x, self._threshold)


class HardTanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        self._min, self._max = min_val, max_val

    def __call__(self, x):
        return hard_tanh(x, self._min, self._max)


class HardShrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self._lambd = lambd

    def __call__(self, x):
        return hard_shrink(x, self._lambd)


class SoftShrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self._lambd = lambd

    def __call__(self, x):
        return soft_shrink(x, self._lambd)


class PReLU(Module):
    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.weight = mx.full([num_parameters], init)

    def __call__(self, x):
        return prelu(x, self.weight)
