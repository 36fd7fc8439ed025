// Rotary positional encoding (follows MLX's nn.RoPE) over fast::rope. Rotates the first `dims`
// features of [..., L, D] inputs by position-dependent angles theta_i = pos * scale * base^(-2i/dims).
// traditional=false rotates the two halves of those features against each other (the layout of
// Llama-style checkpoints); traditional=true rotates adjacent pairs.
#pragma once

#include "tessera/nn/module.h"

namespace tessera::nn {

class RoPE : public Module {
 public:
  explicit RoPE(int dims, bool traditional = false, float base = 10000.0f, float scale = 1.0f);
  std::string type_name() const override { return "RoPE"; }
  // Positions start at `offset` (the number of tokens already in a KV cache).
  array operator()(const array& x, int offset = 0) const;
  array operator()(const array& x, const array& offset) const;
  // Inputs {x} or {x, offset}.
  std::vector<array> forward(const std::vector<array>& inputs) override;

  int dims() const { return dims_; }

 private:
  int dims_;
  bool traditional_;
  float base_, scale_;
};

}  // namespace tessera::nn
