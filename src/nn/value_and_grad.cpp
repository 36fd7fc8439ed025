// nn::value_and_grad: tessera::value_and_grad over a module's trainable parameters. The
// parameters become leading arguments of a traced function that swaps them into the model, runs
// the user's function and swaps the originals back (also when it throws).
#include <numeric>
#include <stdexcept>

#include "tessera/nn/module.h"
#include "tessera/transforms.h"

namespace tessera::nn {

namespace {

// Puts `originals` back into the model when the traced call ends.
struct Restore {
  Module& model;
  const Params& originals;
  ~Restore() {
    try {
      model.update(originals);
    } catch (...) {
      // The names came from this model a moment ago; update cannot fail unless the user's
      // function restructured the model, and a destructor must not throw.
    }
  }
};

}  // namespace

ModuleValueAndGradFn value_and_grad(Module& model, ModuleLossFn fn) {
  Module* m = &model;
  return [m, fn = std::move(fn)](const std::vector<array>& inputs) -> std::pair<std::vector<array>, Params> {
    const Params trainable = m->trainable_parameters();
    if (trainable.empty()) return {fn(inputs), Params{}};
    std::vector<std::string> names;
    std::vector<array> args;
    names.reserve(trainable.size());
    args.reserve(trainable.size() + inputs.size());
    for (auto& [name, value] : trainable) {
      names.push_back(name);
      args.push_back(value);
    }
    args.insert(args.end(), inputs.begin(), inputs.end());
    const size_t n = names.size();

    VectorFn traced = [&](const std::vector<array>& a) {
      Params substituted;
      for (size_t i = 0; i < n; ++i) substituted.emplace(names[i], a[i]);
      Restore restore{*m, trainable};
      m->update(substituted);
      return fn(std::vector<array>(a.begin() + n, a.end()));
    };
    std::vector<int> argnums(n);
    std::iota(argnums.begin(), argnums.end(), 0);
    auto [outputs, grads] = tessera::value_and_grad(traced, argnums)(args);
    Params named;
    for (size_t i = 0; i < n; ++i) named.emplace(names[i], std::move(grads[i]));
    return {std::move(outputs), std::move(named)};
  };
}

std::function<std::pair<array, Params>(const std::vector<array>&)> value_and_grad(
    Module& model, std::function<array(const std::vector<array>&)> fn) {
  ModuleValueAndGradFn vg = value_and_grad(model, ModuleLossFn([fn = std::move(fn)](const std::vector<array>& x) {
                                             return std::vector<array>{fn(x)};
                                           }));
  return [vg](const std::vector<array>& inputs) {
    auto [outputs, grads] = vg(inputs);
    return std::pair<array, Params>{outputs.at(0), std::move(grads)};
  };
}

}  // namespace tessera::nn
