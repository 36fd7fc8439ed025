#include "lm/layers/mlp.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::lm {

namespace {

constexpr std::pair<const char*, Activation> kActivations[] = {
    {"silu", Activation::silu},
    {"swish", Activation::silu},
    {"gelu_pytorch_tanh", Activation::gelu_tanh},
    {"gelu_new", Activation::gelu_tanh},
    {"gelu_fast", Activation::gelu_tanh},
    {"gelu", Activation::gelu},
};

}  // namespace

Activation activation_from_name(const std::string& name) {
  std::string names;
  for (auto& [n, a] : kActivations) {
    if (name == n) return a;
    names += (names.empty() ? "" : ", ") + std::string(n);
  }
  throw std::invalid_argument("unsupported activation '" + name + "' (supported: " + names + ")");
}

GatedMLP::GatedMLP(const Linear& gate, const Linear& up, Linear down, Activation act)
    : gate_up_(Linear::concat({gate, up})), down_(std::move(down)), hidden_(gate.out_features()), act_(act) {}

GatedMLP::GatedMLP(Linear gate_up, Linear down, Activation act)
    : gate_up_(std::move(gate_up)), down_(std::move(down)), hidden_(gate_up_.out_features() / 2), act_(act) {
  if (gate_up_.out_features() % 2 != 0) {
    throw std::invalid_argument("[GatedMLP] a fused gate/up projection needs an even number of outputs, got " +
                                std::to_string(gate_up_.out_features()));
  }
}

array GatedMLP::operator()(const array& x) const {
  array gu = gate_up_(x);  // [rows, 2 F]
  const int n = x.shape(0);
  array g = slice(gu, Shape{0, 0}, Shape{n, hidden_});
  array u = slice(gu, Shape{0, hidden_}, Shape{n, 2 * hidden_});
  array a = [&] {
    switch (act_) {
      case Activation::silu:
        return multiply(g, sigmoid(g));
      case Activation::gelu_tanh: {
        // 0.5 g (1 + tanh(sqrt(2 / pi) (g + 0.044715 g^3))), PyTorch's gelu(approximate="tanh").
        const float c = std::sqrt(2.0f / float(M_PI));
        array inner = multiply(array(c), add(g, multiply(array(0.044715f), multiply(g, square(g)))));
        return multiply(multiply(array(0.5f), g), add(array(1.0f), tanh(inner)));
      }
      case Activation::gelu:
        break;
    }
    // 0.5 g (1 + erf(g / sqrt(2))).
    return multiply(multiply(array(0.5f), g), add(array(1.0f), erf(multiply(g, array(float(M_SQRT1_2))))));
  }();
  return down_(multiply(a, u));
}

}  // namespace tessera::lm
