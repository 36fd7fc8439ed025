// Transform rules of sorting, partitioning and binary search. Sort and Partition are
// permutations of their input along the axis: the tangent is read through the permutation and
// the cotangent is scattered back through it. Index outputs carry no derivative.
#include "primitives/sort.h"

#include <optional>

#include "primitives/indexing.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

bool gives_indices(PrimitiveKind k) { return k == PrimitiveKind::ArgSort || k == PrimitiveKind::ArgPartition; }

// The permutation the values primitive applies; its arg twin orders equal keys the same way.
array permutation(const SortLike& p, const array& a) {
  Stream s = p.stream();
  if (p.kind() == PrimitiveKind::Sort) return argsort(a, p.axis(), s);
  return argpartition(a, p.kth(), p.axis(), s);
}

array same_op(const SortLike& p, const array& a, int axis) {
  Stream s = p.stream();
  switch (p.kind()) {
    case PrimitiveKind::Sort:
      return sort(a, axis, s);
    case PrimitiveKind::ArgSort:
      return argsort(a, axis, s);
    case PrimitiveKind::Partition:
      return partition(a, p.kth(), axis, s);
    default:
      return argpartition(a, p.kth(), axis, s);
  }
}

std::vector<array> zero_cotangents(const std::vector<array>& primals, const std::vector<int>& argnums) {
  std::vector<array> out;
  for (int i : argnums) out.push_back(zeros_like(primals[i]));
  return out;
}

}  // namespace

std::vector<array> SortLike::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>&) const {
  if (gives_indices(kind())) return zero_cotangents(primals, argnums);
  const array& a = primals[0];
  array perm = permutation(*this, a);
  return {scatter_add_along_axis(zeros_like(a, stream()), perm, cotangents[0], axis(), stream())};
}

std::vector<array> SortLike::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>&) const {
  const array& a = primals[0];
  if (gives_indices(kind())) return {zeros(a.shape(), uint32, stream())};
  return {take_along_axis(tangents[0], permutation(*this, a), axis(), stream())};
}

std::pair<std::vector<array>, std::vector<int>> SortLike::vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) const {
  // The batch axis stays where it is; the sorted axis shifts past it.
  int b = axes[0];
  int ax = axis() >= b ? axis() + 1 : axis();
  return {{same_op(*this, inputs[0], ax)}, {b}};
}

// ---------------------------------------------------------------- SearchSorted

std::vector<array> SearchSorted::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>& argnums, const std::vector<array>&) const {
  return zero_cotangents(primals, argnums);
}

std::vector<array> SearchSorted::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                     const std::vector<int>&) const {
  return {zeros(primals[1].shape(), uint32, stream())};
}

namespace {

// x < y in the kernels' order: NaN after every number.
array nan_last_less(const array& x, const array& y, Stream s) {
  array lt = less(x, y, s);
  if (!issubdtype(x.dtype(), floating)) return lt;
  return where(isnan(y, s), logical_not(isnan(x, s), s), lt, s);
}

}  // namespace

std::pair<std::vector<array>, std::vector<int>> SearchSorted::vmap(const std::vector<array>& inputs,
                                                                   const std::vector<int>& axes) const {
  Stream s = stream();
  const array& a = inputs[0];
  const array& v = inputs[1];
  if (axes[0] < 0) return {{searchsorted(a, v, right_, s)}, {axes[1]}};

  // One sorted row per batch entry: the kernel's binary search, run on all rows at once
  // (bit_length(n) halvings of [lo, hi) per value, each a take_along_axis).
  const int batch = a.shape(axes[0]);
  const int n = a.shape(1 - axes[0]);
  array rows = axes[0] == 0 ? a : transpose(a, {1, 0}, s);
  Shape v_shape = v.shape();
  if (axes[1] >= 0) v_shape.erase(v_shape.begin() + axes[1]);
  int m = 1;
  for (auto d : v_shape) m *= d;
  array vals = axes[1] < 0 ? broadcast_to(reshape(v, {1, m}, s), {batch, m}, s)
                           : reshape(axes[1] == 0 ? v : moveaxis(v, axes[1], 0, s), {batch, m}, s);
  Shape out_shape = v_shape;
  out_shape.insert(out_shape.begin(), batch);
  if (n == 0 || m == 0) return {{zeros(out_shape, uint32, s)}, {0}};
  array lo = zeros({batch, m}, int32, s);
  array hi = full({batch, m}, array(n, int32), s);
  array one = array(1, int32);
  for (int width = n; width > 0; width >>= 1) {
    array active = less(lo, hi, s);
    array mid = right_shift(add(lo, hi, s), one, s);
    array at = take_along_axis(rows, minimum(mid, array(n - 1, int32), s), 1, s);
    array go_right = right_ ? logical_not(nan_last_less(vals, at, s), s) : nan_last_less(at, vals, s);
    lo = where(logical_and(active, go_right, s), add(mid, one, s), lo, s);
    hi = where(logical_and(active, logical_not(go_right, s), s), mid, hi, s);
  }
  return {{reshape(astype(lo, uint32, s), out_shape, s)}, {0}};
}

}  // namespace tessera
