// RMS normalization with a learned scale (the fused fast::rms_norm).
#pragma once

#include "tessera/fast.h"
#include "tessera/ops.h"

namespace tessera::lm {

class RMSNorm {
 public:
  // `offset` is added to the weight once here: Gemma's Hugging Face checkpoints store w - 1 and
  // scale by (1 + w), in float32 as the sum is formed here.
  RMSNorm(array weight, float eps, float offset = 0.0f) : weight_(std::move(weight)), eps_(eps) {
    if (offset != 0.0f) {
      weight_ = add(astype(weight_, float32), array(offset));
      weight_.eval();
    }
  }
  array operator()(const array& x) const { return fast::rms_norm(x, weight_, eps_); }
  const array& weight() const { return weight_; }
  float eps() const { return eps_; }

 private:
  array weight_;
  float eps_;
};

}  // namespace tessera::lm
