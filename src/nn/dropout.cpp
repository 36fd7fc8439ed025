// Dropout masks from random::bernoulli.
#include "tessera/nn/dropout.h"

#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

Dropout::Dropout(float p) : p_(p) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("[Dropout] The drop probability must be in [0, 1), got " + std::to_string(p) + ".");
  }
}

array Dropout::drop(const array& x, const Shape& mask_shape) const {
  if (!training() || p_ == 0.0f) return x;
  Dtype d = issubdtype(x.dtype(), floating) ? x.dtype() : float32;
  array keep = random::bernoulli(array(1.0f - p_), mask_shape);
  return multiply(x, multiply(astype(keep, d), array(1.0f / (1.0f - p_), d)));
}

std::vector<array> Dropout::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  return {drop(x, x.shape())};
}

namespace {

Shape channel_mask_shape(const char* layer, const array& x, size_t spatial) {
  if (x.ndim() != spatial + 1 && x.ndim() != spatial + 2) {
    throw std::invalid_argument(std::string("[") + layer + "] Expected " + std::to_string(spatial + 1) + " or " +
                                std::to_string(spatial + 2) + " dimensions (channels last), got " +
                                std::to_string(x.ndim()) + ".");
  }
  Shape s = x.shape();
  for (size_t i = x.ndim() - 1 - spatial; i + 1 < x.ndim(); ++i) s[i] = 1;
  return s;
}

}  // namespace

std::vector<array> Dropout2d::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  return {drop(x, channel_mask_shape("Dropout2d", x, 2))};
}

std::vector<array> Dropout3d::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  return {drop(x, channel_mask_shape("Dropout3d", x, 3))};
}

}  // namespace tessera::nn
