// Muon: momentum orthogonalized by Newton–Schulz (K. Jordan et al. 2024, "Muon: An optimizer for
// hidden layers in neural networks"; the matrix update follows MLX's optimizers.Muon).
#pragma once

#include <functional>
#include <utility>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// Orthogonalized parameters (by default every parameter of rank ≥ 2; higher ranks are viewed as
// [shape[0], rest], e.g. convolution filters):
//   g ← g + λ·p,  v ← μ·v + (1 − μ)·g,  u = nesterov ? (1 − μ)·g + μ·v : v,
//   O = NS5(u),  p ← p − lr·√max(1, rows/cols)·O
// NS5 approximates the orthogonal factor U·Vᵀ of u = U·Σ·Vᵀ without an SVD: X = u/(‖u‖_F + 1e-7)
// (transposed so that rows ≤ cols) then `ns_steps` times
//   A = X·Xᵀ,  X ← a·X + (b·A + c·A²)·X,   (a, b, c) = (3.4445, −4.7750, 2.0315).
// These coefficients (Jordan's) maximize the slope at zero of the odd quintic
// φ(σ) = aσ + bσ³ + cσ⁵ while keeping its iterates in about [0.7, 1.2] on (0, 1]: five steps push
// every singular value into that band rather than converging exactly to 1, which trains as well
// and costs fewer matrix products. The iteration runs in float32 here (MLX uses bfloat16).
//
// Everything else (biases, norms, scalars, and any parameter `orthogonalize` rejects, typically
// the embedding and the output head) gets AdamW with bias correction and decoupled decay λ,
// at `adam_learning_rate` when given, else at the Muon rate:
//   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,  p ← p·(1 − lr·λ) − lr·m̂/(√v̂ + ε).
// adamw_fallback = false reproduces MLX exactly: those parameters take the momentum step above
// without orthogonalization.
class Muon : public Optimizer {
 public:
  using Selector = std::function<bool(const std::string& name, const array& param)>;

  explicit Muon(LearningRate learning_rate, float momentum = 0.95f, float weight_decay = 0.01f, bool nesterov = true,
                int ns_steps = 5, bool adamw_fallback = true, LearningRate adam_learning_rate = {},
                std::pair<float, float> adam_betas = {0.9f, 0.95f}, float adam_eps = 1e-8f);
  std::string name() const override { return "muon"; }

  float momentum, weight_decay;
  bool nesterov;
  int ns_steps;
  bool adamw_fallback;
  LearningRate adam_learning_rate;
  std::pair<float, float> adam_betas;
  float adam_eps;
  // Which parameters get the orthogonalized update (default: rank ≥ 2).
  Selector orthogonalize;

  static constexpr float ns_a = 3.4445f, ns_b = -4.7750f, ns_c = 2.0315f;
  // The Newton–Schulz orthogonalization of a matrix (exposed for tests and reuse).
  static array newton_schulz(const array& x, int steps);

 protected:
  void init_single(const std::string& param_name, const array& param, Slots& slots) const override;
  array apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                     const std::optional<array>& lr, int step) const override;

 private:
  bool uses_adamw(const std::string& param_name, const array& param) const {
    return adamw_fallback && !orthogonalize(param_name, param);
  }
};

}  // namespace tessera::optimizers
