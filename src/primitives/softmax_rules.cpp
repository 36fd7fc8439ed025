// Transform rules of the Softmax primitive (softmax over the last axis). The derivative uses the
// closed form on the output, y * (g - sum(g * y)), which costs one reduction instead of the
// several a differentiated exp / sum / divide decomposition would.
#include "ops/op_utils.h"
#include "primitives/fast.h"

namespace tessera {

namespace {

array softmax_linearized(const array& y, const array& v, StreamOrDevice s) {
  return multiply(y, subtract(v, sum(multiply(v, y, s), -1, true, s), s), s);
}

}  // namespace

std::vector<array> Softmax::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)primals;
  (void)argnums;
  return {softmax_linearized(outputs[0], cotangents[0], stream())};
}

std::vector<array> Softmax::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) const {
  (void)argnums;
  const array& x = primals[0];
  array y = make_node<Softmax>(x.shape(), x.dtype(), {x}, stream(), precise_);
  return {softmax_linearized(y, tangents[0], stream())};
}

std::pair<std::vector<array>, std::vector<int>> Softmax::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) const {
  int b = axes[0];
  array x = detail::keep_last_axis(inputs[0], b, stream());
  return {{make_node<Softmax>(x.shape(), x.dtype(), {x}, stream(), precise_)}, {b}};
}

}  // namespace tessera
