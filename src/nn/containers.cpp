// Sequential: a module list called in order.
#include "tessera/nn/containers.h"

#include <stdexcept>

#include "tessera/nn/activations.h"

namespace tessera::nn {

Sequential::Sequential(std::initializer_list<ModulePtr> layers) : Sequential(std::vector<ModulePtr>(layers)) {}

Sequential::Sequential(const std::vector<ModulePtr>& layers) { register_modules("layers", layers); }

size_t Sequential::size() const { return has_child("layers") ? child("layers").children().size() : 0; }

Module& Sequential::operator[](size_t i) const {
  if (i >= size()) {
    throw std::out_of_range("[Sequential] Layer " + std::to_string(i) + " of " + std::to_string(size()) + ".");
  }
  return child("layers." + std::to_string(i));
}

Sequential& Sequential::append(ModulePtr layer) {
  if (!has_child("layers")) register_modules("layers", {});
  child("layers").set_child(std::to_string(size()), std::move(layer));
  return *this;
}

Sequential& Sequential::append(std::function<array(const array&)> fn, const std::string& name) {
  return append(std::make_shared<Activation>(name, std::move(fn)));
}

std::vector<array> Sequential::forward(const std::vector<array>& inputs) {
  std::vector<array> x = inputs;
  if (!has_child("layers")) return x;
  // Through the registry, so layers replaced after construction (nn::quantize) are the ones run.
  for (auto& [name, layer] : child("layers").children()) x = layer->forward(x);
  return x;
}

}  // namespace tessera::nn
