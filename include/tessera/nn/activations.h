// Activation functions and their modules (follows MLX's mlx.nn activations: names, defaults and
// formulas). Functions keep the input's floating-point dtype: constants are made in x's dtype, so
// a bfloat16 activation stays bfloat16.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "tessera/nn/module.h"
#include "tessera/ops.h"

namespace tessera::nn {

// Re-exported so that nn::sigmoid etc. and tessera::sigmoid are one function (no ambiguity
// under `using namespace`).
using tessera::sigmoid;
using tessera::softmax;
using tessera::tanh;

array relu(const array& x);
array relu6(const array& x);
array relu_squared(const array& x);
array leaky_relu(const array& x, float negative_slope = 0.01f);
array elu(const array& x, float alpha = 1.0f);
// Scaled ELU with the self-normalizing constants (alpha 1.67326, scale 1.0507).
array selu(const array& x);
array celu(const array& x, float alpha = 1.0f);
// x * Phi(x) with the exact Gaussian CDF.
array gelu(const array& x);
// The tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (PyTorch's approximate='tanh').
array gelu_approx(const array& x);
// x * sigmoid(1.702 x).
array gelu_fast_approx(const array& x);
array silu(const array& x);
array mish(const array& x);
// log(1 + exp(x)), computed as logaddexp(x, 0) so large x does not overflow.
array softplus(const array& x);
array softsign(const array& x);
// Splits `axis` in two halves a, b and returns a * sigmoid(b).
array glu(const array& x, int axis = -1);
array log_sigmoid(const array& x);
array log_softmax(const array& x, int axis = -1);
array softmin(const array& x, int axis = -1);
array hard_tanh(const array& x, float min_val = -1.0f, float max_val = 1.0f);
array hardswish(const array& x);
array hard_shrink(const array& x, float lambd = 0.5f);
array soft_shrink(const array& x, float lambd = 0.5f);
// max(0, x) + alpha * min(0, x); alpha broadcasts against x's last axis (or is a scalar).
array prelu(const array& x, const array& alpha);
// 1 where x > threshold, else 0 (in x's dtype).
array step(const array& x, float threshold = 0.0f);

// A stateless module applying a function; the named activation modules below are instances.
class Activation : public Module {
 public:
  Activation(std::string name, std::function<array(const array&)> fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string type_name() const override { return name_; }
  std::vector<array> forward(const std::vector<array>& inputs) override { return {fn_(single_input(inputs))}; }

 private:
  std::string name_;
  std::function<array(const array&)> fn_;
};

struct ReLU : Activation {
  ReLU() : Activation("ReLU", relu) {}
};
struct ReLU6 : Activation {
  ReLU6() : Activation("ReLU6", relu6) {}
};
struct ReLUSquared : Activation {
  ReLUSquared() : Activation("ReLUSquared", relu_squared) {}
};
struct LeakyReLU : Activation {
  explicit LeakyReLU(float negative_slope = 0.01f)
      : Activation("LeakyReLU", [negative_slope](const array& x) { return leaky_relu(x, negative_slope); }) {}
};
struct ELU : Activation {
  explicit ELU(float alpha = 1.0f) : Activation("ELU", [alpha](const array& x) { return elu(x, alpha); }) {}
};
struct SELU : Activation {
  SELU() : Activation("SELU", selu) {}
};
struct CELU : Activation {
  explicit CELU(float alpha = 1.0f) : Activation("CELU", [alpha](const array& x) { return celu(x, alpha); }) {}
};
// approx: "none" (exact), "precise" or "tanh" (gelu_approx), "fast" (gelu_fast_approx).
struct GELU : Activation {
  explicit GELU(const std::string& approx = "none");
};
struct SiLU : Activation {
  SiLU() : Activation("SiLU", silu) {}
};
struct Mish : Activation {
  Mish() : Activation("Mish", mish) {}
};
struct Softplus : Activation {
  Softplus() : Activation("Softplus", softplus) {}
};
struct Softsign : Activation {
  Softsign() : Activation("Softsign", softsign) {}
};
struct GLU : Activation {
  explicit GLU(int axis = -1) : Activation("GLU", [axis](const array& x) { return glu(x, axis); }) {}
};
struct Sigmoid : Activation {
  Sigmoid() : Activation("Sigmoid", [](const array& x) { return tessera::sigmoid(x); }) {}
};
struct Tanh : Activation {
  Tanh() : Activation("Tanh", [](const array& x) { return tessera::tanh(x); }) {}
};
struct LogSigmoid : Activation {
  LogSigmoid() : Activation("LogSigmoid", log_sigmoid) {}
};
struct LogSoftmax : Activation {
  explicit LogSoftmax(int axis = -1)
      : Activation("LogSoftmax", [axis](const array& x) { return log_softmax(x, axis); }) {}
};
struct Softmax : Activation {
  explicit Softmax(int axis = -1)
      : Activation("Softmax", [axis](const array& x) { return tessera::softmax(x, axis); }) {}
};
struct Softmin : Activation {
  explicit Softmin(int axis = -1) : Activation("Softmin", [axis](const array& x) { return softmin(x, axis); }) {}
};
struct HardTanh : Activation {
  explicit HardTanh(float min_val = -1.0f, float max_val = 1.0f)
      : Activation("HardTanh", [=](const array& x) { return hard_tanh(x, min_val, max_val); }) {}
};
struct Hardswish : Activation {
  Hardswish() : Activation("Hardswish", hardswish) {}
};
struct HardShrink : Activation {
  explicit HardShrink(float lambd = 0.5f)
      : Activation("HardShrink", [lambd](const array& x) { return hard_shrink(x, lambd); }) {}
};
struct SoftShrink : Activation {
  explicit SoftShrink(float lambd = 0.5f)
      : Activation("SoftShrink", [lambd](const array& x) { return soft_shrink(x, lambd); }) {}
};
struct Step : Activation {
  explicit Step(float threshold = 0.0f)
      : Activation("Step", [threshold](const array& x) { return step(x, threshold); }) {}
};

// Learnable leaky slope: parameter "weight" of shape [num_parameters], initialized to `init`.
class PReLU : public Module {
 public:
  explicit PReLU(int num_parameters = 1, float init = 0.25f);
  std::string type_name() const override { return "PReLU"; }
  std::vector<array> forward(const std::vector<array>& inputs) override;
};

}  // namespace tessera::nn
