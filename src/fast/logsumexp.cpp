// LogSumExp: the fused primitive behind logsumexp over the last axis, its composite and its
// transform rules. logsumexp over other axes (or complex inputs) stays the composite in
// ops/reduction.cpp.
#include "ops/op_utils.h"
#include "primitives/fast.h"

namespace tessera {

std::vector<array> LogSumExp::decompose(const std::vector<array>& inputs) const {
  StreamOrDevice s = stream();
  const array& x = inputs[0];
  const Dtype d = x.dtype();
  const bool up = d == float16 || d == bfloat16;
  array xf = up ? astype(x, float32, s) : x;
  array m = stop_gradient(max(xf, -1, true, s), s);
  // Rows whose max is +-inf would give inf - inf; shift by 0 there instead.
  m = where(isinf(m, s), zeros({}, xf.dtype(), s), m, s);
  array out = add(log(sum(exp(subtract(xf, m, s), s), -1, true, s), s), m, s);
  return {up ? astype(out, d, s) : out};
}

std::vector<array> LogSumExp::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)argnums;
  (void)outputs;
  const array& x = primals[0];
  return {multiply(softmax(x, -1, true, stream()), astype(cotangents[0], x.dtype(), stream()), stream())};
}

std::vector<array> LogSumExp::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) const {
  (void)argnums;
  const array& x = primals[0];
  return {sum(multiply(softmax(x, -1, true, stream()), tangents[0], stream()), -1, true, stream())};
}

std::pair<std::vector<array>, std::vector<int>> LogSumExp::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) const {
  int b = axes[0];
  array x = detail::keep_last_axis(inputs[0], b, stream());
  Shape kept = x.shape();
  kept.back() = 1;
  return {{make_node<LogSumExp>(kept, x.dtype(), {x}, stream())}, {b}};
}

}  // namespace tessera
