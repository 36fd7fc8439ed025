#include "tessera/optimizers/muon.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "optimizers/scalar.h"
#include "tessera/ops.h"

namespace tessera::optimizers {

using detail::scalar;

Muon::Muon(LearningRate learning_rate, float momentum, float weight_decay, bool nesterov, int ns_steps,
           bool adamw_fallback, LearningRate adam_learning_rate, std::pair<float, float> adam_betas, float adam_eps)
    : Optimizer(std::move(learning_rate)),
      momentum(momentum),
      weight_decay(weight_decay),
      nesterov(nesterov),
      ns_steps(ns_steps),
      adamw_fallback(adamw_fallback),
      adam_learning_rate(std::move(adam_learning_rate)),
      adam_betas(adam_betas),
      adam_eps(adam_eps),
      orthogonalize([](const std::string&, const array& p) { return p.ndim() >= 2; }) {
  if (!learning_rate_.has_value()) throw std::invalid_argument("[muon] A learning rate is required.");
  if (ns_steps < 0) throw std::invalid_argument("[muon] ns_steps must be non-negative.");
}

array Muon::newton_schulz(const array& x, int steps) {
  if (x.ndim() != 2) throw std::invalid_argument("[muon] Newton-Schulz needs a matrix.");
  array X = astype(x, float32);
  // Iterating on the wide orientation keeps the Gram matrix X·Xᵀ at the smaller size.
  const bool transposed = X.shape(0) > X.shape(1);
  if (transposed) X = transpose(X);
  X = X / (sqrt(sum(square(X))) + array(1e-7f));
  for (int i = 0; i < steps; ++i) {
    array A = matmul(X, transpose(X));
    array B = addmm(array(ns_b) * A, A, A, ns_c, 1.0f);
    X = addmm(array(ns_a) * X, B, X, 1.0f, 1.0f);
  }
  if (transposed) X = transpose(X);
  return astype(X, x.dtype());
}

void Muon::init_single(const std::string& param_name, const array& param, Slots& slots) const {
  if (uses_adamw(param_name, param)) {
    slots.insert_or_assign("m", zeros_like(param));
    slots.insert_or_assign("v", zeros_like(param));
  } else {
    slots.insert_or_assign("v", zeros_like(param));
  }
}

array Muon::apply_single(const std::string& param_name, const array& grad, const array& param, Slots& slots,
                         const std::optional<array>& lr, int step) const {
  const Dtype dt = grad.dtype();
  if (uses_adamw(param_name, param)) {
    // step - 1: the base class has already advanced the counter to this update's 1-based index.
    array alr = adam_learning_rate.has_value() ? astype(adam_learning_rate.at(step - 1), dt) : *lr;
    const double b1 = adam_betas.first, b2 = adam_betas.second;
    array m = scalar(b1, dt) * slots.at("m") + scalar(1.0 - b1, dt) * grad;
    array v = scalar(b2, dt) * slots.at("v") + scalar(1.0 - b2, dt) * square(grad);
    slots.insert_or_assign("m", m);
    slots.insert_or_assign("v", v);
    const double c1 = 1.0 / (1.0 - std::pow(b1, step));
    const double c2 = 1.0 / std::sqrt(1.0 - std::pow(b2, step));
    array p = weight_decay != 0.0f ? param * (scalar(1.0, dt) - alr * scalar(weight_decay, dt)) : param;
    return p - (alr * scalar(c1, dt)) * m / (sqrt(v) * scalar(c2, dt) + scalar(adam_eps, dt));
  }

  array g = weight_decay != 0.0f ? grad + scalar(weight_decay, dt) * param : grad;
  array v = scalar(momentum, dt) * slots.at("v") + scalar(1.0 - momentum, dt) * g;
  slots.insert_or_assign("v", v);
  array u = nesterov ? scalar(1.0 - momentum, dt) * g + scalar(momentum, dt) * v : v;
  if (!orthogonalize(param_name, param) || u.ndim() < 2) return param - *lr * u;

  const Shape shape = u.shape();
  const int rows = shape[0], cols = int(u.size() / std::max(rows, 1));
  array o = reshape(newton_schulz(reshape(u, {rows, cols}), ns_steps), shape);
  // An orthogonalized rows×cols update has RMS 1/√max(rows, cols); the √max(1, rows/cols) factor
  // (MLX's) makes it 1/√cols for tall matrices as for wide ones.
  const double scale = std::sqrt(std::max(1.0, double(rows) / double(cols)));
  return param - (*lr * scalar(scale, dt)) * o;
}

}  // namespace tessera::optimizers
