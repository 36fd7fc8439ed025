// Creation ops.
#include <cmath>

#include "ops/op_utils.h"
#include "primitives/creation.h"
#include "primitives/elementwise.h"
#include "primitives/shape.h"

namespace tessera {

array arange(double start, double stop, double step, Dtype dtype, StreamOrDevice s) {
  if (dtype == bool_) throw_invalid("arange", "Cannot make an arange of bool.");
  if (std::isnan(start) || std::isnan(stop) || std::isnan(step)) throw_invalid("arange", "Cannot use NaN for start, stop or step.");
  if (std::isinf(start) || std::isinf(stop)) throw_invalid("arange", "Cannot use infinity for start or stop.");
  if (step == 0) throw_invalid("arange", "Step cannot be 0.");
  double real_size = std::ceil((stop - start) / step);
  if (real_size > double(INT32_MAX)) throw_invalid("arange", "Maximum size exceeded (", real_size, " elements).");
  int size = std::max(int(real_size), 0);
  return make_node<Arange>({size}, dtype, {}, to_stream(s), start, stop, step);
}
array arange(double start, double stop, double step, StreamOrDevice s) {
  return arange(start, stop, step, float32, s);
}
array arange(double start, double stop, Dtype dtype, StreamOrDevice s) { return arange(start, stop, 1.0, dtype, s); }
array arange(double start, double stop, StreamOrDevice s) { return arange(start, stop, 1.0, float32, s); }
array arange(double stop, Dtype dtype, StreamOrDevice s) { return arange(0.0, stop, 1.0, dtype, s); }
array arange(double stop, StreamOrDevice s) { return arange(0.0, stop, 1.0, float32, s); }
array arange(int start, int stop, int step, StreamOrDevice s) {
  return arange(double(start), double(stop), double(step), int32, s);
}
array arange(int start, int stop, StreamOrDevice s) { return arange(double(start), double(stop), 1.0, int32, s); }
array arange(int stop, StreamOrDevice s) { return arange(0.0, double(stop), 1.0, int32, s); }

array linspace(double start, double stop, int num, Dtype dtype, StreamOrDevice s) {
  if (num < 0) throw_invalid("linspace", "Number of samples, ", num, ", must be non-negative.");
  if (num == 1) return astype(array({start}, {1}, float64), dtype, s);
  // start + i * (stop - start) / (num - 1), computed in float64; the last value is exact.
  array t = arange(0.0, double(num), 1.0, float64, s);
  double step = num > 1 ? (stop - start) / double(num - 1) : 0.0;
  array out = add(multiply(t, array(step, float64), s), array(start, float64), s);
  if (num > 1) out = where(equal(t, array(double(num - 1), float64), s), array(stop, float64), out, s);
  return astype(out, dtype, s);
}

array astype(array a, Dtype dtype, StreamOrDevice s) {
  if (a.dtype() == dtype) return a;
  return make_node<AsType>(a.shape(), dtype, {a}, to_stream(s), dtype);
}

array as_strided(array a, Shape shape, Strides strides, size_t offset, StreamOrDevice s) {
  if (shape.size() != strides.size()) {
    throw_invalid("as_strided", "Shape ", shape_str(shape), " and strides of length ", strides.size(), " differ in length.");
  }
  detail::shape_size(shape, "as_strided");
  // Check that every element the view can address lies inside the (contiguous) input.
  int64_t lo = int64_t(offset), hi = int64_t(offset);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) {
      lo = hi = 0;
      break;
    }
    int64_t ext = strides[i] * (shape[i] - 1);
    (ext < 0 ? lo : hi) += ext;
  }
  bool empty = false;
  for (auto d : shape) empty = empty || d == 0;
  if (!empty && (lo < 0 || hi >= int64_t(a.size()))) {
    throw_invalid("as_strided", "View with shape ", shape_str(shape), " and offset ", offset,
                  " reaches outside the input of size ", a.size(), ".");
  }
  array c = contiguous(a, false, s);
  Shape out_shape = shape;
  return make_node<AsStrided>(std::move(out_shape), a.dtype(), {c}, to_stream(s), std::move(shape), std::move(strides), offset);
}

array copy(array a, StreamOrDevice s) { return make_node<Copy>(a.shape(), a.dtype(), {a}, to_stream(s)); }

array full(Shape shape, array vals, Dtype dtype, StreamOrDevice s) {
  detail::shape_size(shape, "full");
  array v = astype(vals, dtype, s);
  Shape target = broadcast_shapes(v.shape(), shape, "full");
  if (target != shape) {
    throw_invalid("full", "Values of shape ", shape_str(vals.shape()), " cannot be broadcast to ", shape_str(shape), ".");
  }
  return make_node<Full>(shape, dtype, {broadcast_to(v, shape, s)}, to_stream(s));
}
array full(Shape shape, array vals, StreamOrDevice s) {
  Dtype d = vals.dtype();
  return full(std::move(shape), std::move(vals), d, s);
}
array full_like(const array& a, const array& vals, StreamOrDevice s) { return full(a.shape(), vals, a.dtype(), s); }

array zeros(const Shape& shape, Dtype dtype, StreamOrDevice s) { return full(shape, array(0, dtype), s); }
array zeros_like(const array& a, StreamOrDevice s) { return zeros(a.shape(), a.dtype(), s); }
array ones(const Shape& shape, Dtype dtype, StreamOrDevice s) { return full(shape, array(1, dtype), s); }
array ones_like(const array& a, StreamOrDevice s) { return ones(a.shape(), a.dtype(), s); }

array eye(int n, int m, int k, Dtype dtype, StreamOrDevice s) {
  if (n < 0 || m < 0) throw_invalid("eye", "N and M must be non-negative, got ", n, " and ", m, ".");
  array rows = reshape(arange(0, n, s), {n, 1}, s);
  array cols = reshape(arange(0, m, s), {1, m}, s);
  return astype(equal(add(rows, array(k), s), cols, s), dtype, s);
}

array identity(int n, Dtype dtype, StreamOrDevice s) { return eye(n, n, 0, dtype, s); }

array tri(int n, int m, int k, Dtype type, StreamOrDevice s) {
  if (n < 0 || m < 0) throw_invalid("tri", "N and M must be non-negative, got ", n, " and ", m, ".");
  array rows = reshape(arange(0, n, s), {n, 1}, s);
  array cols = reshape(arange(0, m, s), {1, m}, s);
  return astype(greater_equal(add(rows, array(k), s), cols, s), type, s);
}

array tril(array x, int k, StreamOrDevice s) {
  if (x.ndim() < 2) throw_invalid("tril", "Array must have at least 2 dimensions, got ", x.ndim(), ".");
  array mask = tri(x.shape(-2), x.shape(-1), k, bool_, s);
  return where(mask, x, zeros({}, x.dtype(), s), s);
}

array triu(array x, int k, StreamOrDevice s) {
  if (x.ndim() < 2) throw_invalid("triu", "Array must have at least 2 dimensions, got ", x.ndim(), ".");
  array mask = tri(x.shape(-2), x.shape(-1), k - 1, bool_, s);
  return where(mask, zeros({}, x.dtype(), s), x, s);
}

std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse, const std::string& indexing,
                            StreamOrDevice s) {
  if (indexing != "xy" && indexing != "ij") {
    throw_invalid("meshgrid", "Invalid indexing value '", indexing, "'; expected 'xy' or 'ij'.");
  }
  size_t n = arrays.size();
  std::vector<array> out;
  Shape full_shape;
  for (auto& a : arrays) full_shape.push_back(int(a.size()));
  if (indexing == "xy" && n >= 2) std::swap(full_shape[0], full_shape[1]);
  for (size_t i = 0; i < n; ++i) {
    Shape sh(n, 1);
    size_t pos = i;
    if (indexing == "xy" && n >= 2 && i < 2) pos = 1 - i;
    sh[pos] = int(arrays[i].size());
    array r = reshape(flatten(arrays[i], s), sh, s);
    out.push_back(sparse ? r : broadcast_to(r, full_shape, s));
  }
  return out;
}

}  // namespace tessera
