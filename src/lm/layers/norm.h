// RMS normalization with a learned scale (the fused fast::rms_norm).
#pragma once

#include "tessera/fast.h"

namespace tessera::lm {

class RMSNorm {
 public:
  RMSNorm(array weight, float eps) : weight_(std::move(weight)), eps_(eps) {}
  array operator()(const array& x) const { return fast::rms_norm(x, weight_, eps_); }

 private:
  array weight_;
  float eps_;
};

}  // namespace tessera::lm
