#include "ops/op_utils.h"

#include <algorithm>

namespace tessera {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << ")";
  return os.str();
}

std::string shape_list(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

int normalize_axis(int axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim) {
    throw_range(op, "Axis ", axis, " is out of bounds for array with ", ndim, " dimensions.");
  }
  return axis < 0 ? axis + ndim : axis;
}

std::vector<int> normalize_axes(const std::vector<int>& axes, int ndim, const char* op) {
  std::vector<int> out;
  out.reserve(axes.size());
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    throw_invalid(op, "Received duplicate axes.");
  }
  return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else throw_invalid(op, "Shapes ", shape_str(a), " and ", shape_str(b), " cannot be broadcast.");
  }
  return out;
}

void normalize_slice(int n, int& start, int& stop, int step) {
  if (step > 0) {
    start = start < 0 ? std::max(start + n, 0) : std::min(start, n);
    stop = stop < 0 ? std::max(stop + n, 0) : std::min(stop, n);
  } else {
    start = start < 0 ? std::max(start + n, -1) : std::min(start, n - 1);
    stop = stop < 0 ? std::max(stop + n, -1) : std::min(stop, n - 1);
  }
}

int slice_len(int start, int stop, int step) {
  if (step > 0) return stop > start ? (stop - start + step - 1) / step : 0;
  return start > stop ? (start - stop - step - 1) / (-step) : 0;
}

Dtype accumulation_dtype(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_:
    case Dtype::Val::int8:
    case Dtype::Val::int16:
      return int32;
    case Dtype::Val::uint8:
    case Dtype::Val::uint16:
      return uint32;
    default:
      return d;
  }
}

Dtype at_least_float(Dtype d) {
  auto k = kindof(d);
  if (k == Dtype::Kind::f || k == Dtype::Kind::V || k == Dtype::Kind::c) return d;
  return float32;
}

}  // namespace tessera
