#include "tessera/optimizers/adam.h"

#include <cmath>
#include <stdexcept>

#include "optimizers/scalar.h"
#include "tessera/compile.h"
#include "tessera/ops.h"

namespace tessera::optimizers {

using detail::scalar;

namespace {

void check_betas(const char* op, std::pair<float, float> betas) {
  auto ok = [](float b) { return b >= 0.0f && b < 1.0f; };
  if (!ok(betas.first) || !ok(betas.second)) {
    throw std::invalid_argument(std::string("[") + op + "] Betas must lie in [0, 1).");
  }
}

}  // namespace

Adam::Adam(LearningRate learning_rate, std::pair<float, float> betas, float eps, bool bias_correction)
    : Optimizer(std::move(learning_rate)), betas(betas), eps(eps), bias_correction(bias_correction) {
  if (!learning_rate_.has_value()) throw std::invalid_argument("[adam] A learning rate is required.");
  check_betas("adam", betas);
}

void Adam::init_single(const std::string&, const array& param, Slots& slots) const {
  slots.insert_or_assign("m", zeros_like(param));
  slots.insert_or_assign("v", zeros_like(param));
}

namespace {

// One Adam(W) step of a parameter as a compiled function of (grad, param, m, v) and the step's
// scalars, so that compile fuses the new moments and the new parameter into one pass each over
// the parameter's elements (written as plain ops, the update makes about 14 passes). Shapeless:
// one trace serves every parameter of a dtype.
//   m' = b1 m + (1 - b1) g,  v' = b2 v + (1 - b2) g^2,
//   p' = p * decay - step_size * m' / (sqrt(v') * c2 + eps)
const std::function<std::vector<array>(const std::vector<array>&)>& fused_adam_step() {
  static const auto step = compile(
      [](const std::vector<array>& a) {
        const array &g = a[0], &p = a[1], &b1 = a[4], &nb1 = a[5], &b2 = a[6], &nb2 = a[7];
        const array &step_size = a[8], &c2 = a[9], &eps = a[10], &decay = a[11];
        array m = b1 * a[2] + nb1 * g;
        array v = b2 * a[3] + nb2 * square(g);
        array updated = p * decay - step_size * m / (sqrt(v) * c2 + eps);
        return std::vector<array>{updated, m, v};
      },
      true);
  return step;
}

}  // namespace

array Adam::update_moments_and_param(const array& grad, const array& param, Slots& slots, const array& lr, int step,
                                     const array& decay) const {
  const double b1 = betas.first, b2 = betas.second;
  // The corrections are host constants of the step: lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1ᵗ) and
  // √v̂ = √v/√(1−β2ᵗ), computed in double and rounded once. Without correction both are 1
  // (exact in the products below).
  const double c1 = bias_correction ? 1.0 / (1.0 - std::pow(b1, step)) : 1.0;
  const double c2 = bias_correction ? 1.0 / std::sqrt(1.0 - std::pow(b2, step)) : 1.0;
  std::vector<array> out = fused_adam_step()({grad, param, slots.at("m"), slots.at("v"), scalar(b1, grad),
                                             scalar(1.0 - b1, grad), scalar(b2, grad), scalar(1.0 - b2, grad),
                                             lr * scalar(c1, grad), scalar(c2, grad), scalar(eps, grad), decay});
  slots.insert_or_assign("m", out[1]);
  slots.insert_or_assign("v", out[2]);
  return out[0];
}

array Adam::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                         const std::optional<array>& lr, int step) const {
  return update_moments_and_param(grad, param, slots, *lr, step, scalar(1.0, grad));
}

AdamW::AdamW(LearningRate learning_rate, std::pair<float, float> betas, float eps, float weight_decay,
             bool bias_correction)
    : Adam(std::move(learning_rate), betas, eps, bias_correction), weight_decay(weight_decay) {}

array AdamW::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                          const std::optional<array>& lr, int step) const {
  array decay = weight_decay != 0.0f ? scalar(1.0, grad) - *lr * scalar(weight_decay, grad) : scalar(1.0, grad);
  return update_moments_and_param(grad, param, slots, *lr, step, decay);
}

Adamax::Adamax(LearningRate learning_rate, std::pair<float, float> betas, float eps, bool bias_correction)
    : Optimizer(std::move(learning_rate)), betas(betas), eps(eps), bias_correction(bias_correction) {
  if (!learning_rate_.has_value()) throw std::invalid_argument("[adamax] A learning rate is required.");
  check_betas("adamax", betas);
}

void Adamax::init_single(const std::string&, const array& param, Slots& slots) const {
  slots.insert_or_assign("m", zeros_like(param));
  slots.insert_or_assign("v", zeros_like(param));
}

array Adamax::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                           const std::optional<array>& lr, int step) const {
  const double b1 = betas.first, b2 = betas.second;
  array m = scalar(b1, grad) * slots.at("m") + scalar(1.0 - b1, grad) * grad;
  array v = maximum(scalar(b2, grad) * slots.at("v"), abs(grad));
  slots.insert_or_assign("m", m);
  slots.insert_or_assign("v", v);
  array step_size = bias_correction ? *lr * scalar(1.0 / (1.0 - std::pow(b1, step)), grad) : *lr;
  return param - step_size * m / (v + scalar(eps, grad));
}

}  // namespace tessera::optimizers
