#include "transforms/trace.h"

#include <unordered_map>
#include <utility>

#include "tessera/ops.h"

namespace tessera::detail {

array trace_alias(const array& a) {
  // A tracer of an enclosing transform must stay linked to it (grad of grad), so only plain
  // computed arrays are aliased without a graph edge.
  if (a.is_evaluated() && !a.has_primitive() && !a.is_tracer()) {
    array alias(a.shape(), a.dtype(), nullptr, {});
    alias.copy_shared_buffer(a);
    alias.set_tracer(true);
    return alias;
  }
  array alias = copy(a);
  alias.set_tracer(true);
  return alias;
}

bool is_differentiable(Dtype d) { return issubdtype(d, inexact); }

void walk_graph(const std::vector<array>& outputs, const std::function<bool(const array&)>& enter,
                const std::function<void(const array&)>& leave) {
  std::unordered_set<uintptr_t> visited;
  std::vector<std::pair<array, size_t>> stack;
  auto visit = [&](const array& a) {
    if (!visited.insert(a.id()).second) return;
    if (!enter(a)) return;
    for (auto& s : a.siblings()) visited.insert(s.id());
    stack.emplace_back(a, 0);
  };
  for (auto& o : outputs) {
    visit(o);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node.inputs().size()) {
        array in = node.inputs()[next++];  // a copy: visit() may grow the stack
        visit(in);
        continue;
      }
      array done = std::move(node);
      stack.pop_back();
      leave(done);
    }
  }
}

Tape dependent_tape(const std::vector<array>& outputs, const std::vector<array>& seeds) {
  Tape tape;
  for (auto& s : seeds) tape.dependent.insert(s.id());
  walk_graph(
      outputs, [&](const array& a) { return !tape.depends(a); },
      [&](const array& node) {
        bool dep = false;
        for (auto& in : node.inputs()) dep = dep || tape.depends(in);
        if (dep && node.has_primitive()) {
          for (auto& out : node.outputs()) tape.dependent.insert(out.id());
          tape.nodes.push_back(node);
        }
      });
  return tape;
}

}  // namespace tessera::detail
