// tessera._core: the compiled part of `tessera.core` (tessera/core.py re-exports it and adds the
// pytree-aware transforms, array methods and linalg written in Python).
#include "common.h"

PYBIND11_MODULE(_core, m) {
  using namespace tessera::py_bind;
  m.doc() = "Tessera arrays, ops and transforms (the MLX Python API over Tessera's C++ core).";
  init_array(m);
  init_ops(m);
  init_ops_reduce(m);
  init_transforms(m);
  init_random(m);
  init_fast_io_memory(m);
  m.attr("__version__") = tessera::version();
}
