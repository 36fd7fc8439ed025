// Indexing ops: take, take_along_axis, put_along_axis, gather, scatter(_add/_prod/_max/_min)
// and masked_scatter. Index rules (as in MLX, which does not bounds-check index arrays): a
// negative index wraps once (i + dim); an index still out of range is clamped into range.
// Scalar int indices (take(a, int, ...)) are checked and raise std::out_of_range.
#include <algorithm>
#include <numeric>

#include "ops/op_utils.h"
#include "primitives/indexing.h"

namespace tessera {

namespace {

void check_indices(const array& idx, const char* op) {
  if (!issubdtype(idx.dtype(), integer)) {
    throw_invalid(op, "Got indices with invalid dtype ", idx.dtype(), ". Indices must be integral.");
  }
}

std::vector<int> unique_axes(const std::vector<int>& axes, int nd, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, nd, op));
  auto sorted = out;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) throw_invalid(op, "Repeated axes.");
  return out;
}

Shape without(const Shape& s, int ax) {
  Shape o = s;
  o.erase(o.begin() + ax);
  return o;
}

Shape with(Shape s, int ax, int v) {
  s.insert(s.begin() + ax, v);
  return s;
}

array scatter_impl(const array& a, const std::vector<array>& indices, const array& updates,
                   const std::vector<int>& axes, UpdateMode mode, const char* op, StreamOrDevice s) {
  if (indices.size() != axes.size()) {
    throw_invalid(op, "Number of index arrays (", indices.size(), ") does not match the number of axes (",
                  axes.size(), ").");
  }
  int nd = int(a.ndim());
  auto ax = unique_axes(axes, nd, op);
  for (auto& i : indices) check_indices(i, op);
  Shape idx_shape;
  for (auto& i : indices) idx_shape = broadcast_shapes(idx_shape, i.shape(), op);
  size_t idx_nd = idx_shape.size();
  if (updates.ndim() != idx_nd + size_t(nd)) {
    throw_invalid(op, "Updates with ", updates.ndim(), " dimensions does not match the sum of the array (", nd,
                  ") and indices (", idx_nd, ") dimensions.");
  }
  for (size_t i = 0; i < idx_nd; ++i) {
    if (updates.shape(int(i)) != idx_shape[i] && updates.shape(int(i)) != 1) {
      throw_invalid(op, "Updates of shape ", shape_str(updates.shape()), " do not match the indices shape ",
                    shape_str(idx_shape), ".");
    }
  }
  Shape upd_shape = idx_shape;
  for (int i = 0; i < nd; ++i) {
    int d = updates.shape(int(idx_nd) + i);
    if (d > a.shape(i)) {
      throw_invalid(op, "Sizes of updates must be <= the array sizes; got update slice ",
                    shape_str(Shape(updates.shape().begin() + idx_nd, updates.shape().end())), " for array ",
                    shape_str(a.shape()), ".");
    }
    upd_shape.push_back(d);
  }
  std::vector<array> inputs{a};
  for (auto& i : indices) inputs.push_back(broadcast_to(i, idx_shape, s));
  inputs.push_back(broadcast_to(astype(updates, a.dtype(), s), upd_shape, s));
  return make_node<Scatter>(a.shape(), a.dtype(), std::move(inputs), to_stream(s), std::move(ax), mode);
}

}  // namespace

// ---------------------------------------------------------------- gather

array gather(const array& a, const std::vector<array>& indices, const std::vector<int>& axes,
             const Shape& slice_sizes, StreamOrDevice s) {
  int nd = int(a.ndim());
  if (nd == 0) throw_invalid("gather", "Cannot gather from a scalar.");
  if (indices.size() != axes.size()) {
    throw_invalid("gather", "Number of index arrays (", indices.size(), ") does not match the number of axes (",
                  axes.size(), ").");
  }
  auto ax = unique_axes(axes, nd, "gather");
  if (int(slice_sizes.size()) != nd) {
    throw_invalid("gather", "Got ", slice_sizes.size(), " slice sizes for an array with ", nd, " dimensions.");
  }
  for (int i = 0; i < nd; ++i) {
    if (slice_sizes[i] < 0 || slice_sizes[i] > a.shape(i)) {
      throw_invalid("gather", "Slice size ", slice_sizes[i], " is out of range for axis ", i, " of size ",
                    a.shape(i), ".");
    }
  }
  for (auto& i : indices) check_indices(i, "gather");
  Shape idx_shape;
  for (auto& i : indices) idx_shape = broadcast_shapes(idx_shape, i.shape(), "gather");
  std::vector<array> inputs{a};
  for (auto& i : indices) inputs.push_back(broadcast_to(i, idx_shape, s));
  Shape out = idx_shape;
  out.insert(out.end(), slice_sizes.begin(), slice_sizes.end());
  return make_node<Gather>(std::move(out), a.dtype(), std::move(inputs), to_stream(s), std::move(ax), slice_sizes);
}
array gather(const array& a, const array& indices, int axis, const Shape& slice_sizes, StreamOrDevice s) {
  return gather(a, std::vector<array>{indices}, std::vector<int>{axis}, slice_sizes, s);
}

// ---------------------------------------------------------------- take

array take(const array& a, const array& indices, int axis, StreamOrDevice s) {
  check_indices(indices, "take");
  int nd = int(a.ndim());
  int ax = normalize_axis(axis, nd, "take");
  int idx_nd = int(indices.ndim());
  Shape out_shape(a.shape().begin(), a.shape().begin() + ax);
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), a.shape().begin() + ax + 1, a.shape().end());
  if (a.shape(ax) == 0) {
    if (indices.size() > 0) throw_range("take", "Cannot take from the empty axis ", ax, ".");
    return zeros(out_shape, a.dtype(), s);
  }
  Shape ss = a.shape();
  ss[ax] = 1;
  array g = squeeze(gather(a, indices, ax, ss, s), idx_nd + ax, s);
  std::vector<int> perm;
  for (int i = 0; i < ax; ++i) perm.push_back(idx_nd + i);
  for (int i = 0; i < idx_nd; ++i) perm.push_back(i);
  for (int i = idx_nd + ax; i < int(g.ndim()); ++i) perm.push_back(i);
  return transpose(g, perm, s);
}
array take(const array& a, const array& indices, StreamOrDevice s) { return take(flatten(a, s), indices, 0, s); }
array take(const array& a, int index, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, int(a.ndim()), "take");
  int n = a.shape(ax);
  if (index < -n || index >= n) {
    throw_range("take", "Index ", index, " is out of bounds for axis ", ax, " with size ", n, ".");
  }
  if (index < 0) index += n;
  Shape st(a.ndim(), 0), en = a.shape();
  st[ax] = index;
  en[ax] = index + 1;
  return squeeze(slice(a, st, en, s), ax, s);
}
array take(const array& a, int index, StreamOrDevice s) { return take(flatten(a, s), index, 0, s); }

// ---------------------------------------------------------------- along axis

array take_along_axis(const array& a, const array& indices, int axis, StreamOrDevice s) {
  check_indices(indices, "take_along_axis");
  if (indices.ndim() != a.ndim()) {
    throw_invalid("take_along_axis", "Indices of dimension ", indices.ndim(), " does not match array of dimension ",
                  a.ndim(), ".");
  }
  int ax = normalize_axis(axis, int(a.ndim()), "take_along_axis");
  Shape nd_shape = broadcast_shapes(without(a.shape(), ax), without(indices.shape(), ax), "take_along_axis");
  array ab = broadcast_to(a, with(nd_shape, ax, a.shape(ax)), s);
  Shape out_shape = with(nd_shape, ax, indices.shape(ax));
  array ib = broadcast_to(indices, out_shape, s);
  size_t n = 1;
  for (auto d : out_shape) n *= size_t(d);
  if (a.shape(ax) == 0 && n > 0) throw_range("take_along_axis", "Cannot take from the empty axis ", ax, ".");
  return make_node<GatherAxis>(std::move(out_shape), a.dtype(), {ab, ib}, to_stream(s), ax);
}

array put_along_axis(const array& a, const array& indices, const array& values, int axis, StreamOrDevice s) {
  check_indices(indices, "put_along_axis");
  if (indices.ndim() != a.ndim()) {
    throw_invalid("put_along_axis", "Indices of dimension ", indices.ndim(), " does not match array of dimension ",
                  a.ndim(), ".");
  }
  int ax = normalize_axis(axis, int(a.ndim()), "put_along_axis");
  Shape target = with(without(a.shape(), ax), ax, indices.shape(ax));
  Shape bi = broadcast_shapes(indices.shape(), target, "put_along_axis");
  Shape upd = broadcast_shapes(bi, values.shape(), "put_along_axis");
  if (without(upd, ax) != without(a.shape(), ax)) {
    throw_invalid("put_along_axis", "Indices of shape ", shape_str(indices.shape()), " and values of shape ",
                  shape_str(values.shape()), " do not broadcast to the array of shape ", shape_str(a.shape()),
                  " outside axis ", ax, ".");
  }
  array ib = broadcast_to(indices, upd, s);
  array vb = broadcast_to(astype(values, a.dtype(), s), upd, s);
  return make_node<ScatterAxis>(a.shape(), a.dtype(), {a, ib, vb}, to_stream(s), ax, UpdateMode::Set);
}

// ---------------------------------------------------------------- scatter

#define TESSERA_SCATTER_OP(NAME, MODE)                                                                    \
  array NAME(const array& a, const std::vector<array>& indices, const array& updates,                      \
             const std::vector<int>& axes, StreamOrDevice s) {                                             \
    return scatter_impl(a, indices, updates, axes, UpdateMode::MODE, #NAME, s);                           \
  }                                                                                                        \
  array NAME(const array& a, const array& indices, const array& updates, int axis, StreamOrDevice s) {     \
    return scatter_impl(a, {indices}, updates, {axis}, UpdateMode::MODE, #NAME, s);                       \
  }

TESSERA_SCATTER_OP(scatter, Set)
TESSERA_SCATTER_OP(scatter_add, Add)
TESSERA_SCATTER_OP(scatter_prod, Prod)
TESSERA_SCATTER_OP(scatter_max, Max)
TESSERA_SCATTER_OP(scatter_min, Min)
#undef TESSERA_SCATTER_OP

array masked_scatter(const array& a, const array& mask, const array& src, StreamOrDevice s) {
  if (mask.dtype() != bool_) {
    throw_invalid("masked_scatter", "The mask must be a boolean array; got dtype ", mask.dtype(), ".");
  }
  Shape b = broadcast_shapes(mask.shape(), a.shape(), "masked_scatter");
  if (b != a.shape()) {
    throw_invalid("masked_scatter", "Mask of shape ", shape_str(mask.shape()), " does not broadcast to the array of ",
                  "shape ", shape_str(a.shape()), ".");
  }
  array m = broadcast_to(mask, a.shape(), s);
  array src_flat = flatten(astype(src, a.dtype(), s), s);
  return make_node<MaskedScatter>(a.shape(), a.dtype(), {a, m, src_flat}, to_stream(s));
}

}  // namespace tessera
