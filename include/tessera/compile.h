// Function compilation (follows MLX's compile.h). `compile` traces a function once per input
// signature, simplifies the traced graph (common subexpressions merged, constant subgraphs
// folded, no-op reshapes/casts/broadcasts dropped) and fuses chains of elementwise and broadcast
// ops into single kernels; later calls with the same signature replay the cached graph without
// running the function again.
//
// Arrays the function captures instead of taking as inputs are constants of the trace: their
// values at the first call are used by every later call (pass them as inputs if they change).
// Calling eval on an array that depends on the inputs while the function is being traced is an
// error, as is anything else that needs input values (item(), printing).
#pragma once

#include <functional>
#include <vector>

#include "tessera/array.h"

namespace tessera {

enum class CompileMode {
  disabled,     // compile returns the function itself
  no_simplify,  // trace and fuse, no simplification
  no_fuse,      // trace and simplify, no fusion
  enabled,
};

// Returns a function computing the same outputs as `fun`. The cache key is the inputs' dtypes
// and shapes; with shapeless = true only dtypes and ranks, and the single trace is replayed for
// other shapes (functions whose ops fix a shape, e.g. a reshape to a literal shape, fail there
// with an error naming the op).
std::function<std::vector<array>(const std::vector<array>&)> compile(
    std::function<std::vector<array>(const std::vector<array>&)> fun, bool shapeless = false);

// Process-wide switch; TESSERA_DISABLE_COMPILE=1 in the environment starts in `disabled`.
void disable_compile();
void enable_compile();
void set_compile_mode(CompileMode mode);
CompileMode compile_mode();

}  // namespace tessera
