// Gated feed-forward block: down(act(gate(x)) * up(x)), with gate and up fused into one product.
#pragma once

#include "lm/layers/linear.h"

namespace tessera::lm {

enum class Activation { silu, gelu_tanh };

class GatedMLP {
 public:
  GatedMLP(const Linear& gate, const Linear& up, Linear down, Activation act = Activation::silu);
  // x: [rows, hidden].
  array operator()(const array& x) const;

 private:
  Linear gate_up_, down_;
  int hidden_;
  Activation act_;
};

}  // namespace tessera::lm
