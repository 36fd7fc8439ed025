// softmax: a Softmax primitive over the last axis (other axes are moved last first). Its
// decomposition is exp(x - max) / sum.
#include <numeric>

#include "ops/op_utils.h"
#include "primitives/fast.h"

namespace tessera {

std::vector<array> Softmax::decompose(const std::vector<array>& inputs) const {
  StreamOrDevice s = stream();
  const array& x = inputs[0];
  Dtype d = x.dtype();
  bool up = precise_ && (d == float16 || d == bfloat16);
  array xf = up ? astype(x, float32, s) : x;
  array m = stop_gradient(max(xf, -1, true, s), s);
  // Rows that are all -inf would give nan from -inf - -inf; shift by 0 there.
  m = where(isinf(m, s), zeros({}, xf.dtype(), s), m, s);
  array e = exp(subtract(xf, m, s), s);
  array out = divide(e, sum(e, -1, true, s), s);
  return {up ? astype(out, d, s) : out};
}

array softmax(const array& a, const std::vector<int>& axes_in, bool precise, StreamOrDevice s) {
  auto axes = normalize_axes(axes_in, int(a.ndim()), "softmax");
  Dtype d = at_least_float(a.dtype());
  if (d == complex64) throw_invalid("softmax", "complex64 is not supported.");
  array x = astype(a, d, s);
  if (axes.empty()) return divide(x, x, s);  // softmax over no axes is 1 (NaN for inf/nan)
  int nd = int(a.ndim());
  if (axes.size() == 1 && axes[0] == nd - 1) {
    return make_node<Softmax>(x.shape(), d, {x}, to_stream(s), precise);
  }
  // Move the axes last, flatten them, apply, and undo.
  std::vector<int> perm;
  std::vector<bool> red(nd, false);
  for (int ax : axes) red[ax] = true;
  for (int i = 0; i < nd; ++i)
    if (!red[i]) perm.push_back(i);
  for (int ax : axes) perm.push_back(ax);
  array t = transpose(x, perm, s);
  Shape tshape = t.shape();
  Shape flat(tshape.begin(), tshape.end() - int(axes.size()));
  int n = 1;
  for (int ax : axes) n *= a.shape(ax);
  flat.push_back(n);
  array y = make_node<Softmax>(flat, d, {reshape(t, flat, s)}, to_stream(s), precise);
  y = reshape(y, tshape, s);
  std::vector<int> inv(nd);
  for (int i = 0; i < nd; ++i) inv[perm[i]] = i;
  return transpose(y, inv, s);
}

array softmax(const array& a, bool precise, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return softmax(a, axes, precise, s);
}

array softmax(const array& a, int axis, bool precise, StreamOrDevice s) {
  return softmax(a, std::vector<int>{axis}, precise, s);
}

}  // namespace tessera
