// Vectorizing map: trace the function on one slice of each batched input, then rebuild the
// dependent part of the graph with each primitive's batching rule.
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "primitives/primitive.h"
#include "tessera/ops.h"
#include "tessera/transforms.h"
#include "transforms/trace.h"

namespace tessera {

namespace {

struct Batched {
  array value;
  int axis;
};

[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument("[vmap] " + msg); }

// Moves an unbatched output into place by broadcasting it along a new batch axis.
array broadcast_batch(const array& a, int axis, int batch) {
  Shape shape = a.shape();
  shape.insert(shape.begin() + axis, batch);
  return broadcast_to(expand_dims(a, axis), shape);
}

}  // namespace

std::vector<array> vmap_trace_and_replay(const VectorFn& fun, const std::vector<array>& inputs,
                                         const std::vector<int>& in_axes_arg, const std::vector<int>& out_axes_arg) {
  std::vector<int> in_axes = in_axes_arg.empty() ? std::vector<int>(inputs.size(), 0) : in_axes_arg;
  if (in_axes.size() != inputs.size()) {
    std::ostringstream os;
    os << "in_axes has " << in_axes.size() << " entries for " << inputs.size() << " inputs.";
    fail(os.str());
  }
  int batch = -1;
  std::vector<array> traced = inputs;
  std::vector<array> seeds;
  std::unordered_map<uintptr_t, Batched> batched;
  for (size_t i = 0; i < inputs.size(); ++i) {
    int ax = in_axes[i];
    if (ax == -1) continue;
    int nd = int(inputs[i].ndim());
    if (ax < 0 || ax >= nd) {
      std::ostringstream os;
      os << "in_axes[" << i << "] = " << ax << " is out of range for input of shape " << inputs[i].shape() << ".";
      fail(os.str());
    }
    int n = inputs[i].shape(ax);
    if (batch >= 0 && n != batch) {
      std::ostringstream os;
      os << "inconsistent batch sizes: input " << i << " has " << n << " along axis " << ax << ", expected " << batch
         << ".";
      fail(os.str());
    }
    batch = n;
    Shape start(nd, 0), stop = inputs[i].shape();
    stop[ax] = 1;
    array one = squeeze(slice(inputs[i], start, stop), std::vector<int>{ax});
    one.set_tracer(true);
    traced[i] = one;
    seeds.push_back(one);
    batched.emplace(one.id(), Batched{inputs[i], ax});
  }
  if (batch < 0) fail("at least one input must be mapped (in_axes are all -1).");

  std::vector<array> outputs;
  {
    detail::InTracing tracing;
    outputs = fun(traced);
  }
  std::vector<int> out_axes = out_axes_arg.empty() ? std::vector<int>(outputs.size(), 0) : out_axes_arg;
  if (out_axes.size() != outputs.size()) {
    std::ostringstream os;
    os << "out_axes has " << out_axes.size() << " entries for " << outputs.size() << " outputs.";
    fail(os.str());
  }

  detail::Tape tape = detail::dependent_tape(outputs, seeds);
  for (const array& node : tape.nodes) {
    std::vector<array> ins;
    std::vector<int> axes;
    for (auto& in : node.inputs()) {
      auto b = batched.find(in.id());
      if (b != batched.end()) {
        ins.push_back(b->second.value);
        axes.push_back(b->second.axis);
      } else {
        ins.push_back(in);
        axes.push_back(-1);
      }
    }
    Primitive& prim = node.primitive();
    auto [outs, oaxes] = prim.vmap(ins, axes);
    std::vector<array> originals = node.outputs();
    if (outs.size() != originals.size() || oaxes.size() != originals.size()) {
      std::ostringstream os;
      os << "[vmap] rule of " << prim.name() << " returned " << outs.size() << " outputs for " << originals.size()
         << ".";
      throw std::logic_error(os.str());
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      int ax = oaxes[k];
      if (ax == -1) {  // the rule found the output independent of the batch
        ax = 0;
        outs[k] = broadcast_batch(outs[k], 0, batch);
      }
      Shape want = originals[k].shape();
      if (ax < 0 || ax > int(want.size())) {
        std::ostringstream os;
        os << "[vmap] rule of " << prim.name() << " returned batch axis " << ax << " for output " << k << ".";
        throw std::logic_error(os.str());
      }
      want.insert(want.begin() + ax, batch);
      if (outs[k].shape() != want || outs[k].dtype() != originals[k].dtype()) {
        std::ostringstream os;
        os << "[vmap] rule of " << prim.name() << " returned shape " << outs[k].shape() << " (" << outs[k].dtype()
           << ") with batch axis " << ax << " for output " << k << " of shape " << originals[k].shape() << " ("
           << originals[k].dtype() << ").";
        throw std::logic_error(os.str());
      }
      batched.insert_or_assign(originals[k].id(), Batched{outs[k], ax});
    }
  }

  std::vector<array> result;
  for (size_t k = 0; k < outputs.size(); ++k) {
    int nd = int(outputs[k].ndim()) + 1;
    int oa = out_axes[k];
    if (oa < -nd || oa >= nd) {
      std::ostringstream os;
      os << "out_axes[" << k << "] = " << oa << " is out of range for output of shape " << outputs[k].shape() << ".";
      fail(os.str());
    }
    if (oa < 0) oa += nd;
    auto b = batched.find(outputs[k].id());
    if (b == batched.end()) {
      result.push_back(broadcast_batch(outputs[k], oa, batch));
    } else {
      result.push_back(b->second.axis == oa ? b->second.value : moveaxis(b->second.value, b->second.axis, oa));
    }
  }
  return result;
}

VectorFn vmap(const VectorFn& fun, const std::vector<int>& in_axes, const std::vector<int>& out_axes) {
  return [fun, in_axes, out_axes](const std::vector<array>& inputs) {
    return vmap_trace_and_replay(fun, inputs, in_axes, out_axes);
  };
}

std::function<array(const array&)> vmap(const std::function<array(const array&)>& fun, int in_axis, int out_axis) {
  auto f = vmap([fun](const std::vector<array>& in) { return std::vector<array>{fun(in[0])}; }, {in_axis}, {out_axis});
  return [f](const array& x) { return f({x})[0]; };
}

std::function<array(const array&, const array&)> vmap(const std::function<array(const array&, const array&)>& fun,
                                                      int in_axis_a, int in_axis_b, int out_axis) {
  auto f = vmap([fun](const std::vector<array>& in) { return std::vector<array>{fun(in[0], in[1])}; },
                {in_axis_a, in_axis_b}, {out_axis});
  return [f](const array& a, const array& b) { return f({a, b})[0]; };
}

}  // namespace tessera
