// Sequential (follows MLX's nn.Sequential): layers applied in order, registered as a module list
// named "layers", so parameters read "layers.0.weight", "layers.2.bias", ...
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/nn/module.h"

namespace tessera::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> layers);
  explicit Sequential(const std::vector<ModulePtr>& layers);
  // Sequential(a, b, c) with any shared_ptr<Layer> arguments, so that
  // std::make_shared<Sequential>(std::make_shared<Linear>(4, 8), std::make_shared<ReLU>()) works.
  template <typename... Layers,
            typename = std::enable_if_t<(sizeof...(Layers) > 0) && (std::is_convertible_v<Layers, ModulePtr> && ...)>>
  explicit Sequential(Layers&&... layers) : Sequential(std::vector<ModulePtr>{ModulePtr(std::forward<Layers>(layers))...}) {}

  std::string type_name() const override { return "Sequential"; }
  // Each layer's outputs are the next layer's inputs.
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

  // Appends a layer (returns *this for chaining); a plain function becomes a parameterless layer.
  Sequential& append(ModulePtr layer);
  Sequential& append(std::function<array(const array&)> fn, const std::string& name = "Lambda");

  size_t size() const;
  Module& operator[](size_t i) const;
};

}  // namespace tessera::nn
