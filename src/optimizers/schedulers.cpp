#include "tessera/optimizers/schedulers.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace tessera::optimizers {

namespace {

array value(double v) { return array(float(v)); }

}  // namespace

Schedule exponential_decay(float init, float decay_rate) {
  return [=](int step) { return value(double(init) * std::pow(double(decay_rate), step)); };
}

Schedule step_decay(float init, float decay_rate, int step_size) {
  if (step_size <= 0) throw std::invalid_argument("[step_decay] step_size must be positive.");
  return [=](int step) {
    // Floor division, so that negative steps (never produced by optimizers) stay consistent.
    int k = step >= 0 ? step / step_size : -((-step + step_size - 1) / step_size);
    return value(double(init) * std::pow(double(decay_rate), k));
  };
}

Schedule cosine_decay(float init, int decay_steps, float end) {
  if (decay_steps <= 0) throw std::invalid_argument("[cosine_decay] decay_steps must be positive.");
  return [=](int step) {
    double s = std::min(step, decay_steps);
    double decay = 0.5 * (1.0 + std::cos(std::numbers::pi * s / decay_steps));
    return value(double(end) + decay * (double(init) - double(end)));
  };
}

Schedule linear_schedule(float init, float end, int steps) {
  if (steps < 1) throw std::invalid_argument("[linear_schedule] steps must be at least 1.");
  return [=](int step) {
    double s = std::min(step, steps);
    return value(double(init) + s * (double(end) - double(init)) / steps);
  };
}

Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int> boundaries) {
  if (schedules.empty()) throw std::invalid_argument("[join_schedules] Needs at least one schedule.");
  if (boundaries.size() + 1 != schedules.size()) {
    throw std::invalid_argument("[join_schedules] Needs one boundary fewer than schedules (got " +
                                std::to_string(schedules.size()) + " schedules and " +
                                std::to_string(boundaries.size()) + " boundaries).");
  }
  for (size_t i = 1; i < boundaries.size(); ++i) {
    if (boundaries[i] < boundaries[i - 1]) throw std::invalid_argument("[join_schedules] Boundaries must increase.");
  }
  return [schedules = std::move(schedules), boundaries = std::move(boundaries)](int step) {
    size_t i = std::upper_bound(boundaries.begin(), boundaries.end(), step) - boundaries.begin();
    return schedules[i](i == 0 ? step : step - boundaries[i - 1]);
  };
}

}  // namespace tessera::optimizers
