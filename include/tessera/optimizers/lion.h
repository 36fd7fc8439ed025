// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"; MLX's optimizers.Lion).
#pragma once

#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// c = β1·m + (1 − β1)·g,  m ← β2·m + (1 − β2)·g,  p ← p·(1 − lr·λ) − lr·sign(c).
// The update has unit magnitude per coordinate, so Lion wants a learning rate 3–10× smaller than
// AdamW's and a correspondingly larger weight decay.
class Lion : public Optimizer {
 public:
  explicit Lion(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.99f}, float weight_decay = 0.0f);
  std::string name() const override { return "lion"; }

  std::pair<float, float> betas;
  float weight_decay;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

}  // namespace tessera::optimizers
