#include "transforms/replay_plan.h"

#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/direct_eval.h"
#include "transforms/compile_graph.h"
#include "transforms/trace.h"
#include "primitives/primitive.h"
#include "tessera/ops.h"

namespace tessera::detail {

namespace {

std::string shape_text(const Shape& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

}  // namespace

ReplayPlan::ReplayPlan(const std::vector<array>& inputs, const std::vector<array>& outputs) {
  std::vector<array> ins = inputs;
  eval(ins);
  num_inputs_ = uint32_t(ins.size());
  for (auto& in : ins) {
    input_shapes_.push_back(in.shape());
    input_dtypes_.push_back(in.dtype());
  }
  CompiledGraph g = record(ins, outputs);
  // The compile passes: common subexpressions (the same position reshaped per layer), no-op
  // reshapes and casts, input-free work folded into constants, dead nodes.
  simplify(g);
  build_steps(g);
}

CompiledGraph ReplayPlan::record(const std::vector<array>& ins, const std::vector<array>& outputs) {
  std::unordered_map<uintptr_t, int> value_of;  // array id -> value
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!value_of.emplace(ins[i].id(), int(i)).second) {
      throw std::invalid_argument("[ReplayPlan] the same array is given twice as an input");
    }
  }
  // The unevaluated nodes behind the outputs in topological order; the evaluated leaves the walk
  // meets become constants.
  std::vector<array> order, leaves;
  auto outputs_of = [](const array& a) { return a.siblings().empty() ? std::vector<array>{a} : a.outputs(); };
  walk_graph(
      outputs,
      [&](const array& a) {
        if (value_of.count(a.id())) return false;  // an input
        if (a.is_evaluated()) {
          leaves.push_back(a);
          return false;
        }
        if (!a.has_primitive()) throw std::invalid_argument("[ReplayPlan] a graph input has neither data nor a primitive");
        return true;
      },
      [&](const array& node) { order.push_back(node); });
  // Values: inputs, constants, then node outputs in order.
  CompiledGraph g;
  g.num_inputs = int(ins.size());
  for (auto& in : ins) g.add_value(in.shape(), in.dtype());
  for (auto& c : leaves) {
    value_of[c.id()] = g.add_value(c.shape(), c.dtype());
    g.constants.push_back(c);
  }
  for (auto& a : order) {
    GraphNode n;
    n.prim = a.primitive_ptr();
    for (auto& x : a.inputs()) n.inputs.push_back(value_of.at(x.id()));
    for (auto& o : outputs_of(a)) {
      value_of[o.id()] = g.add_value(o.shape(), o.dtype());
      n.outputs.push_back(g.num_values() - 1);
    }
    g.nodes.push_back(std::move(n));
  }
  for (auto& o : outputs) g.outputs.push_back(value_of.at(o.id()));
  return g;
}

void ReplayPlan::build_steps(const CompiledGraph& g) {
  constants_ = g.constants;
  for (auto& n : g.nodes) {
    Step s;
    s.prim = n.prim;
    for (int v : n.inputs) s.args.push_back(uint32_t(v));
    for (int v : n.outputs) {
      s.outs.push_back(uint32_t(v));
      s.shapes.push_back(g.shapes[size_t(v)]);
      s.dtypes.push_back(g.dtypes[size_t(v)]);
    }
    steps_.push_back(std::move(s));
  }
  for (int v : g.outputs) outputs_.push_back(uint32_t(v));

  // A value is released by the last argument that reads it, unless it is an output.
  const size_t nv = size_t(g.num_values());
  kept_.assign(nv, 0);
  for (uint32_t v : outputs_) kept_[v] = 1;
  std::vector<std::pair<size_t, size_t>> last(nv, {SIZE_MAX, 0});
  for (size_t i = 0; i < steps_.size(); ++i) {
    steps_[i].last_use.assign(steps_[i].args.size(), 0);
    for (size_t k = 0; k < steps_[i].args.size(); ++k) last[steps_[i].args[k]] = {i, k};
  }
  for (size_t v = 0; v < nv; ++v) {
    if (last[v].first != SIZE_MAX && !kept_[v] && !g.is_constant(int(v))) {
      steps_[last[v].first].last_use[last[v].second] = 1;
    }
  }
}

std::vector<array> ReplayPlan::run(std::vector<array> inputs) {
  if (inputs.size() != num_inputs_) {
    throw std::invalid_argument("[ReplayPlan] recorded with " + std::to_string(num_inputs_) + " inputs, run with " +
                                std::to_string(inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].shape() != input_shapes_[i] || inputs[i].dtype() != input_dtypes_[i]) {
      std::ostringstream os;
      os << "[ReplayPlan] input " << i << " was recorded as " << shape_text(input_shapes_[i]) << " " << input_dtypes_[i]
         << ", run with " << shape_text(inputs[i].shape()) << " " << inputs[i].dtype();
      throw std::invalid_argument(os.str());
    }
  }
  eval(inputs);
  const uint32_t first_step_value = num_inputs_ + uint32_t(constants_.size());
  values_.resize(kept_.size());
  struct Clear {
    std::vector<std::optional<array>>& v;
    ~Clear() {
      for (auto& x : v) x.reset();
    }
  } clear{values_};
  for (uint32_t i = 0; i < num_inputs_; ++i) values_[i] = std::move(inputs[i]);
  auto value = [&](uint32_t v) -> const array& {
    if (v >= num_inputs_ && v < first_step_value) return constants_[v - num_inputs_];
    return *values_[v];
  };
  {
    DirectEval ev;
    for (auto& s : steps_) {
      std::vector<array> args = std::move(s.scratch);
      args.clear();
      args.reserve(s.args.size());
      for (size_t k = 0; k < s.args.size(); ++k) {
        const uint32_t v = s.args[k];
        if (s.last_use[k]) {
          args.push_back(std::move(*values_[v]));
          values_[v].reset();
        } else {
          args.push_back(value(v));
        }
      }
      if (s.outs.size() == 1) {
        // The primitive travels into the node and back (no reference-count traffic).
        array a(s.shapes[0], s.dtypes[0], std::move(s.prim), std::move(args));
        if (!s.looked_up) {
          s.kernel = ev.kernel_for(a);
          s.looked_up = true;
        }
        try {
          s.prim = s.kernel ? ev.run(s.kernel, a) : ev.run(a);
        } catch (...) {
          s.prim = a.primitive_ptr();  // the failed node still holds it: the plan stays runnable
          throw;
        }
        s.scratch = std::move(a.inputs());  // emptied by the run, capacity kept
        values_[s.outs[0]] = std::move(a);
      } else {
        std::vector<array> outs = array::make_arrays(s.shapes, s.dtypes, s.prim, args);
        args.clear();
        ev.run(outs[0]);  // s.prim keeps its own reference here
        for (size_t j = 0; j < outs.size(); ++j) values_[s.outs[j]] = std::move(outs[j]);
      }
    }
  }
  std::vector<array> out;
  out.reserve(outputs_.size());
  for (uint32_t v : outputs_) out.push_back(value(v));
  return out;
}

}  // namespace tessera::detail
