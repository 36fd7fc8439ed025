// Adam and its variants (MLX's optimizers.Adam, AdamW and Adamax).
#pragma once

#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,  p ← p − lr·m / (√v + ε).
// bias_correction (off by default, as in MLX) divides m by 1 − β1ᵗ and v by 1 − β2ᵗ (t the
// 1-based step), which is PyTorch's Adam.
class Adam : public Optimizer {
 public:
  explicit Adam(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f}, float eps = 1e-8f,
                bool bias_correction = false);
  std::string name() const override { return "adam"; }

  std::pair<float, float> betas;
  float eps;
  bool bias_correction;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
  // The step shared with AdamW, whose weight decay scales the parameter by `decay` first.
  array update_moments_and_param(const array& grad, const array& param, Slots& slots, const array& lr, int step,
                                 const array& decay) const;
};

// Adam with decoupled weight decay: p ← p·(1 − lr·λ) before the Adam step (PyTorch's AdamW when
// bias_correction is on). MLX's default λ is 0.01.
class AdamW : public Adam {
 public:
  explicit AdamW(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f}, float eps = 1e-8f,
                 float weight_decay = 0.01f, bool bias_correction = false);
  std::string name() const override { return "adamw"; }

  float weight_decay;

 protected:
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

// Adam with the infinity norm: m ← β1·m + (1 − β1)·g,  v ← max(β2·v, |g|),  p ← p − lr·m / (v + ε).
// bias_correction (off by default, as in MLX) divides m by 1 − β1ᵗ, as PyTorch's Adamax does
// (PyTorch also folds ε into the max rather than the denominator).
class Adamax : public Optimizer {
 public:
  explicit Adamax(LearningRate learning_rate, std::pair<float, float> betas = {0.9f, 0.999f}, float eps = 1e-8f,
                  bool bias_correction = false);
  std::string name() const override { return "adamax"; }

  std::pair<float, float> betas;
  float eps;
  bool bias_correction;

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;
};

}  // namespace tessera::optimizers
