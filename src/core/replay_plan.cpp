#include "core/replay_plan.h"

#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/direct_eval.h"
#include "primitives/primitive.h"
#include "tessera/ops.h"

namespace tessera::detail {

namespace {

constexpr uint32_t kNone = UINT32_MAX;

std::string shape_text(const Shape& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

size_t output_bytes(const array& a) {
  size_t n = a.nbytes();
  for (auto& s : a.siblings()) n += s.nbytes();
  return n;
}

}  // namespace

ReplayPlan::ReplayPlan(const std::vector<array>& inputs, const std::vector<array>& outputs) {
  std::vector<array> ins = inputs;
  eval(ins);
  num_inputs_ = uint32_t(ins.size());
  std::unordered_map<uintptr_t, uint32_t> value_of;
  std::vector<array> leaves;      // per value: the array when it is an evaluated leaf or a node's output
  std::vector<int32_t> node_of;   // per value: index into `order` of the node computing it, -1 for leaves
  auto add_value = [&](const array& a, int32_t node) {
    uint32_t v = uint32_t(leaves.size());
    value_of.emplace(a.id(), v);
    leaves.push_back(a);
    node_of.push_back(node);
    return v;
  };
  for (auto& in : ins) {
    if (value_of.count(in.id())) throw std::invalid_argument("[ReplayPlan] the same array is given twice as an input");
    input_shapes_.push_back(in.shape());
    input_dtypes_.push_back(in.dtype());
    add_value(in, -1);
  }

  // Post-order walk over the unevaluated nodes (iterative: a plan may hold long chains). One
  // entry of `order` per primitive application; its outputs get consecutive value ids.
  std::vector<array> order;
  std::vector<std::pair<array, size_t>> stack;
  auto visit = [&](const array& a) {
    if (value_of.count(a.id())) return;
    if (a.is_evaluated()) {
      add_value(a, -1);
      return;
    }
    if (!a.has_primitive()) throw std::invalid_argument("[ReplayPlan] a graph input has neither data nor a primitive");
    value_of.emplace(a.id(), kNone);  // on the stack
    for (auto& s : a.siblings()) value_of.emplace(s.id(), kNone);
    stack.emplace_back(a, 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node.inputs().size()) {
        const array& x = node.inputs()[next++];
        if (value_of.count(x.id())) continue;
        if (x.is_evaluated()) {
          add_value(x, -1);
          continue;
        }
        if (!x.has_primitive()) throw std::invalid_argument("[ReplayPlan] a graph input has neither data nor a primitive");
        value_of.emplace(x.id(), kNone);
        for (auto& s : x.siblings()) value_of.emplace(s.id(), kNone);
        stack.emplace_back(x, 0);
        continue;
      }
      const int32_t idx = int32_t(order.size());
      for (auto& o : node.siblings().empty() ? std::vector<array>{node} : node.outputs()) {
        value_of.erase(o.id());
        add_value(o, idx);
      }
      order.push_back(std::move(node));
      stack.pop_back();
    }
  };
  for (auto& o : outputs) visit(o);

  // Which nodes depend on an input; which input-free ones are folded into constants.
  const size_t nv = leaves.size();
  std::vector<uint8_t> depends(nv, 0), folded(order.size(), 0);
  for (uint32_t i = 0; i < num_inputs_; ++i) depends[i] = 1;
  for (size_t n = 0; n < order.size(); ++n) {
    bool dep = false;
    for (auto& x : order[n].inputs()) dep = dep || depends[value_of.at(x.id())];
    folded[n] = !dep && output_bytes(order[n]) <= kFoldLimit;
    for (auto& o : order[n].siblings().empty() ? std::vector<array>{order[n]} : order[n].outputs()) {
      depends[value_of.at(o.id())] = dep;
    }
  }
  auto is_constant = [&](uint32_t v) { return v >= num_inputs_ && (node_of[v] < 0 || folded[size_t(node_of[v])]); };

  // The steps: unfolded nodes an output needs (an input-free node that only feeds folded ones is
  // computed once, while folding, and never again).
  std::vector<uint8_t> needed(order.size(), 0);
  for (auto& o : outputs) {
    const int32_t n = node_of[value_of.at(o.id())];
    if (n >= 0 && !folded[size_t(n)]) needed[size_t(n)] = 1;
  }
  for (size_t n = order.size(); n-- > 0;) {
    if (!needed[n]) continue;
    for (auto& x : order[n].inputs()) {
      const int32_t m = node_of[value_of.at(x.id())];
      if (m >= 0 && !folded[size_t(m)]) needed[size_t(m)] = 1;
    }
  }

  // Constants: the leaves and folded values that a step or an output reads.
  std::vector<int32_t> const_index(nv, -1);
  std::vector<array> to_fold;
  auto use = [&](uint32_t v) {
    if (!is_constant(v) || const_index[v] >= 0) return;
    const_index[v] = int32_t(constants_.size());
    constants_.push_back(leaves[v]);
    if (node_of[v] >= 0) to_fold.push_back(leaves[v]);
  };
  for (size_t n = 0; n < order.size(); ++n) {
    if (!needed[n]) continue;
    for (auto& x : order[n].inputs()) use(value_of.at(x.id()));
  }
  for (auto& o : outputs) use(value_of.at(o.id()));

  // Value ids of the run: inputs, constants, then step outputs.
  std::vector<uint32_t> remap(nv, kNone);
  for (uint32_t i = 0; i < num_inputs_; ++i) remap[i] = i;
  for (uint32_t v = 0; v < nv; ++v) {
    if (const_index[v] >= 0) remap[v] = num_inputs_ + uint32_t(const_index[v]);
  }
  uint32_t next_id = num_inputs_ + uint32_t(constants_.size());
  for (size_t n = 0; n < order.size(); ++n) {
    if (!needed[n]) continue;
    const array& a = order[n];
    Step s;
    s.prim = a.primitive_ptr();
    for (auto& x : a.inputs()) s.args.push_back(remap[value_of.at(x.id())]);
    for (auto& o : a.siblings().empty() ? std::vector<array>{a} : a.outputs()) {
      remap[value_of.at(o.id())] = next_id;
      s.outs.push_back(next_id++);
      s.shapes.push_back(o.shape());
      s.dtypes.push_back(o.dtype());
    }
    steps_.push_back(std::move(s));
  }
  for (auto& o : outputs) outputs_.push_back(remap[value_of.at(o.id())]);

  // A value is released by the last argument that reads it, unless it is an output.
  kept_.assign(next_id, 0);
  for (uint32_t v : outputs_) kept_[v] = 1;
  std::vector<std::pair<size_t, size_t>> last(next_id, {SIZE_MAX, 0});
  for (size_t i = 0; i < steps_.size(); ++i) {
    steps_[i].last_use.assign(steps_[i].args.size(), 0);
    for (size_t k = 0; k < steps_[i].args.size(); ++k) last[steps_[i].args[k]] = {i, k};
  }
  for (uint32_t v = 0; v < next_id; ++v) {
    const bool constant = v >= num_inputs_ && v < num_inputs_ + constants_.size();
    if (last[v].first != SIZE_MAX && !kept_[v] && !constant) steps_[last[v].first].last_use[last[v].second] = 1;
  }
  // Last: evaluating the folded values detaches the nodes they come from, some of which the
  // steps above were recorded from.
  eval(to_fold);
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
        array a(s.shapes[0], s.dtypes[0], s.prim, std::move(args));
        ev.run(a);
        s.scratch = std::move(a.inputs());  // emptied by the run, capacity kept
        values_[s.outs[0]] = std::move(a);
      } else {
        std::vector<array> outs = array::make_arrays(s.shapes, s.dtypes, s.prim, args);
        args.clear();
        ev.run(outs[0]);
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
