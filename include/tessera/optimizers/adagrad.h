// The per-coordinate step-size family built on a running sum or average of squared gradients
// (MLX's optimizers.Adagrad, RMSprop and AdaDelta). Each matches PyTorch's optimizer of the same
// name with its default options (PyTorch's Adagrad eps default is 1e-10, MLX's 1e-8).
#pragma once

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// v ← v + g²,  p ← p − lr·g / (√v + ε).
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(LearningRate learning_rate, float eps = 1e-8f);
  std::string name() const override { return "adagrad"; }

  float eps;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

// v ← α·v + (1 − α)·g²,  p ← p − lr·g / (√v + ε).
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(LearningRate learning_rate, float alpha = 0.99f, float eps = 1e-8f);
  std::string name() const override { return "rmsprop"; }

  float alpha, eps;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

// v ← ρ·v + (1 − ρ)·g²,  Δ = √(u + ε) / √(v + ε) · g,  u ← ρ·u + (1 − ρ)·Δ²,  p ← p − lr·Δ.
class AdaDelta : public Optimizer {
 public:
  explicit AdaDelta(LearningRate learning_rate, float rho = 0.9f, float eps = 1e-6f);
  std::string name() const override { return "adadelta"; }

  float rho, eps;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

}  // namespace tessera::optimizers
