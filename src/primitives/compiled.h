// A fused chain of elementwise and broadcast ops made by compile. It carries the chain as a
// small graph over its inputs: decompose replays it (so the default vjp/jvp/vmap rules and
// backends without a fused kernel work), and the CPU backend runs it as one tiled kernel.
#pragma once

#include <memory>

#include "primitives/primitive.h"
#include "transforms/compile_graph.h"

namespace tessera {

class Compiled : public Primitive {
 public:
  Compiled(Stream s, std::shared_ptr<const detail::CompiledGraph> graph) : Primitive(s), graph_(std::move(graph)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Compiled; }
  const char* name() const override { return "Compiled"; }
  // Compiled(multiply, add, exp, ...): the fused ops in order.
  void print(std::ostream& os) const override;
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override {
    return other.kind() == kind() && static_cast<const Compiled&>(other).graph_ == graph_;
  }
  // Inputs are the primitive's inputs (no constants); outputs are its outputs.
  const detail::CompiledGraph& graph() const { return *graph_; }

 private:
  std::shared_ptr<const detail::CompiledGraph> graph_;
};

}  // namespace tessera
