#include "tessera/optimizers/adafactor.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "optimizers/scalar.h"
#include "tessera/ops.h"

namespace tessera::optimizers {

using detail::scalar;

namespace {

array rms(const array& x) { return sqrt(mean(square(x))); }

}  // namespace

Adafactor::Adafactor(LearningRate learning_rate, std::pair<float, float> eps, float clip_threshold, float decay_rate,
                     std::optional<float> beta_1, float weight_decay, bool scale_parameter, bool relative_step,
                     bool warmup_init)
    : Optimizer(std::move(learning_rate)),
      eps(eps),
      clip_threshold(clip_threshold),
      decay_rate(decay_rate),
      beta_1(beta_1),
      weight_decay(weight_decay),
      scale_parameter(scale_parameter),
      relative_step(relative_step),
      warmup_init(warmup_init) {
  if (!relative_step && !learning_rate_.has_value()) {
    throw std::invalid_argument("[adafactor] A learning rate is required when relative_step is false.");
  }
}

void Adafactor::init_single(const std::string&, const array& param, Slots& slots) const {
  const Shape& s = param.shape();
  if (param.ndim() >= 2) {
    Shape row(s.begin(), s.end() - 1);
    Shape col(s.begin(), s.end() - 2);
    col.push_back(s.back());
    slots.insert_or_assign("exp_avg_sq_row", zeros(row, param.dtype()));
    slots.insert_or_assign("exp_avg_sq_col", zeros(col, param.dtype()));
  } else {
    slots.insert_or_assign("exp_avg_sq", zeros_like(param));
  }
  if (beta_1) slots.insert_or_assign("exp_avg", zeros_like(param));
}

array Adafactor::apply_single(const std::string&, const array& grad, const array& param, Slots& slots,
                              const std::optional<array>& lr, int step) const {
  const Dtype dt = grad.dtype();
  array param_rms = rms(param);
  // α: the relative step (a host constant of t) or the given rate, scaled by the parameter's RMS.
  array alpha = [&] {
    if (!relative_step) return *lr;
    double min_step = warmup_init ? 1e-6 * step : 1e-2;
    return scalar(std::min(min_step, 1.0 / std::sqrt(double(step))), dt);
  }();
  if (scale_parameter) alpha = alpha * maximum(scalar(eps.second, dt), param_rms);

  const double beta_2 = 1.0 - std::pow(double(step), double(decay_rate));
  array b2 = scalar(beta_2, dt), one_minus_b2 = scalar(1.0 - beta_2, dt);
  array g2 = square(grad) + scalar(eps.first, dt);
  array u = grad;
  if (param.ndim() >= 2) {
    array row = b2 * slots.at("exp_avg_sq_row") + one_minus_b2 * mean(g2, -1);
    array col = b2 * slots.at("exp_avg_sq_col") + one_minus_b2 * mean(g2, -2);
    slots.insert_or_assign("exp_avg_sq_row", row);
    slots.insert_or_assign("exp_avg_sq_col", col);
    // The rank-1 estimate of 1/√V: row factors normalized by their mean, times column factors.
    array r_factor = rsqrt(row / mean(row, -1, true));
    array c_factor = rsqrt(col);
    u = grad * expand_dims(r_factor, -1) * expand_dims(c_factor, -2);
  } else {
    array v = b2 * slots.at("exp_avg_sq") + one_minus_b2 * g2;
    slots.insert_or_assign("exp_avg_sq", v);
    u = grad * rsqrt(v);
  }
  u = u / maximum(scalar(1.0, dt), rms(u) / scalar(clip_threshold, dt));
  u = alpha * u;
  if (beta_1) {
    array m = scalar(*beta_1, dt) * slots.at("exp_avg") + scalar(1.0 - *beta_1, dt) * u;
    slots.insert_or_assign("exp_avg", m);
    u = m;
  }
  array p = param;
  if (weight_decay != 0.0f) p = p - p * (scalar(weight_decay, dt) * alpha);
  return p - u;
}

}  // namespace tessera::optimizers
