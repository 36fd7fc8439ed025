// compile: trace once per input signature, simplify and fuse the traced graph, replay it on
// later calls. The passes live in compile_simplify.cpp and compile_fuse.cpp, replay and shape
// inference in compile_graph.cpp.
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "tessera/compile.h"
#include "tessera/ops.h"
#include "transforms/compile_graph.h"
#include "transforms/trace.h"

namespace tessera {

namespace {

CompileMode initial_mode() {
  const char* env = std::getenv("TESSERA_DISABLE_COMPILE");
  bool off = env && *env && std::strcmp(env, "0") != 0 && std::strcmp(env, "false") != 0;
  return off ? CompileMode::disabled : CompileMode::enabled;
}

std::atomic<CompileMode>& mode_ref() {
  static std::atomic<CompileMode> mode{initial_mode()};
  return mode;
}

// Stands for an input of the function while it is traced. It has no data, so anything that
// needs the input's values (eval, item, printing) reaches decompose and gets a clear error.
class CompileInput : public Primitive {
 public:
  using Primitive::Primitive;
  PrimitiveKind kind() const override { return PrimitiveKind::Custom; }
  const char* name() const override { return "compile_input"; }
  std::vector<array> decompose(const std::vector<array>&) const override {
    throw std::invalid_argument(
        "[compile] Attempting to eval an array that depends on the inputs of a function while compile traces "
        "it. Compiled functions cannot evaluate (or call item() on, or print) their intermediate results; "
        "return them instead, or call the function without compile.");
  }
};

}  // namespace

namespace detail {

CompiledGraph trace_graph(const VectorFn& fun, const std::vector<Shape>& shapes, const std::vector<Dtype>& dtypes) {
  auto input_prim = std::make_shared<CompileInput>(default_stream(default_device()));
  std::vector<array> placeholders;
  placeholders.reserve(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    placeholders.emplace_back(shapes[i], dtypes[i], input_prim, std::vector<array>{});
    placeholders.back().set_tracer(true);
  }
  std::vector<array> outputs;
  {
    InTracing tracing;
    outputs = fun(placeholders);
  }

  // Post-order walk from the outputs; leaves are the placeholders and constants.
  std::unordered_map<uintptr_t, int> input_index;
  for (size_t i = 0; i < placeholders.size(); ++i) input_index.emplace(placeholders[i].id(), int(i));
  std::vector<array> constants, nodes;
  std::unordered_map<uintptr_t, int> constant_index;
  detail::walk_graph(
      outputs,
      [&](const array& a) {
        if (input_index.count(a.id())) return false;
        if (a.is_evaluated() || !a.has_primitive()) {
          constant_index.emplace(a.id(), int(constants.size()));
          constants.push_back(a);
          return false;
        }
        return true;
      },
      [&](const array& node) { nodes.push_back(node); });

  CompiledGraph g;
  g.num_inputs = int(placeholders.size());
  for (size_t i = 0; i < shapes.size(); ++i) g.add_value(shapes[i], dtypes[i]);
  std::unordered_map<uintptr_t, int> value_of;
  for (auto& [id, i] : input_index) value_of.emplace(id, i);
  for (auto& c : constants) {
    value_of.emplace(c.id(), g.add_value(c.shape(), c.dtype()));
    if (c.has_primitive() && c.is_evaluated()) {
      // Keep the buffer, not the graph that produced it.
      array alias(c.shape(), c.dtype(), nullptr, {});
      alias.copy_shared_buffer(c);
      g.constants.push_back(alias);
    } else {
      g.constants.push_back(c);
    }
  }
  for (auto& n : nodes) {
    GraphNode gn;
    gn.prim = n.primitive_ptr();
    for (auto& in : n.inputs()) gn.inputs.push_back(value_of.at(in.id()));
    for (auto& o : n.outputs()) {
      int v = g.add_value(o.shape(), o.dtype());
      value_of.emplace(o.id(), v);
      gn.outputs.push_back(v);
    }
    g.nodes.push_back(std::move(gn));
  }
  for (auto& o : outputs) g.outputs.push_back(value_of.at(o.id()));
  return g;
}

CompiledFunction::CompiledFunction(VectorFn fun, bool shapeless) : state_(std::make_shared<State>()) {
  state_->fun = std::move(fun);
  state_->shapeless = shapeless;
}

int CompiledFunction::trace_count() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->traces;
}

size_t CompiledFunction::cache_size() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->entries.size();
}

std::shared_ptr<const CompiledGraph> CompiledFunction::last_graph() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->last;
}

std::vector<array> CompiledFunction::operator()(const std::vector<array>& inputs) const {
  CompileMode mode = compile_mode();
  State& st = *state_;
  if (mode == CompileMode::disabled) return st.fun(inputs);

  auto matches = [&](const Entry& e) {
    if (e.mode != mode || e.dtypes.size() != inputs.size()) return false;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (e.dtypes[i] != inputs[i].dtype()) return false;
      if (st.shapeless ? e.shapes[i].size() != inputs[i].ndim() : e.shapes[i] != inputs[i].shape()) return false;
    }
    return true;
  };
  std::shared_ptr<const CompiledGraph> graph;
  {
    std::lock_guard<std::mutex> l(st.mu);
    for (auto& e : st.entries) {
      if (matches(e)) {
        graph = e.graph;
        break;
      }
    }
  }
  if (!graph) {
    // Traced without the lock: the function may call other compiled functions (or this one).
    Entry e;
    e.mode = mode;
    for (auto& in : inputs) {
      e.dtypes.push_back(in.dtype());
      e.shapes.push_back(in.shape());
    }
    auto g = std::make_shared<CompiledGraph>(trace_graph(st.fun, e.shapes, e.dtypes));
    if (mode != CompileMode::no_simplify) simplify(*g);
    if (mode != CompileMode::no_fuse) fuse(*g);
    e.graph = g;
    graph = g;
    std::lock_guard<std::mutex> l(st.mu);
    st.traces++;
    st.entries.push_back(std::move(e));
  }
  {
    std::lock_guard<std::mutex> l(st.mu);
    st.last = graph;
  }
  return replay_any_shape(*graph, inputs);
}

}  // namespace detail

std::function<std::vector<array>(const std::vector<array>&)> compile(
    std::function<std::vector<array>(const std::vector<array>&)> fun, bool shapeless) {
  if (!fun) throw std::invalid_argument("[compile] Received an empty function.");
  return detail::CompiledFunction(std::move(fun), shapeless);
}

void disable_compile() { mode_ref().store(CompileMode::disabled); }
void enable_compile() { mode_ref().store(CompileMode::enabled); }
void set_compile_mode(CompileMode mode) { mode_ref().store(mode); }
CompileMode compile_mode() { return mode_ref().load(std::memory_order_relaxed); }

}  // namespace tessera
