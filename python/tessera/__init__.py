"""Tessera: lazy arrays, composable transforms and an MLX-compatible Python API.

``import tessera.core as mx`` gives MLX's ``mlx.core``; ``tessera.nn``, ``tessera.optimizers``
and ``tessera.utils`` follow ``mlx.nn``, ``mlx.optimizers`` and ``mlx.utils``.
"""

__version__ = "0.1.0"
