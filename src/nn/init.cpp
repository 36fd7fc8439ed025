// Parameter initializers over tessera::random.
#include "tessera/nn/init.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn::init {

std::pair<float, float> calculate_fans(const Shape& shape) {
  if (shape.size() < 2) {
    throw std::invalid_argument("[init] Fans need a weight with at least 2 dimensions, got " +
                                std::to_string(shape.size()) + ".");
  }
  double receptive = 1;
  for (size_t i = 1; i + 1 < shape.size(); ++i) receptive *= shape[i];
  return {float(shape.back() * receptive), float(shape.front() * receptive)};
}

namespace {

float fan_for(const Shape& shape, const std::string& mode) {
  auto [fan_in, fan_out] = calculate_fans(shape);
  if (mode == "fan_in") return fan_in;
  if (mode == "fan_out") return fan_out;
  throw std::invalid_argument("[init] mode must be 'fan_in' or 'fan_out', got '" + mode + "'.");
}

}  // namespace

Initializer constant(float value, Dtype dtype) {
  return [=](const array& a) { return full(a.shape(), array(value, dtype)); };
}

Initializer normal(float mean, float std, Dtype dtype, std::optional<array> key) {
  return [=](const array& a) { return random::normal(a.shape(), dtype, mean, std, key); };
}

Initializer uniform(float low, float high, Dtype dtype, std::optional<array> key) {
  return [=](const array& a) { return random::uniform(array(low), array(high), a.shape(), dtype, key); };
}

Initializer identity(Dtype dtype) {
  return [=](const array& a) {
    if (a.ndim() != 2 || a.shape(0) != a.shape(1)) {
      throw std::invalid_argument("[init::identity] Needs a square 2-D shape.");
    }
    return eye(a.shape(0), dtype);
  };
}

Initializer glorot_normal(float gain, Dtype dtype, std::optional<array> key) {
  return [=](const array& a) {
    auto [fan_in, fan_out] = calculate_fans(a.shape());
    return random::normal(a.shape(), dtype, 0.0f, gain * std::sqrt(2.0f / (fan_in + fan_out)), key);
  };
}

Initializer glorot_uniform(float gain, Dtype dtype, std::optional<array> key) {
  return [=](const array& a) {
    auto [fan_in, fan_out] = calculate_fans(a.shape());
    float limit = gain * std::sqrt(6.0f / (fan_in + fan_out));
    return random::uniform(array(-limit), array(limit), a.shape(), dtype, key);
  };
}

Initializer he_normal(const std::string& mode, float gain, Dtype dtype, std::optional<array> key) {
  return [=](const array& a) {
    return random::normal(a.shape(), dtype, 0.0f, gain / std::sqrt(fan_for(a.shape(), mode)), key);
  };
}

Initializer he_uniform(const std::string& mode, float gain, Dtype dtype, std::optional<array> key) {
  return [=](const array& a) {
    float limit = gain * std::sqrt(3.0f / fan_for(a.shape(), mode));
    return random::uniform(array(-limit), array(limit), a.shape(), dtype, key);
  };
}

}  // namespace tessera::nn::init
