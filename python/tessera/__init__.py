"""Tessera: lazy arrays, composable transforms and an MLX-compatible Python API.

``import tessera.core as mx`` gives MLX's ``mlx.core``; ``tessera.nn``, ``tessera.optimizers``
and ``tessera.utils`` follow ``mlx.nn``, ``mlx.optimizers`` and ``mlx.utils``.
"""

__version__ = "0.1.0"

import os as _os

# oneDNN's OpenMP workers spin after each product unless told otherwise, taking the cores from
# Tessera's own threads. The runtime reads the policy once, when the extension loads it, so it
# is set here, before any submodule imports tessera._core; a user's own setting is kept.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# OpenBLAS's workers likewise spin for ~2^28 cycles after each product (read when OpenBLAS loads;
# too late if NumPy loaded it first, harmless then).
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
