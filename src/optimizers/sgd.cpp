#include "tessera/optimizers/sgd.h"

#include <stdexcept>

#include "optimizers/scalar.h"
#include "tessera/ops.h"

namespace tessera::optimizers {

using detail::scalar;

SGD::SGD(LearningRate learning_rate, float momentum, float weight_decay, float dampening, bool nesterov)
    : Optimizer(std::move(learning_rate)),
      momentum(momentum),
      weight_decay(weight_decay),
      dampening(dampening),
      nesterov(nesterov) {
  if (!learning_rate_.has_value()) throw std::invalid_argument("[sgd] A learning rate is required.");
  if (nesterov && (momentum <= 0.0f || dampening != 0.0f)) {
    throw std::invalid_argument("[sgd] Nesterov momentum needs a positive momentum and zero dampening.");
  }
}

void SGD::init_single(const std::string&, const array& param, Slots& slots) const {
  if (momentum > 0.0f) slots.insert_or_assign("v", zeros_like(param));
}

array SGD::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                        const std::optional<array>& lr, int) const {
  array g = grad;
  if (weight_decay != 0.0f) g = g + scalar(weight_decay, g) * param;
  if (momentum <= 0.0f) return param - *lr * g;
  array v = scalar(momentum, g) * slots.at("v");
  v = v + (dampening > 0.0f ? scalar(1.0 - dampening, g) * g : g);
  slots.insert_or_assign("v", v);
  array u = nesterov ? g + scalar(momentum, g) * v : v;
  return param - *lr * u;
}

}  // namespace tessera::optimizers
