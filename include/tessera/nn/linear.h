// Linear layers (follows MLX's nn.Linear): y = x W^T + b with W shaped [output_dims, input_dims],
// initialized uniform(-1/sqrt(input_dims), 1/sqrt(input_dims)) like the bias.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

class Linear : public Module {
 public:
  Linear(int input_dims, int output_dims, bool bias = true);
  std::string type_name() const override { return "Linear"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

  int input_dims() const { return param("weight").shape(1); }
  int output_dims() const { return param("weight").shape(0); }
  bool has_bias() const { return has_param("bias"); }
};

// Passes its input through unchanged (a placeholder in Sequential or when a layer is optional).
class Identity : public Module {
 public:
  std::string type_name() const override { return "Identity"; }
  std::vector<array> forward(const std::vector<array>& inputs) override { return {single_input(inputs)}; }
};

}  // namespace tessera::nn
