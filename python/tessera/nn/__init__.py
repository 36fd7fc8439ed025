"""tessera.nn: MLX's ``mlx.nn`` (modules as trees of parameters, layers, losses, initializers)
over tessera.core, in Python as MLX's own nn is."""

from tessera.nn import init, losses  # noqa: F401
from tessera.nn.layers import *  # noqa: F401,F403
from tessera.nn.utils import checkpoint, value_and_grad  # noqa: F401
