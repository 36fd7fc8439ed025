// The graph compile works on: a traced function as a flat list of primitive applications over
// numbered values, detached from the arrays it was traced with. The passes (simplify, fuse)
// rewrite it; replay turns it back into lazy arrays for concrete inputs. The Compiled primitive
// keeps the fused chain in the same form.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "primitives/primitive.h"
#include "tessera/compile.h"
#include "tessera/transforms.h"

namespace tessera::detail {

struct GraphNode {
  std::shared_ptr<Primitive> prim;
  std::vector<int> inputs;   // value ids
  std::vector<int> outputs;  // value ids, in the primitive's output order
};

struct CompiledGraph {
  // Values [0, num_inputs) are the function's inputs, the next constants.size() its constants;
  // every other value is an output of exactly one node.
  int num_inputs = 0;
  std::vector<array> constants;
  std::vector<Shape> shapes;  // per value, as traced
  std::vector<Dtype> dtypes;  // per value
  std::vector<GraphNode> nodes;  // topological order
  std::vector<int> outputs;

  int num_values() const { return int(shapes.size()); }
  bool is_input(int v) const { return v < num_inputs; }
  bool is_constant(int v) const { return v >= num_inputs && v < num_inputs + int(constants.size()); }
  const array& constant(int v) const { return constants[size_t(v - num_inputs)]; }
  int add_value(Shape shape, Dtype dtype) {
    shapes.push_back(std::move(shape));
    dtypes.push_back(dtype);
    return num_values() - 1;
  }
};

// Runs fun on placeholder inputs of the given shapes and dtypes and records the graph from the
// placeholders and constants (captured or created arrays that already hold data) to the outputs.
CompiledGraph trace_graph(const VectorFn& fun, const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes);

// Common-subexpression elimination, constant folding, no-op removal and dead-node removal.
void simplify(CompiledGraph& g);
// Replaces chains of elementwise and broadcast nodes by Compiled nodes.
void fuse(CompiledGraph& g);

// Per-value shapes for inputs of other shapes (shapeless replay). Throws, naming the primitive,
// where an op's parameters fix a shape that the new inputs change.
std::vector<Shape> infer_shapes(const CompiledGraph& g, const std::vector<Shape>& input_shapes);

// Lazy arrays computing g's outputs from `inputs` (same count and dtypes as traced). `shapes`:
// per-value shapes to use, or null for the traced ones.
std::vector<array> replay(const CompiledGraph& g, const std::vector<array>& inputs,
                          const std::vector<Shape>* shapes = nullptr);
// Replay that infers shapes when the inputs' shapes differ from the traced ones.
std::vector<array> replay_any_shape(const CompiledGraph& g, const std::vector<array>& inputs);

// The callable compile returns; tests reach it through std::function::target to count traces.
class CompiledFunction {
 public:
  CompiledFunction(VectorFn fun, bool shapeless);
  std::vector<array> operator()(const std::vector<array>& inputs) const;

  // How many times fun has been traced (one per new signature).
  int trace_count() const;
  size_t cache_size() const;
  // The graph the last call replayed (null before the first compiled call).
  std::shared_ptr<const CompiledGraph> last_graph() const;

 private:
  struct Entry {
    std::vector<Dtype> dtypes;
    std::vector<Shape> shapes;  // ranks only matter when shapeless
    CompileMode mode;
    std::shared_ptr<const CompiledGraph> graph;
  };
  struct State {
    VectorFn fun;
    bool shapeless;
    std::mutex mu;
    std::vector<Entry> entries;
    int traces = 0;
    std::shared_ptr<const CompiledGraph> last;
  };
  std::shared_ptr<State> state_;
};

}  // namespace tessera::detail
