#include "tessera/optimizers/adagrad.h"

#include <stdexcept>

#include "optimizers/scalar.h"
#include "tessera/ops.h"

namespace tessera::optimizers {

using detail::scalar;

namespace {

void require_lr(const LearningRate& lr, const char* op) {
  if (!lr.has_value()) throw std::invalid_argument(std::string("[") + op + "] A learning rate is required.");
}

}  // namespace

Adagrad::Adagrad(LearningRate learning_rate, float eps) : Optimizer(std::move(learning_rate)), eps(eps) {
  require_lr(learning_rate_, "adagrad");
  if (eps < 0.0f) throw std::invalid_argument("[adagrad] eps must be non-negative.");
}

void Adagrad::init_single(const std::string&, const array& param, Slots& slots) const {
  slots.insert_or_assign("v", zeros_like(param));
}

array Adagrad::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                            const std::optional<array>& lr, int) const {
  array v = slots.at("v") + square(grad);
  slots.insert_or_assign("v", v);
  return param - *lr * grad / (sqrt(v) + scalar(eps, grad));
}

RMSprop::RMSprop(LearningRate learning_rate, float alpha, float eps)
    : Optimizer(std::move(learning_rate)), alpha(alpha), eps(eps) {
  require_lr(learning_rate_, "rmsprop");
  if (alpha < 0.0f) throw std::invalid_argument("[rmsprop] alpha must be non-negative.");
  if (eps < 0.0f) throw std::invalid_argument("[rmsprop] eps must be non-negative.");
}

void RMSprop::init_single(const std::string&, const array& param, Slots& slots) const {
  slots.insert_or_assign("v", zeros_like(param));
}

array RMSprop::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                            const std::optional<array>& lr, int) const {
  array v = scalar(alpha, grad) * slots.at("v") + scalar(1.0 - alpha, grad) * square(grad);
  slots.insert_or_assign("v", v);
  return param - *lr * grad / (sqrt(v) + scalar(eps, grad));
}

AdaDelta::AdaDelta(LearningRate learning_rate, float rho, float eps)
    : Optimizer(std::move(learning_rate)), rho(rho), eps(eps) {
  require_lr(learning_rate_, "adadelta");
  if (rho < 0.0f) throw std::invalid_argument("[adadelta] rho must be non-negative.");
  if (eps < 0.0f) throw std::invalid_argument("[adadelta] eps must be non-negative.");
}

void AdaDelta::init_single(const std::string&, const array& param, Slots& slots) const {
  slots.insert_or_assign("v", zeros_like(param));
  slots.insert_or_assign("u", zeros_like(param));
}

array AdaDelta::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                             const std::optional<array>& lr, int) const {
  array e = scalar(eps, grad);
  array v = scalar(rho, grad) * slots.at("v") + scalar(1.0 - rho, grad) * square(grad);
  array d = sqrt(slots.at("u") + e) / sqrt(v + e) * grad;
  array u = scalar(rho, grad) * slots.at("u") + scalar(1.0 - rho, grad) * square(d);
  slots.insert_or_assign("v", v);
  slots.insert_or_assign("u", u);
  return param - *lr * d;
}

}  // namespace tessera::optimizers
