// Sorting and selection: sort, argsort (stable, NaN last), partition, argpartition, topk and
// searchsorted. Axis-less overloads flatten first, as MLX does. Indices are uint32.
#include "ops/op_utils.h"
#include "primitives/sort.h"

namespace tessera {

namespace {

array flat(const array& a, StreamOrDevice s) { return reshape(a, {int(a.size())}, s); }

template <typename P>
array sort_like(const array& a, int axis, int kth, bool indices, const char* name, StreamOrDevice s) {
  if (a.ndim() == 0) throw_invalid(name, "Needs an array with at least one dimension.");
  int ax = normalize_axis(axis, int(a.ndim()), name);
  if (a.dtype() == complex64) throw_invalid(name, "complex64 is not supported.");
  return make_node<P>(a.shape(), indices ? uint32 : a.dtype(), {a}, to_stream(s), ax, kth);
}

int check_kth(const array& a, int kth, int axis, const char* name) {
  if (a.ndim() == 0) throw_invalid(name, "Needs an array with at least one dimension.");
  int ax = normalize_axis(axis, int(a.ndim()), name);
  int n = a.shape(ax);
  if (kth < -n || kth >= n) throw_invalid(name, "kth ", kth, " is out of bounds for axis of size ", n, ".");
  return kth < 0 ? kth + n : kth;
}

}  // namespace

array sort(const array& a, int axis, StreamOrDevice s) { return sort_like<Sort>(a, axis, 0, false, "sort", s); }
array sort(const array& a, StreamOrDevice s) { return sort(flat(a, s), 0, s); }
array argsort(const array& a, int axis, StreamOrDevice s) { return sort_like<ArgSort>(a, axis, 0, true, "argsort", s); }
array argsort(const array& a, StreamOrDevice s) { return argsort(flat(a, s), 0, s); }

array partition(const array& a, int kth, int axis, StreamOrDevice s) {
  int k = check_kth(a, kth, axis, "partition");
  return sort_like<Partition>(a, axis, k, false, "partition", s);
}
array partition(const array& a, int kth, StreamOrDevice s) { return partition(flat(a, s), kth, 0, s); }
array argpartition(const array& a, int kth, int axis, StreamOrDevice s) {
  int k = check_kth(a, kth, axis, "argpartition");
  return sort_like<ArgPartition>(a, axis, k, true, "argpartition", s);
}
array argpartition(const array& a, int kth, StreamOrDevice s) { return argpartition(flat(a, s), kth, 0, s); }

array topk(const array& a, int k, int axis, StreamOrDevice s) {
  if (a.ndim() == 0) throw_invalid("topk", "Needs an array with at least one dimension.");
  int ax = normalize_axis(axis, int(a.ndim()), "topk");
  int n = a.shape(ax);
  if (k < 0 || k > n) throw_invalid("topk", "k = ", k, " must be in [0, ", n, "] for axis of size ", n, ".");
  if (k == 0) {
    Shape sh = a.shape();
    sh[ax] = 0;
    return zeros(sh, a.dtype(), s);
  }
  array p = partition(a, n - k, ax, s);
  Shape start(a.ndim(), 0), stop = a.shape();
  start[ax] = n - k;
  return slice(p, start, stop, s);
}
array topk(const array& a, int k, StreamOrDevice s) { return topk(flat(a, s), k, 0, s); }

array searchsorted(const array& a, const array& v, bool right, StreamOrDevice s) {
  if (a.ndim() != 1) throw_invalid("searchsorted", "The sorted array must be 1-D, got shape ", shape_str(a.shape()), ".");
  Dtype d = promote_types(a.dtype(), v.dtype());
  if (d == complex64) throw_invalid("searchsorted", "complex64 is not supported.");
  return make_node<SearchSorted>(v.shape(), uint32, {astype(a, d, s), astype(v, d, s)}, to_stream(s), right);
}

}  // namespace tessera
