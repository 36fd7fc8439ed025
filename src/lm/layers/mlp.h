// Gated feed-forward block: down(act(gate(x)) * up(x)), with gate and up fused into one product.
#pragma once

#include <string>

#include "lm/layers/linear.h"

namespace tessera::lm {

enum class Activation { silu, gelu_tanh, gelu };

// transformers' hidden_act names: "silu"/"swish", "gelu_pytorch_tanh"/"gelu_new"/"gelu_fast"
// (tanh approximation), "gelu" (erf). std::invalid_argument naming the supported ones otherwise.
Activation activation_from_name(const std::string& name);

class GatedMLP {
 public:
  GatedMLP(const Linear& gate, const Linear& up, Linear down, Activation act = Activation::silu);
  // gate_up: one [2 F, hidden] projection whose first F outputs are the gate (Phi-3's gate_up_proj).
  GatedMLP(Linear gate_up, Linear down, Activation act = Activation::silu);
  // x: [rows, hidden].
  array operator()(const array& x) const;

 private:
  Linear gate_up_, down_;
  int hidden_;
  Activation act_;
};

}  // namespace tessera::lm
