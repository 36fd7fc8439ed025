// Shape and view ops.
#include <algorithm>
#include <numeric>

#include "ops/op_utils.h"
#include "primitives/shape.h"

namespace tessera {

array reshape(const array& a, Shape shape, StreamOrDevice s) {
  int infer = -1;
  size_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw_invalid("reshape", "Reshape can only infer one dimension.");
      infer = int(i);
    } else if (shape[i] < 0) {
      throw_invalid("reshape", "Invalid dimension ", shape[i], " in shape ", shape_str(shape), ".");
    } else {
      known *= size_t(shape[i]);
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0) {
      throw_invalid("reshape", "Cannot infer the shape of an array of size ", a.size(), " into shape ",
                    shape_str(shape), ".");
    }
    shape[infer] = int(a.size() / known);
    known *= size_t(shape[infer]);
  }
  if (known != a.size()) {
    throw_invalid("reshape", "Cannot reshape array of size ", a.size(), " into shape ", shape_str(shape), ".");
  }
  if (shape == a.shape()) return a;
  Shape out = shape;
  return make_node<Reshape>(std::move(out), a.dtype(), {a}, to_stream(s), std::move(shape));
}

array flatten(const array& a, int start_axis, int end_axis, StreamOrDevice s) {
  int nd = int(a.ndim());
  if (nd == 0) return reshape(a, {1}, s);
  int st = normalize_axis(start_axis, nd, "flatten");
  int en = normalize_axis(end_axis, nd, "flatten");
  if (st > en) throw_invalid("flatten", "start_axis must be less than or equal to end_axis.");
  Shape shape(a.shape().begin(), a.shape().begin() + st);
  shape.push_back(-1);
  shape.insert(shape.end(), a.shape().begin() + en + 1, a.shape().end());
  if (a.size() == 0) {
    int n = 1;
    for (int i = st; i <= en; ++i) n *= a.shape(i);
    shape[st] = n;
  }
  return reshape(a, shape, s);
}
array flatten(const array& a, StreamOrDevice s) { return flatten(a, 0, -1, s); }

array unflatten(const array& a, int axis, Shape shape, StreamOrDevice s) {
  int ax = normalize_axis(axis, int(a.ndim()), "unflatten");
  if (shape.empty()) throw_invalid("unflatten", "Shape to unflatten to cannot be empty.");
  Shape out(a.shape().begin(), a.shape().begin() + ax);
  out.insert(out.end(), shape.begin(), shape.end());
  out.insert(out.end(), a.shape().begin() + ax + 1, a.shape().end());
  return reshape(a, out, s);
}

array squeeze(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  auto ax = normalize_axes(axes, int(a.ndim()), "squeeze");
  Shape shape;
  size_t j = 0;
  for (int i = 0; i < int(a.ndim()); ++i) {
    if (j < ax.size() && ax[j] == i) {
      if (a.shape(i) != 1) throw_invalid("squeeze", "Cannot squeeze axis ", i, " with size ", a.shape(i), " != 1.");
      ++j;
    } else {
      shape.push_back(a.shape(i));
    }
  }
  return reshape(a, shape, s);
}
array squeeze(const array& a, int axis, StreamOrDevice s) { return squeeze(a, std::vector<int>{axis}, s); }
array squeeze(const array& a, StreamOrDevice s) {
  Shape shape;
  for (auto d : a.shape())
    if (d != 1) shape.push_back(d);
  return reshape(a, shape, s);
}

array expand_dims(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  int out_nd = int(a.ndim() + axes.size());
  auto ax = normalize_axes(axes, out_nd, "expand_dims");
  Shape shape(out_nd, 1);
  size_t j = 0, k = 0;
  for (int i = 0; i < out_nd; ++i) {
    if (j < ax.size() && ax[j] == i) ++j;
    else shape[i] = a.shape(int(k++));
  }
  return reshape(a, shape, s);
}
array expand_dims(const array& a, int axis, StreamOrDevice s) { return expand_dims(a, std::vector<int>{axis}, s); }

array atleast_1d(const array& a, StreamOrDevice s) { return a.ndim() == 0 ? reshape(a, {1}, s) : a; }
array atleast_2d(const array& a, StreamOrDevice s) {
  if (a.ndim() == 0) return reshape(a, {1, 1}, s);
  if (a.ndim() == 1) return expand_dims(a, 0, s);
  return a;
}
array atleast_3d(const array& a, StreamOrDevice s) {
  if (a.ndim() == 0) return reshape(a, {1, 1, 1}, s);
  if (a.ndim() == 1) return reshape(a, {1, a.shape(0), 1}, s);
  if (a.ndim() == 2) return expand_dims(a, 2, s);
  return a;
}

array transpose(const array& a, std::vector<int> axes, StreamOrDevice s) {
  int nd = int(a.ndim());
  if (int(axes.size()) != nd) {
    throw_invalid("transpose", "Received ", axes.size(), " axes for array with ", nd, " dimensions.");
  }
  for (auto& ax : axes) ax = normalize_axis(ax, nd, "transpose");
  std::vector<int> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < nd; ++i) {
    if (sorted[i] != i) throw_invalid("transpose", "Repeated axes in transpose permutation.");
  }
  bool identity = true;
  for (int i = 0; i < nd; ++i) identity = identity && axes[i] == i;
  if (identity) return a;
  Shape shape(nd);
  for (int i = 0; i < nd; ++i) shape[i] = a.shape(axes[i]);
  return make_node<Transpose>(std::move(shape), a.dtype(), {a}, to_stream(s), std::move(axes));
}
array transpose(const array& a, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, std::move(axes), s);
}
array swapaxes(const array& a, int axis1, int axis2, StreamOrDevice s) {
  int nd = int(a.ndim());
  int a1 = normalize_axis(axis1, nd, "swapaxes"), a2 = normalize_axis(axis2, nd, "swapaxes");
  std::vector<int> axes(nd);
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[a1], axes[a2]);
  return transpose(a, std::move(axes), s);
}
array moveaxis(const array& a, int source, int destination, StreamOrDevice s) {
  int nd = int(a.ndim());
  int src = normalize_axis(source, nd, "moveaxis"), dst = normalize_axis(destination, nd, "moveaxis");
  std::vector<int> axes;
  for (int i = 0; i < nd; ++i)
    if (i != src) axes.push_back(i);
  axes.insert(axes.begin() + dst, src);
  return transpose(a, std::move(axes), s);
}

array broadcast_to(const array& a, const Shape& shape, StreamOrDevice s) {
  if (a.shape() == shape) return a;
  Shape b = broadcast_shapes(a.shape(), shape, "broadcast_to");
  if (b != shape) {
    throw_invalid("broadcast_to", "Cannot broadcast array of shape ", shape_str(a.shape()), " to shape ",
                  shape_str(shape), ".");
  }
  return make_node<Broadcast>(shape, a.dtype(), {a}, to_stream(s), shape);
}

std::vector<array> broadcast_arrays(const std::vector<array>& inputs, StreamOrDevice s) {
  Shape shape;
  for (auto& in : inputs) shape = broadcast_shapes(shape, in.shape(), "broadcast_arrays");
  std::vector<array> out;
  for (auto& in : inputs) out.push_back(broadcast_to(in, shape, s));
  return out;
}

array slice(const array& a, Shape start, Shape stop, Shape strides, StreamOrDevice s) {
  size_t nd = a.ndim();
  if (start.size() != nd || stop.size() != nd || strides.size() != nd) {
    throw_invalid("slice", "Invalid number of indices or strides for array with dimension ", nd, ".");
  }
  Shape shape(nd);
  bool identity = true;
  for (size_t i = 0; i < nd; ++i) {
    if (strides[i] == 0) throw_invalid("slice", "Slice step cannot be zero (axis ", i, ").");
    normalize_slice(a.shape(i), start[i], stop[i], strides[i]);
    shape[i] = slice_len(start[i], stop[i], strides[i]);
    if (shape[i] > 0 && start[i] < 0) start[i] = 0;
    identity = identity && strides[i] == 1 && start[i] == 0 && shape[i] == a.shape(i);
  }
  if (identity) return a;
  return make_node<Slice>(std::move(shape), a.dtype(), {a}, to_stream(s), std::move(start), std::move(stop),
                          std::move(strides));
}
array slice(const array& a, std::initializer_list<int> start, Shape stop, Shape strides, StreamOrDevice s) {
  return slice(a, Shape(start), std::move(stop), std::move(strides), s);
}
array slice(const array& a, Shape start, Shape stop, StreamOrDevice s) {
  return slice(a, std::move(start), std::move(stop), Shape(a.ndim(), 1), s);
}

std::vector<array> split(const array& a, const Shape& indices, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, int(a.ndim()), "split");
  std::vector<array> out;
  int prev = 0;
  int n = a.shape(ax);
  for (size_t i = 0; i <= indices.size(); ++i) {
    int stop = i < indices.size() ? indices[i] : n;
    if (stop < 0) stop += n;
    stop = std::clamp(stop, 0, n);
    int begin = std::min(prev, stop);
    Shape st(a.ndim(), 0), en = a.shape();
    st[ax] = begin;
    en[ax] = stop;
    out.push_back(slice(a, st, en, s));
    prev = std::max(prev, stop);
  }
  return out;
}
std::vector<array> split(const array& a, const Shape& indices, StreamOrDevice s) { return split(a, indices, 0, s); }
std::vector<array> split(const array& a, int num_splits, int axis, StreamOrDevice s) {
  int ax = normalize_axis(axis, int(a.ndim()), "split");
  if (num_splits <= 0 || a.shape(ax) % num_splits != 0) {
    throw_invalid("split", "Array split does not result in sub arrays with equal size: axis ", ax, " of size ",
                  a.shape(ax), " into ", num_splits, " parts.");
  }
  int step = a.shape(ax) / num_splits;
  Shape idx;
  for (int i = 1; i < num_splits; ++i) idx.push_back(i * step);
  return split(a, idx, ax, s);
}
std::vector<array> split(const array& a, int num_splits, StreamOrDevice s) { return split(a, num_splits, 0, s); }

std::vector<array> unstack(const array& a, int axis, StreamOrDevice s) {
  if (a.ndim() == 0) throw_invalid("unstack", "No axis to unstack along for a 0-d array.");
  int ax = normalize_axis(axis, int(a.ndim()), "unstack");
  std::vector<array> out;
  for (auto& part : split(a, a.shape(ax), ax, s)) out.push_back(squeeze(part, ax, s));
  return out;
}

array contiguous(const array& a, bool allow_col_major, StreamOrDevice s) {
  return make_node<Contiguous>(a.shape(), a.dtype(), {a}, to_stream(s), allow_col_major);
}

array view(const array& a, const Dtype& dtype, StreamOrDevice s) {
  if (a.dtype() == dtype) return a;
  Shape shape = a.shape();
  size_t ib = a.itemsize(), ob = size_of(dtype);
  if (ib != ob) {
    if (a.ndim() == 0) throw_invalid("view", "Changing the type size of a 0-d array is not supported.");
    int64_t bytes = int64_t(shape.back()) * int64_t(ib);
    if (bytes % int64_t(ob) != 0) {
      throw_invalid("view", "The last dimension (", shape.back(), " x ", ib, " bytes) is not divisible by the new item size ",
                    ob, ".");
    }
    shape.back() = int(bytes / int64_t(ob));
  }
  return make_node<View>(std::move(shape), dtype, {a}, to_stream(s), dtype);
}

}  // namespace tessera
