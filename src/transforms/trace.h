// Shared machinery of the transforms: fresh tracer inputs and the part of a traced graph that
// depends on them.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_set>
#include <vector>

#include "tessera/array.h"

namespace tessera::detail {

// A new array standing for `a` in a trace: it has its own identity (so the transform can find
// it in the graph) and shares a's buffer when a is already computed.
array trace_alias(const array& a);

// Post-order walk of the graph behind `outputs`, without recursion. `enter` sees each array
// once (an array's siblings count as seen with it) and says whether to walk its inputs;
// `leave` then sees each entered array after all its inputs, so in topological order.
void walk_graph(const std::vector<array>& outputs, const std::function<bool(const array&)>& enter,
                const std::function<void(const array&)>& leave);

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
