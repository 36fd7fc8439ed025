#include "tessera/optimizers/lion.h"

#include <stdexcept>

#include "optimizers/scalar.h"
#include "tessera/ops.h"

namespace tessera::optimizers {

using detail::scalar;

Lion::Lion(LearningRate learning_rate, std::pair<float, float> betas, float weight_decay)
    : Optimizer(std::move(learning_rate)), betas(betas), weight_decay(weight_decay) {
  if (!learning_rate_.has_value()) throw std::invalid_argument("[lion] A learning rate is required.");
}

void Lion::init_single(const std::string&, const array& param, Slots& slots) const {
  slots.insert_or_assign("m", zeros_like(param));
}

array Lion::apply_single(const std::string&, const array& grad, const array& param, Slots& slots,
                         const std::optional<array>& lr, int) const {
  const double b1 = betas.first, b2 = betas.second;
  array m = slots.at("m");
  array c = scalar(b1, grad) * m + scalar(1.0 - b1, grad) * grad;
  slots.insert_or_assign("m", scalar(b2, grad) * m + scalar(1.0 - b2, grad) * grad);
  array p = weight_decay != 0.0f ? param * (scalar(1.0, grad) - *lr * scalar(weight_decay, grad)) : param;
  return p - *lr * sign(c);
}

}  // namespace tessera::optimizers
