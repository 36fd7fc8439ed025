// Reverse mode: trace the function on fresh tracers, then walk the dependent part of the graph
// backwards, asking each primitive's vjp rule for its inputs' cotangents.
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "primitives/primitive.h"
#include "tessera/ops.h"
#include "transforms/autodiff.h"
#include "transforms/trace.h"

namespace tessera {
namespace detail {
namespace {

void accumulate(std::unordered_map<uintptr_t, array>& cots, const array& key, array value) {
  auto it = cots.find(key.id());
  if (it == cots.end()) cots.emplace(key.id(), std::move(value));
  else it->second = add(it->second, value);
}

array check_cotangent(const Primitive& p, const array& input, array cot, int argnum) {
  if (cot.shape() != input.shape()) {
    std::ostringstream os;
    os << "[vjp] rule of " << p.name() << " returned a cotangent of shape " << cot.shape() << " for input " << argnum
       << " of shape " << input.shape() << ".";
    throw std::logic_error(os.str());
  }
  if (cot.dtype() != input.dtype()) cot = astype(cot, input.dtype());
  return cot;
}

}  // namespace

std::pair<std::vector<array>, std::vector<array>> vjp_impl(const VectorFn& fun, const std::vector<array>& primals,
                                                           const std::vector<array>& cotangents,
                                                           const std::vector<int>& argnums) {
  std::vector<array> traced = primals;
  std::vector<array> seeds;
  for (int i : argnums) {
    if (i < 0 || i >= int(primals.size())) {
      std::ostringstream os;
      os << "[vjp] argnum " << i << " is out of range for " << primals.size() << " primals.";
      throw std::invalid_argument(os.str());
    }
    traced[i] = trace_alias(primals[i]);
    seeds.push_back(traced[i]);
  }
  std::vector<array> outputs;
  {
    InTracing tracing;
    outputs = fun(traced);
  }
  // An empty cotangent list (value_and_grad) seeds ones for the first output; the other outputs
  // are auxiliary and get no cotangent.
  std::vector<array> seed_cots = cotangents;
  if (seed_cots.empty() && !outputs.empty()) seed_cots.push_back(ones_like(outputs[0]));
  if (!cotangents.empty() && cotangents.size() != outputs.size()) {
    std::ostringstream os;
    os << "[vjp] the function has " << outputs.size() << " outputs but " << cotangents.size() << " cotangents were given.";
    throw std::invalid_argument(os.str());
  }
  Tape tape = dependent_tape(outputs, seeds);
  std::unordered_map<uintptr_t, array> cots;
  for (size_t i = 0; i < seed_cots.size(); ++i) {
    const auto& cotangents = seed_cots;
    if (cotangents[i].shape() != outputs[i].shape()) {
      std::ostringstream os;
      os << "[vjp] cotangent " << i << " has shape " << cotangents[i].shape() << " but the output has shape "
         << outputs[i].shape() << ".";
      throw std::invalid_argument(os.str());
    }
    if (!tape.depends(outputs[i])) continue;
    array c = cotangents[i].dtype() == outputs[i].dtype() ? cotangents[i] : astype(cotangents[i], outputs[i].dtype());
    accumulate(cots, outputs[i], c);
  }
  for (auto it = tape.nodes.rbegin(); it != tape.nodes.rend(); ++it) {
    const array& node = *it;
    std::vector<array> outs = node.outputs();
    std::vector<array> out_cots;
    bool any = false;
    for (auto& o : outs) {
      auto c = cots.find(o.id());
      if (c != cots.end()) {
        out_cots.push_back(std::move(c->second));
        cots.erase(c);
        any = true;
      } else {
        out_cots.push_back(zeros_like(o));
      }
    }
    if (!any) continue;
    const auto& inputs = node.inputs();
    std::vector<int> node_argnums;
    for (size_t j = 0; j < inputs.size(); ++j) {
      if (tape.depends(inputs[j]) && is_differentiable(inputs[j].dtype())) node_argnums.push_back(int(j));
    }
    if (node_argnums.empty()) continue;
    Primitive& prim = node.primitive();
    std::vector<array> in_cots = prim.vjp(inputs, out_cots, node_argnums, outs);
    if (in_cots.size() != node_argnums.size()) {
      std::ostringstream os;
      os << "[vjp] rule of " << prim.name() << " returned " << in_cots.size() << " cotangents for "
         << node_argnums.size() << " inputs.";
      throw std::logic_error(os.str());
    }
    for (size_t k = 0; k < node_argnums.size(); ++k) {
      int j = node_argnums[k];
      accumulate(cots, inputs[j], check_cotangent(prim, inputs[j], std::move(in_cots[k]), j));
    }
  }
  std::vector<array> result;
  for (size_t k = 0; k < argnums.size(); ++k) {
    auto c = cots.find(seeds[k].id());
    if (c != cots.end()) result.push_back(c->second);
    else result.push_back(zeros_like(primals[argnums[k]]));
  }
  return {outputs, result};
}

}  // namespace detail

std::pair<std::vector<array>, std::vector<array>> vjp(const VectorFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  std::vector<int> all(primals.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = int(i);
  return detail::vjp_impl(fun, primals, cotangents, all);
}

std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent) {
  auto [outs, cots] = vjp([&](const std::vector<array>& in) { return std::vector<array>{fun(in[0])}; }, {primal},
                          {cotangent});
  return {outs[0], cots[0]};
}

// ---- value_and_grad / grad ----

ValueAndGradFn value_and_grad(const VectorFn& fun, const std::vector<int>& argnums) {
  if (argnums.empty()) throw std::invalid_argument("[value_and_grad] Must specify at least one argument.");
  return [fun, argnums](const std::vector<array>& inputs) {
    std::vector<int> args;
    for (int a : argnums) {
      int n = int(inputs.size());
      int i = a < 0 ? a + n : a;
      if (i < 0 || i >= n) {
        std::ostringstream os;
        os << "[value_and_grad] argnum " << a << " is out of range for " << n << " arguments.";
        throw std::invalid_argument(os.str());
      }
      args.push_back(i);
    }
    // Only the first output is differentiated; the rest are auxiliary values.
    auto checked = [&fun](const std::vector<array>& in) {
      auto outputs = fun(in);
      if (outputs.empty()) throw std::invalid_argument("[value_and_grad] The function must return at least one array.");
      if (outputs[0].size() != 1) {
        std::ostringstream os;
        os << "[value_and_grad] The function's first output must be a scalar, got shape " << outputs[0].shape() << ".";
        throw std::invalid_argument(os.str());
      }
      return outputs;
    };
    auto [outputs, grads] = detail::vjp_impl(checked, inputs, {}, args);
    return std::make_pair(outputs, grads);
  };
}

ValueAndGradFn value_and_grad(const VectorFn& fun, int argnum) { return value_and_grad(fun, std::vector<int>{argnum}); }

SimpleValueAndGradFn value_and_grad(const std::function<array(const std::vector<array>&)>& fun,
                                    const std::vector<int>& argnums) {
  auto vg = value_and_grad([fun](const std::vector<array>& in) { return std::vector<array>{fun(in)}; }, argnums);
  return [vg](const std::vector<array>& in) {
    auto [v, g] = vg(in);
    return std::make_pair(v[0], g);
  };
}

SimpleValueAndGradFn value_and_grad(const std::function<array(const std::vector<array>&)>& fun, int argnum) {
  return value_and_grad(fun, std::vector<int>{argnum});
}

std::function<std::pair<array, array>(const array&)> value_and_grad(const std::function<array(const array&)>& fun) {
  auto vg = value_and_grad([fun](const std::vector<array>& in) { return fun(in[0]); }, 0);
  return [vg](const array& x) {
    auto [v, g] = vg({x});
    return std::make_pair(v, g[0]);
  };
}

std::function<std::vector<array>(const std::vector<array>&)> grad(
    const std::function<array(const std::vector<array>&)>& fun, const std::vector<int>& argnums) {
  auto vg = value_and_grad(fun, argnums);
  return [vg](const std::vector<array>& in) { return vg(in).second; };
}

std::function<std::vector<array>(const std::vector<array>&)> grad(
    const std::function<array(const std::vector<array>&)>& fun, int argnum) {
  return grad(fun, std::vector<int>{argnum});
}

std::function<array(const array&)> grad(const std::function<array(const array&)>& fun) {
  auto vg = value_and_grad(fun);
  return [vg](const array& x) { return vg(x).second; };
}

}  // namespace tessera
