#include "tessera/optimizers/adam.h"

#include <cmath>
#include <stdexcept>

#include "optimizers/scalar.h"
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

array Adam::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                         const std::optional<array>& lr, int step) const {
  const double b1 = betas.first, b2 = betas.second;
  array m = scalar(b1, grad) * slots.at("m") + scalar(1.0 - b1, grad) * grad;
  array v = scalar(b2, grad) * slots.at("v") + scalar(1.0 - b2, grad) * square(grad);
  slots.insert_or_assign("m", m);
  slots.insert_or_assign("v", v);
  if (!bias_correction) return param - *lr * m / (sqrt(v) + scalar(eps, grad));
  // The corrections are host constants of the step: lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1ᵗ) and
  // √v̂ = √v/√(1−β2ᵗ), computed in double and rounded once.
  const double c1 = 1.0 / (1.0 - std::pow(b1, step));
  const double c2 = 1.0 / std::sqrt(1.0 - std::pow(b2, step));
  return param - (*lr * scalar(c1, grad)) * m / (sqrt(v) * scalar(c2, grad) + scalar(eps, grad));
}

AdamW::AdamW(LearningRate learning_rate, std::pair<float, float> betas, float eps, float weight_decay,
             bool bias_correction)
    : Adam(std::move(learning_rate), betas, eps, bias_correction), weight_decay(weight_decay) {}

array AdamW::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                          const std::optional<array>& lr, int step) const {
  array decayed = weight_decay != 0.0f ? param * (scalar(1.0, grad) - *lr * scalar(weight_decay, grad)) : param;
  return Adam::apply_single(param_name, grad, decayed, slots, lr, step);
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
