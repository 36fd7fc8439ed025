// Shared machinery of the transforms: fresh tracer inputs and the part of a traced graph that
// depends on them.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "tessera/array.h"

namespace tessera::detail {

// A new array standing for `a` in a trace: it has its own identity (so the transform can find
// it in the graph) and shares a's buffer when a is already computed.
array trace_alias(const array& a);

struct Tape {
  // One array per primitive application that depends on a seed, in topological order.
  std::vector<array> nodes;
  // Ids of the seeds and of every output of the nodes above.
  std::unordered_set<uintptr_t> dependent;
  bool depends(const array& a) const { return dependent.count(a.id()) != 0; }
};

// Walks the graph behind `outputs` without recursion, stopping at the seeds.
Tape dependent_tape(const std::vector<array>& outputs, const std::vector<array>& seeds);

bool is_differentiable(Dtype d);

}  // namespace tessera::detail
