// Data-movement ops: concatenate, stack, repeat, tile, pad, roll, flip, diagonal, diag, trace,
// slice_update (static and dynamic) and dynamic slice. Most are compositions of views,
// concatenate, pad, gather and scatter; only Concatenate, Pad and SliceUpdate have kernels.
#include <algorithm>
#include <numeric>

#include "ops/op_utils.h"
#include "primitives/shape.h"

namespace tessera {

namespace {

void check_integral(const array& a, const char* op, const char* what) {
  if (!issubdtype(a.dtype(), integer)) {
    throw_invalid(op, "Got ", what, " with invalid dtype ", a.dtype(), ". ", what, " must be integral.");
  }
}

array slice_update_impl(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                        UpdateMode mode, const char* op, StreamOrDevice s) {
  size_t nd = src.ndim();
  if (start.size() != nd || stop.size() != nd || strides.size() != nd) {
    throw_invalid(op, "Invalid number of indices or strides for array with dimension ", nd, ".");
  }
  Shape upd_shape(nd);
  for (size_t i = 0; i < nd; ++i) {
    if (strides[i] == 0) throw_invalid(op, "Slice step cannot be zero (axis ", i, ").");
    normalize_slice(src.shape(i), start[i], stop[i], strides[i]);
    upd_shape[i] = slice_len(start[i], stop[i], strides[i]);
    if (upd_shape[i] > 0 && start[i] < 0) start[i] = 0;
  }
  if (update.ndim() > nd) {
    throw_invalid(op, "Update of shape ", shape_str(update.shape()), " has more dimensions than the slice of shape ",
                  shape_str(upd_shape), ".");
  }
  if (update.shape() != upd_shape && broadcast_shapes(update.shape(), upd_shape, op) != upd_shape) {
    throw_invalid(op, "Cannot broadcast update of shape ", shape_str(update.shape()), " to the slice shape ",
                  shape_str(upd_shape), ".");
  }
  size_t n = 1;
  for (auto d : upd_shape) n *= size_t(d);
  if (n == 0) return src;
  array upd = broadcast_to(astype(update, src.dtype(), s), upd_shape, s);
  return make_node<SliceUpdate>(src.shape(), src.dtype(), {src, upd}, to_stream(s), std::move(start), std::move(stop),
                                std::move(strides), mode);
}

array roll_axis(const array& a, int shift, int ax, StreamOrDevice s) {
  int n = a.shape(ax);
  if (n == 0) return a;
  int sh = ((shift % n) + n) % n;
  if (sh == 0) return a;
  Shape st(a.ndim(), 0), en = a.shape();
  st[ax] = n - sh;
  array tail = slice(a, st, en, s);
  st[ax] = 0;
  en[ax] = n - sh;
  array head = slice(a, st, en, s);
  return concatenate({tail, head}, ax, s);
}

}  // namespace

// ---------------------------------------------------------------- concatenate / stack

array concatenate(std::vector<array> arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw_invalid("concatenate", "No arrays provided for concatenation.");
  int nd = int(arrays[0].ndim());
  if (nd == 0) throw_invalid("concatenate", "Zero-dimensional arrays cannot be concatenated.");
  int ax = normalize_axis(axis, nd, "concatenate");
  Dtype dt = arrays[0].dtype();
  Shape shape = arrays[0].shape();
  shape[ax] = 0;
  for (auto& a : arrays) {
    if (int(a.ndim()) != nd) {
      throw_invalid("concatenate", "All the input arrays must have the same number of dimensions (got ",
                    shape_str(arrays[0].shape()), " and ", shape_str(a.shape()), ").");
    }
    for (int i = 0; i < nd; ++i) {
      if (i != ax && a.shape(i) != arrays[0].shape(i)) {
        throw_invalid("concatenate", "All the input array dimensions must match exactly except for the "
                      "concatenation axis; got ", shape_str(arrays[0].shape()), " and ", shape_str(a.shape()),
                      " along axis ", ax, ".");
      }
    }
    shape[ax] += a.shape(ax);
    dt = promote_types(dt, a.dtype());
  }
  for (auto& a : arrays) a = astype(a, dt, s);
  if (arrays.size() == 1) return arrays[0];
  return make_node<Concatenate>(std::move(shape), dt, std::move(arrays), to_stream(s), ax);
}
array concatenate(std::vector<array> arrays, StreamOrDevice s) {
  for (auto& a : arrays) a = flatten(a, s);
  return concatenate(std::move(arrays), 0, s);
}

array stack(const std::vector<array>& arrays, int axis, StreamOrDevice s) {
  if (arrays.empty()) throw_invalid("stack", "No arrays provided for stacking.");
  for (auto& a : arrays) {
    if (a.shape() != arrays[0].shape()) {
      throw_invalid("stack", "All arrays must have the same shape; got ", shape_str(arrays[0].shape()), " and ",
                    shape_str(a.shape()), ".");
    }
  }
  int ax = normalize_axis(axis, int(arrays[0].ndim()) + 1, "stack");
  std::vector<array> parts;
  for (auto& a : arrays) parts.push_back(expand_dims(a, ax, s));
  return concatenate(std::move(parts), ax, s);
}
array stack(const std::vector<array>& arrays, StreamOrDevice s) { return stack(arrays, 0, s); }

// ---------------------------------------------------------------- repeat / tile

array repeat(const array& arr, int repeats, int axis, StreamOrDevice s) {
  if (repeats < 0) throw_invalid("repeat", "Number of repeats cannot be negative (got ", repeats, ").");
  int ax = normalize_axis(axis, int(arr.ndim()), "repeat");
  Shape bshape = arr.shape();
  bshape.insert(bshape.begin() + ax + 1, repeats);
  Shape out = arr.shape();
  out[ax] *= repeats;
  return reshape(broadcast_to(expand_dims(arr, ax + 1, s), bshape, s), out, s);
}
array repeat(const array& arr, int repeats, StreamOrDevice s) { return repeat(flatten(arr, s), repeats, 0, s); }

array tile(const array& arr, std::vector<int> reps, StreamOrDevice s) {
  for (int r : reps) {
    if (r < 0) throw_invalid("tile", "Number of repetitions cannot be negative (got ", r, ").");
  }
  Shape shape = arr.shape();
  while (reps.size() < shape.size()) reps.insert(reps.begin(), 1);
  while (shape.size() < reps.size()) shape.insert(shape.begin(), 1);
  Shape expanded, bshape, out;
  for (size_t i = 0; i < shape.size(); ++i) {
    expanded.push_back(1);
    expanded.push_back(shape[i]);
    bshape.push_back(reps[i]);
    bshape.push_back(shape[i]);
    out.push_back(reps[i] * shape[i]);
  }
  return reshape(broadcast_to(reshape(arr, expanded, s), bshape, s), out, s);
}

// ---------------------------------------------------------------- pad

array pad(const array& a, const std::vector<int>& axes, const Shape& low_pad_size, const Shape& high_pad_size,
          const array& pad_value, const std::string& mode, StreamOrDevice s) {
  if (axes.size() != low_pad_size.size() || axes.size() != high_pad_size.size()) {
    throw_invalid("pad", "Invalid number of padding sizes passed to pad with axes of size ", axes.size(), ".");
  }
  std::vector<int> ax(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) ax[i] = normalize_axis(axes[i], int(a.ndim()), "pad");
  {
    auto sorted = ax;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      throw_invalid("pad", "Repeated axes in pad.");
    }
  }
  for (size_t i = 0; i < ax.size(); ++i) {
    if (low_pad_size[i] < 0 || high_pad_size[i] < 0) {
      throw_invalid("pad", "Negative padding sizes are not supported (axis ", ax[i], ": ", low_pad_size[i], ", ",
                    high_pad_size[i], ").");
    }
  }
  if (mode == "constant") {
    if (pad_value.size() != 1) {
      throw_invalid("pad", "The pad value must be a scalar; got shape ", shape_str(pad_value.shape()), ".");
    }
    bool noop = true;
    Shape shape = a.shape();
    for (size_t i = 0; i < ax.size(); ++i) {
      shape[ax[i]] += low_pad_size[i] + high_pad_size[i];
      noop = noop && low_pad_size[i] == 0 && high_pad_size[i] == 0;
    }
    if (noop) return a;
    array pv = reshape(astype(pad_value, a.dtype(), s), {}, s);
    return make_node<Pad>(std::move(shape), a.dtype(), {a, pv}, to_stream(s), std::move(ax), low_pad_size,
                          high_pad_size);
  }
  if (mode == "edge") {
    array out = a;
    for (size_t i = 0; i < ax.size(); ++i) {
      int d = ax[i];
      int lo = low_pad_size[i], hi = high_pad_size[i];
      if (lo == 0 && hi == 0) continue;
      int n = out.shape(d);
      if (n == 0) throw_invalid("pad", "Cannot edge-pad the empty axis ", d, ".");
      std::vector<array> parts;
      Shape st(out.ndim(), 0), en = out.shape();
      if (lo > 0) {
        en[d] = 1;
        Shape bs = out.shape();
        bs[d] = lo;
        parts.push_back(broadcast_to(slice(out, st, en, s), bs, s));
      }
      parts.push_back(out);
      if (hi > 0) {
        st[d] = n - 1;
        en[d] = n;
        Shape bs = out.shape();
        bs[d] = hi;
        parts.push_back(broadcast_to(slice(out, st, en, s), bs, s));
      }
      out = concatenate(std::move(parts), d, s);
    }
    return out;
  }
  throw_invalid("pad", "Invalid padding mode '", mode, "' (expected 'constant' or 'edge').");
}

array pad(const array& a, const std::vector<std::pair<int, int>>& pad_width, const array& pad_value,
          const std::string& mode, StreamOrDevice s) {
  if (pad_width.size() != a.ndim()) {
    throw_invalid("pad", "Got ", pad_width.size(), " pad widths for an array with ", a.ndim(), " dimensions.");
  }
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  Shape lo, hi;
  for (auto& [l, h] : pad_width) {
    lo.push_back(l);
    hi.push_back(h);
  }
  return pad(a, axes, lo, hi, pad_value, mode, s);
}
array pad(const array& a, const std::pair<int, int>& pad_width, const array& pad_value, const std::string& mode,
          StreamOrDevice s) {
  return pad(a, std::vector<std::pair<int, int>>(a.ndim(), pad_width), pad_value, mode, s);
}
array pad(const array& a, int pad_width, const array& pad_value, const std::string& mode, StreamOrDevice s) {
  return pad(a, std::vector<std::pair<int, int>>(a.ndim(), {pad_width, pad_width}), pad_value, mode, s);
}

// ---------------------------------------------------------------- roll / flip

array roll(const array& a, int shift, StreamOrDevice s) {
  return reshape(roll_axis(flatten(a, s), shift, 0, s), a.shape(), s);
}
array roll(const array& a, const Shape& shift, StreamOrDevice s) {
  int total = 0;
  for (int v : shift) total += v;
  return roll(a, total, s);
}
array roll(const array& a, int shift, int axis, StreamOrDevice s) {
  return roll_axis(a, shift, normalize_axis(axis, int(a.ndim()), "roll"), s);
}
array roll(const array& a, int shift, const std::vector<int>& axes, StreamOrDevice s) {
  return roll(a, Shape(axes.size(), shift), axes, s);
}
array roll(const array& a, const Shape& shift, int axis, StreamOrDevice s) {
  int total = 0;
  for (int v : shift) total += v;
  return roll(a, total, axis, s);
}
array roll(const array& a, const Shape& shift, const std::vector<int>& axes, StreamOrDevice s) {
  if (shift.size() != axes.size()) {
    throw_invalid("roll", "Got ", shift.size(), " shifts for ", axes.size(), " axes; they must match.");
  }
  array out = a;
  for (size_t i = 0; i < axes.size(); ++i) {
    out = roll_axis(out, shift[i], normalize_axis(axes[i], int(a.ndim()), "roll"), s);
  }
  return out;
}

array flip(const array& a, const std::vector<int>& axes, StreamOrDevice s) {
  auto ax = normalize_axes(axes, int(a.ndim()), "flip");
  if (ax.empty()) return a;
  Shape st(a.ndim(), 0), en = a.shape(), str(a.ndim(), 1);
  for (int d : ax) {
    st[d] = a.shape(d) - 1;
    en[d] = -a.shape(d) - 1;
    str[d] = -1;
  }
  return slice(a, st, en, str, s);
}
array flip(const array& a, int axis, StreamOrDevice s) { return flip(a, std::vector<int>{axis}, s); }
array flip(const array& a, StreamOrDevice s) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return flip(a, axes, s);
}

// ---------------------------------------------------------------- diagonal / diag / trace

array diagonal(const array& a, int offset, int axis1, int axis2, StreamOrDevice s) {
  int nd = int(a.ndim());
  if (nd < 2) throw_invalid("diagonal", "Array must have at least two dimensions (got ", nd, ").");
  int a1 = normalize_axis(axis1, nd, "diagonal"), a2 = normalize_axis(axis2, nd, "diagonal");
  if (a1 == a2) throw_invalid("diagonal", "axis1 and axis2 cannot be the same axis (", a1, ").");
  std::vector<int> perm;
  for (int i = 0; i < nd; ++i)
    if (i != a1 && i != a2) perm.push_back(i);
  perm.push_back(a1);
  perm.push_back(a2);
  array t = transpose(a, perm, s);
  Shape batch(t.shape().begin(), t.shape().end() - 2);
  int n = t.shape(nd - 2), m = t.shape(nd - 1);
  int len = offset >= 0 ? std::min(n, m - offset) : std::min(n + offset, m);
  len = std::max(len, 0);
  Shape flat_shape = batch;
  flat_shape.push_back(n * m);
  array flat = reshape(t, flat_shape, s);
  Shape st(batch.size() + 1, 0), en = flat_shape, str(batch.size() + 1, 1);
  if (len == 0) {
    en.back() = 0;
  } else {
    int start = offset >= 0 ? offset : -offset * m;
    st.back() = start;
    en.back() = start + (len - 1) * (m + 1) + 1;
    str.back() = m + 1;
  }
  return slice(flat, st, en, str, s);
}

array diag(const array& a, int k, StreamOrDevice s) {
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  if (a.ndim() != 1) throw_invalid("diag", "Input must be 1- or 2-dimensional (got ", a.ndim(), " dimensions).");
  int n = a.shape(0);
  int big = n + std::abs(k);
  array out = zeros({big, big}, a.dtype(), s);
  if (n == 0) return out;
  array rows = arange(std::max(0, -k), std::max(0, -k) + n, s);
  array cols = arange(std::max(0, k), std::max(0, k) + n, s);
  return scatter(out, {rows, cols}, reshape(a, {n, 1, 1}, s), {0, 1}, s);
}

array trace(const array& a, int offset, int axis1, int axis2, Dtype dtype, StreamOrDevice s) {
  if (a.ndim() < 2) throw_invalid("trace", "Input must have at least two dimensions (got ", a.ndim(), ").");
  return sum(astype(diagonal(a, offset, axis1, axis2, s), dtype, s), -1, false, s);
}
array trace(const array& a, int offset, int axis1, int axis2, StreamOrDevice s) {
  return trace(a, offset, axis1, axis2, a.dtype(), s);
}
array trace(const array& a, StreamOrDevice s) { return trace(a, 0, 0, 1, a.dtype(), s); }

// ---------------------------------------------------------------- slice_update / dynamic slice

array slice_update(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                   StreamOrDevice s) {
  return slice_update_impl(src, update, std::move(start), std::move(stop), std::move(strides), UpdateMode::Set,
                           "slice_update", s);
}
array slice_update(const array& src, const array& update, Shape start, Shape stop, StreamOrDevice s) {
  Shape strides(src.ndim(), 1);
  return slice_update(src, update, std::move(start), std::move(stop), std::move(strides), s);
}
array slice_update_add(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                       StreamOrDevice s) {
  return slice_update_impl(src, update, std::move(start), std::move(stop), std::move(strides), UpdateMode::Add,
                           "slice_update_add", s);
}
array slice_update_prod(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                        StreamOrDevice s) {
  return slice_update_impl(src, update, std::move(start), std::move(stop), std::move(strides), UpdateMode::Prod,
                           "slice_update_prod", s);
}
array slice_update_max(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                       StreamOrDevice s) {
  return slice_update_impl(src, update, std::move(start), std::move(stop), std::move(strides), UpdateMode::Max,
                           "slice_update_max", s);
}
array slice_update_min(const array& src, const array& update, Shape start, Shape stop, Shape strides,
                       StreamOrDevice s) {
  return slice_update_impl(src, update, std::move(start), std::move(stop), std::move(strides), UpdateMode::Min,
                           "slice_update_min", s);
}

namespace {

// One 0-d index array per entry of a dynamic start vector.
std::vector<array> dynamic_starts(const array& start, size_t n_axes, const char* op, StreamOrDevice s) {
  check_integral(start, op, "start");
  if (start.ndim() > 1 || start.size() != n_axes) {
    throw_invalid(op, "The start array must be 1-D with one entry per axis; got shape ", shape_str(start.shape()),
                  " for ", n_axes, " axes.");
  }
  array flat = reshape(start, {int(n_axes)}, s);
  std::vector<array> out;
  for (size_t i = 0; i < n_axes; ++i) out.push_back(take(flat, int(i), s));
  return out;
}

std::vector<int> dynamic_axes(const std::vector<int>& axes, int nd, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, nd, op));
  auto sorted = out;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) throw_invalid(op, "Repeated axes.");
  return out;
}

}  // namespace

array slice(const array& a, const array& start, std::vector<int> axes, Shape slice_size, StreamOrDevice s) {
  int nd = int(a.ndim());
  if (int(slice_size.size()) != nd) {
    throw_invalid("slice", "Got ", slice_size.size(), " slice sizes for an array with ", nd, " dimensions.");
  }
  for (int i = 0; i < nd; ++i) {
    if (slice_size[i] < 0 || slice_size[i] > a.shape(i)) {
      throw_invalid("slice", "Slice size ", slice_size[i], " is out of range for axis ", i, " of size ", a.shape(i),
                    ".");
    }
  }
  auto ax = dynamic_axes(axes, nd, "slice");
  auto starts = dynamic_starts(start, ax.size(), "slice", s);
  return gather(a, starts, ax, slice_size, s);
}

array slice_update(const array& src, const array& update, const array& start, std::vector<int> axes,
                   StreamOrDevice s) {
  int nd = int(src.ndim());
  if (int(update.ndim()) > nd) {
    throw_invalid("slice_update", "Update of shape ", shape_str(update.shape()), " has more dimensions than the ",
                  "array of shape ", shape_str(src.shape()), ".");
  }
  Shape us = update.shape();
  while (int(us.size()) < nd) us.insert(us.begin(), 1);
  for (int i = 0; i < nd; ++i) {
    if (us[i] > src.shape(i)) {
      throw_invalid("slice_update", "Update of shape ", shape_str(update.shape()), " does not fit in the array of shape ",
                    shape_str(src.shape()), ".");
    }
  }
  auto ax = dynamic_axes(axes, nd, "slice_update");
  auto starts = dynamic_starts(start, ax.size(), "slice_update", s);
  return scatter(src, starts, reshape(update, us, s), ax, s);
}

}  // namespace tessera
