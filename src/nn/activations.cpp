// Activation functions as compositions of ops, so every transform differentiates them.
#include "tessera/nn/activations.h"

#include <cmath>
#include <stdexcept>

namespace tessera::nn {

namespace {

// A constant in x's dtype (float32 for non-float inputs), so activations do not promote bfloat16.
array c(double v, const array& x) {
  return array(float(v), issubdtype(x.dtype(), floating) ? x.dtype() : float32);
}

}  // namespace

array relu(const array& x) { return maximum(x, c(0, x)); }

array relu6(const array& x) { return minimum(maximum(x, c(0, x)), c(6, x)); }

array relu_squared(const array& x) { return square(relu(x)); }

array leaky_relu(const array& x, float negative_slope) { return maximum(multiply(c(negative_slope, x), x), x); }

array elu(const array& x, float alpha) {
  return where(greater(x, c(0, x)), x, multiply(c(alpha, x), expm1(minimum(x, c(0, x)))));
}

array selu(const array& x) { return multiply(c(1.0507009873554805, x), elu(x, 1.6732632423543772f)); }

array celu(const array& x, float alpha) {
  array neg = multiply(c(alpha, x), expm1(divide(minimum(x, c(0, x)), c(alpha, x))));
  return add(maximum(x, c(0, x)), neg);
}

array gelu(const array& x) {
  return multiply(multiply(x, c(0.5, x)), add(c(1, x), erf(multiply(x, c(M_SQRT1_2, x)))));
}

array gelu_approx(const array& x) {
  array inner = multiply(c(std::sqrt(2.0 / M_PI), x), add(x, multiply(c(0.044715, x), multiply(x, square(x)))));
  return multiply(multiply(c(0.5, x), x), add(c(1, x), tessera::tanh(inner)));
}

array gelu_fast_approx(const array& x) { return multiply(x, tessera::sigmoid(multiply(c(1.702, x), x))); }

array silu(const array& x) { return multiply(x, tessera::sigmoid(x)); }

array softplus(const array& x) { return logaddexp(x, c(0, x)); }

array mish(const array& x) { return multiply(x, tessera::tanh(softplus(x))); }

array softsign(const array& x) { return divide(x, add(c(1, x), abs(x))); }

array glu(const array& x, int axis) {
  int ax = axis < 0 ? axis + int(x.ndim()) : axis;
  if (ax < 0 || ax >= int(x.ndim()) || x.shape(ax) % 2 != 0) {
    throw std::invalid_argument("[glu] Axis " + std::to_string(axis) + " must exist and have an even size.");
  }
  std::vector<array> halves = split(x, 2, ax);
  return multiply(halves[0], tessera::sigmoid(halves[1]));
}

array log_sigmoid(const array& x) { return negative(softplus(negative(x))); }

array log_softmax(const array& x, int axis) { return subtract(x, logsumexp(x, axis, true)); }

array softmin(const array& x, int axis) { return tessera::softmax(negative(x), axis); }

array hard_tanh(const array& x, float min_val, float max_val) {
  return minimum(maximum(x, c(min_val, x)), c(max_val, x));
}

array hardswish(const array& x) {
  array gate = minimum(maximum(add(x, c(3, x)), c(0, x)), c(6, x));
  return divide(multiply(x, gate), c(6, x));
}

array hard_shrink(const array& x, float lambd) { return where(greater(abs(x), c(lambd, x)), x, c(0, x)); }

array soft_shrink(const array& x, float lambd) {
  array shrunk = subtract(x, multiply(sign(x), c(lambd, x)));
  return where(greater(abs(x), c(lambd, x)), shrunk, c(0, x));
}

array prelu(const array& x, const array& alpha) {
  return add(maximum(x, c(0, x)), multiply(alpha, minimum(x, c(0, x))));
}

array step(const array& x, float threshold) { return where(greater(x, c(threshold, x)), c(1, x), c(0, x)); }

GELU::GELU(const std::string& approx)
    : Activation("GELU", [&]() -> std::function<array(const array&)> {
        if (approx == "none") return gelu;
        if (approx == "precise" || approx == "tanh") return gelu_approx;
        if (approx == "fast") return gelu_fast_approx;
        throw std::invalid_argument("[GELU] approx must be 'none', 'precise', 'tanh' or 'fast', got '" + approx + "'.");
      }()) {}

PReLU::PReLU(int num_parameters, float init) { register_parameter("weight", full({num_parameters}, init)); }

std::vector<array> PReLU::forward(const std::vector<array>& inputs) {
  return {prelu(single_input(inputs), param("weight"))};
}

}  // namespace tessera::nn
