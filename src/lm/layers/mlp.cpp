#include "lm/layers/mlp.h"

#include <cmath>

#include "tessera/ops.h"

namespace tessera::lm {

GatedMLP::GatedMLP(const Linear& gate, const Linear& up, Linear down, Activation act)
    : gate_up_(Linear::concat({gate, up})), down_(std::move(down)), hidden_(gate.out_features()), act_(act) {}

array GatedMLP::operator()(const array& x) const {
  array gu = gate_up_(x);  // [rows, 2 F]
  const int n = x.shape(0);
  array g = slice(gu, Shape{0, 0}, Shape{n, hidden_});
  array u = slice(gu, Shape{0, hidden_}, Shape{n, 2 * hidden_});
  array a = [&] {
    if (act_ == Activation::silu) return multiply(g, sigmoid(g));
    // gelu with the tanh approximation (Gemma's gelu_pytorch_tanh).
    const float c = std::sqrt(2.0f / float(M_PI));
    array inner = multiply(array(c), add(g, multiply(array(0.044715f), multiply(g, square(g)))));
    return multiply(multiply(array(0.5f), g), add(array(1.0f), tanh(inner)));
  }();
  return down_(multiply(a, u));
}

}  // namespace tessera::lm
