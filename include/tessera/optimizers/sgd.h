// Stochastic gradient descent with momentum (MLX's optimizers.SGD).
#pragma once

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// With weight decay λ, g ← g + λ·p. Without momentum: p ← p − lr·g. With momentum μ:
//   v ← μ·v + (1 − dampening)·g,   update = g + μ·v (Nesterov) or v,   p ← p − lr·update.
// The velocity starts at zero, so with dampening 0 this matches PyTorch's SGD exactly; with
// dampening > 0 the first step differs (PyTorch starts the velocity at g, MLX at (1 − d)·g).
class SGD : public Optimizer {
 public:
  explicit SGD(LearningRate learning_rate, float momentum = 0.0f, float weight_decay = 0.0f, float dampening = 0.0f,
               bool nesterov = false);
  std::string name() const override { return "sgd"; }

  float momentum, weight_decay, dampening;
  bool nesterov;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

}  // namespace tessera::optimizers
