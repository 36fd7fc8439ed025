// The CPU kernel of Compiled (fused elementwise chains made by compile).
#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

// Runs the chain over cache-sized blocks of the output, threaded: each input is read once (in
// place when it is a float32 run, a broadcast row or a scalar), each step is one SIMD loop over
// the block in L1, and the output is written once. Chains it cannot run (other dtypes, other
// ops) fall back to the decomposition.
void cpu_compiled(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);

}  // namespace tessera
