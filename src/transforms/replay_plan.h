// A graph recorded once and run again on new input values without being rebuilt: for loops that
// build the same graph every iteration (a decode step of a language model), where building the
// nodes, inferring their shapes and walking the graph cost as much as the kernels.
//
// Recording walks the graph from its outputs to its leaves. Leaves named as inputs are the values
// that change from run to run; other evaluated leaves (weights, scalars) are held as constants.
// compile's simplification then runs over the recorded graph (transforms/compile_graph.h):
// common subexpressions merge, no-op reshapes and casts go, and work that does not depend on an
// input is computed once when its result is small (frequency tables, index ranges) and redone
// each run otherwise, so a plan never holds a large copy. Each run creates only the remaining
// nodes, straight from their recorded primitives, shapes and dtypes, and runs their kernels in
// order.
//
// The caller guarantees that the graph it would build for the new values is the recorded one:
// a plan replays primitives with the parameters they were recorded with (shapes, axes, scalar
// arguments), so anything that varies per run must be an input array. One thread runs a plan at
// a time (run() reuses the plan's scratch).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "backend/backend.h"
#include "tessera/array.h"

namespace tessera::detail {

struct CompiledGraph;

class ReplayPlan {
 public:
  // `inputs` are evaluated (or are evaluated here) and must be distinct; `outputs` are computed
  // from them. The graph behind `outputs` is left as it is (evaluate it or drop it).
  ReplayPlan(const std::vector<array>& inputs, const std::vector<array>& outputs);

  // Computes the outputs for new inputs of the recorded shapes and dtypes (std::invalid_argument
  // otherwise). Inputs passed by value and not held elsewhere may be overwritten by a kernel
  // that reuses their buffer (a cache buffer updated in place).
  std::vector<array> run(std::vector<array> inputs);

  // Nodes created per run and values held as constants.
  size_t num_steps() const { return steps_.size(); }
  size_t num_constants() const { return constants_.size(); }

 private:
  CompiledGraph record(const std::vector<array>& inputs, const std::vector<array>& outputs);
  void build_steps(const CompiledGraph& g);

  struct Step {
    std::shared_ptr<Primitive> prim;
    std::vector<uint32_t> args;      // value ids
    std::vector<uint8_t> last_use;   // per argument: this step releases the value
    std::vector<uint32_t> outs;      // value ids, in output order
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    // The node's argument list, handed back after each run so its capacity is reused.
    std::vector<array> scratch;
    // The backend kernel, looked up on the first run (null: run() decides each time).
    Kernel kernel = nullptr;
    bool looked_up = false;
  };
  // Value ids: [0, inputs) inputs, then constants, then step outputs.
  uint32_t num_inputs_ = 0;
  std::vector<Shape> input_shapes_;
  std::vector<Dtype> input_dtypes_;
  std::vector<array> constants_;
  std::vector<Step> steps_;
  std::vector<uint32_t> outputs_;
  std::vector<uint8_t> kept_;  // per value: an output, never released by a step
  std::vector<std::optional<array>> values_;  // scratch of run()
};

}  // namespace tessera::detail
