// Forward mode: trace the function on fresh tracers, then walk the dependent part of the graph
// in order, asking each primitive's jvp rule for its outputs' tangents.
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "primitives/primitive.h"
#include "tessera/ops.h"
#include "transforms/autodiff.h"
#include "transforms/trace.h"

namespace tessera {
namespace detail {

std::pair<std::vector<array>, std::vector<array>> jvp_impl(const VectorFn& fun, const std::vector<array>& primals,
                                                           const std::vector<array>& tangents,
                                                           const std::vector<int>& argnums) {
  if (tangents.size() != argnums.size()) {
    std::ostringstream os;
    os << "[jvp] " << tangents.size() << " tangents were given for " << argnums.size() << " primals.";
    throw std::invalid_argument(os.str());
  }
  std::vector<array> traced = primals;
  std::vector<array> seeds;
  std::unordered_map<uintptr_t, array> tans;
  for (size_t k = 0; k < argnums.size(); ++k) {
    int i = argnums[k];
    if (i < 0 || i >= int(primals.size())) {
      std::ostringstream os;
      os << "[jvp] argnum " << i << " is out of range for " << primals.size() << " primals.";
      throw std::invalid_argument(os.str());
    }
    if (tangents[k].shape() != primals[i].shape()) {
      std::ostringstream os;
      os << "[jvp] tangent " << k << " has shape " << tangents[k].shape() << " but its primal has shape "
         << primals[i].shape() << ".";
      throw std::invalid_argument(os.str());
    }
    traced[i] = trace_alias(primals[i]);
    seeds.push_back(traced[i]);
    array t = tangents[k].dtype() == primals[i].dtype() ? tangents[k] : astype(tangents[k], primals[i].dtype());
    tans.emplace(traced[i].id(), t);
  }
  std::vector<array> outputs;
  {
    InTracing tracing;
    outputs = fun(traced);
  }
  Tape tape = dependent_tape(outputs, seeds);
  for (const array& node : tape.nodes) {
    const auto& inputs = node.inputs();
    std::vector<int> node_argnums;
    std::vector<array> node_tans;
    for (size_t j = 0; j < inputs.size(); ++j) {
      auto t = tans.find(inputs[j].id());
      if (t == tans.end() || !is_differentiable(inputs[j].dtype())) continue;
      node_argnums.push_back(int(j));
      node_tans.push_back(t->second);
    }
    if (node_argnums.empty()) continue;
    std::vector<array> outs = node.outputs();
    Primitive& prim = node.primitive();
    std::vector<array> out_tans = prim.jvp(inputs, node_tans, node_argnums);
    if (out_tans.size() != outs.size()) {
      std::ostringstream os;
      os << "[jvp] rule of " << prim.name() << " returned " << out_tans.size() << " tangents for " << outs.size()
         << " outputs.";
      throw std::logic_error(os.str());
    }
    for (size_t k = 0; k < outs.size(); ++k) {
      if (out_tans[k].shape() != outs[k].shape()) {
        std::ostringstream os;
        os << "[jvp] rule of " << prim.name() << " returned a tangent of shape " << out_tans[k].shape()
           << " for output " << k << " of shape " << outs[k].shape() << ".";
        throw std::logic_error(os.str());
      }
      if (!is_differentiable(outs[k].dtype())) continue;
      array t = out_tans[k].dtype() == outs[k].dtype() ? out_tans[k] : astype(out_tans[k], outs[k].dtype());
      tans.insert_or_assign(outs[k].id(), t);
    }
  }
  std::vector<array> result;
  for (auto& o : outputs) {
    auto t = tans.find(o.id());
    result.push_back(t != tans.end() ? t->second : zeros_like(o));
  }
  return {outputs, result};
}

}  // namespace detail

std::pair<std::vector<array>, std::vector<array>> jvp(const VectorFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (tangents.size() != primals.size()) {
    std::ostringstream os;
    os << "[jvp] " << tangents.size() << " tangents were given for " << primals.size() << " primals.";
    throw std::invalid_argument(os.str());
  }
  std::vector<int> all(primals.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = int(i);
  return detail::jvp_impl(fun, primals, tangents, all);
}

std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent) {
  auto [outs, tans] = jvp([&](const std::vector<array>& in) { return std::vector<array>{fun(in[0])}; }, {primal},
                          {tangent});
  return {outs[0], tans[0]};
}

}  // namespace tessera
