// Reductions. Sum/prod of small integers accumulate in 32 bits (MLX's rule), 16-bit floats in
// float32; mean/var/std/logsumexp are composed from the Reduce primitive.
#include <algorithm>
#include <limits>
#include <numeric>

#include "ops/op_utils.h"
#include "primitives/fast.h"
#include "primitives/reduce.h"

namespace tessera {

namespace {

std::vector<int> all_axes(const array& a) {
  std::vector<int> axes(a.ndim());
  std::iota(axes.begin(), axes.end(), 0);
  return axes;
}

Shape reduced_shape(const array& a, const std::vector<int>& axes, bool keepdims) {
  Shape out;
  size_t j = 0;
  for (int i = 0; i < int(a.ndim()); ++i) {
    if (j < axes.size() && axes[j] == i) {
      ++j;
      if (keepdims) out.push_back(1);
    } else {
      out.push_back(a.shape(i));
    }
  }
  return out;
}


array reduce(const array& a, const std::vector<int>& axes_in, bool keepdims, ReduceOp op, Dtype out_dtype,
             const char* name, StreamOrDevice s) {
  auto axes = normalize_axes(axes_in, int(a.ndim()), name);
  Shape kept = reduced_shape(a, axes, true);
  array in = astype(a, out_dtype, s);
  if ((op == ReduceOp::Max || op == ReduceOp::Min) && a.size() == 0) {
    throw_invalid(name, "Cannot ", name, " reduce zero size array.");
  }
  array out = axes.empty() ? in : make_node<Reduce>(kept, out_dtype, {in}, to_stream(s), op, axes);
  if (!keepdims) out = reshape(out, reduced_shape(a, axes, false), s);
  return out;
}

}  // namespace

#define TESSERA_REDUCTION_OVERLOADS(NAME)                                                       \
  array NAME(const array& a, bool keepdims, StreamOrDevice s) {                                 \
    return NAME(a, all_axes(a), keepdims, s);                                                   \
  }                                                                                             \
  array NAME(const array& a, int axis, bool keepdims, StreamOrDevice s) {                       \
    return NAME(a, std::vector<int>{axis}, keepdims, s);                                        \
  }

array sum(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce(a, axes, keepdims, ReduceOp::Sum, accumulation_dtype(a.dtype()), "sum", s);
}
TESSERA_REDUCTION_OVERLOADS(sum)

array prod(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce(a, axes, keepdims, ReduceOp::Prod, accumulation_dtype(a.dtype()), "prod", s);
}
TESSERA_REDUCTION_OVERLOADS(prod)

array max(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce(a, axes, keepdims, ReduceOp::Max, a.dtype(), "max", s);
}
TESSERA_REDUCTION_OVERLOADS(max)

array min(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce(a, axes, keepdims, ReduceOp::Min, a.dtype(), "min", s);
}
TESSERA_REDUCTION_OVERLOADS(min)

array all(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce(a, axes, keepdims, ReduceOp::And, bool_, "all", s);
}
TESSERA_REDUCTION_OVERLOADS(all)

array any(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return reduce(a, axes, keepdims, ReduceOp::Or, bool_, "any", s);
}
TESSERA_REDUCTION_OVERLOADS(any)

array count_nonzero(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  return sum(astype(not_equal(a, zeros({}, a.dtype(), s), s), int32, s), axes, keepdims, s);
}
TESSERA_REDUCTION_OVERLOADS(count_nonzero)

array mean(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  auto ax = normalize_axes(axes, int(a.ndim()), "mean");
  double n = 1;
  for (int i : ax) n *= a.shape(i);
  Dtype d = at_least_float(a.dtype());
  array total = sum(astype(a, d, s), ax, keepdims, s);
  return multiply(total, array(n > 0 ? 1.0 / n : std::numeric_limits<double>::quiet_NaN(), d == complex64 ? float32 : d), s);
}
TESSERA_REDUCTION_OVERLOADS(mean)

array var(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, StreamOrDevice s) {
  auto ax = normalize_axes(axes, int(a.ndim()), "var");
  double n = 1;
  for (int i : ax) n *= a.shape(i);
  Dtype d = at_least_float(a.dtype());
  array x = astype(a, d, s);
  array mu = mean(x, ax, true, s);
  array dev = subtract(x, mu, s);
  array sq = multiply(dev, d == complex64 ? conjugate(dev, s) : dev, s);
  array total = sum(real(sq, s), ax, keepdims, s);
  double denom = n - ddof;
  double scale = denom > 0 ? 1.0 / denom : std::numeric_limits<double>::quiet_NaN();
  return multiply(total, array(scale, d == complex64 ? float32 : d), s);
}
array var(const array& a, bool keepdims, int ddof, StreamOrDevice s) { return var(a, all_axes(a), keepdims, ddof, s); }
array var(const array& a, int axis, bool keepdims, int ddof, StreamOrDevice s) {
  return var(a, std::vector<int>{axis}, keepdims, ddof, s);
}

array std(const array& a, const std::vector<int>& axes, bool keepdims, int ddof, StreamOrDevice s) {
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}
array std(const array& a, bool keepdims, int ddof, StreamOrDevice s) { return std(a, all_axes(a), keepdims, ddof, s); }
array std(const array& a, int axis, bool keepdims, int ddof, StreamOrDevice s) {
  return std(a, std::vector<int>{axis}, keepdims, ddof, s);
}

array logsumexp(const array& a, const std::vector<int>& axes, bool keepdims, StreamOrDevice s) {
  if (a.size() == 0) throw_invalid("logsumexp", "Received empty array.");
  Dtype d = at_least_float(a.dtype());
  array x = astype(a, d, s);
  const auto ax = normalize_axes(axes, int(a.ndim()), "logsumexp");
  if (d != complex64 && ax.size() == 1 && ax[0] == int(a.ndim()) - 1) {
    // Over the last axis: one fused node (LogSumExp).
    Shape kept = x.shape();
    kept.back() = 1;
    array out = make_node<LogSumExp>(std::move(kept), d, {x}, to_stream(s));
    return keepdims ? out : squeeze(out, -1, s);
  }
  array m = stop_gradient(max(x, axes, true, s), s);
  // Rows whose max is ±inf would give inf - inf; shift by 0 there instead.
  m = where(isinf(m, s), zeros({}, d, s), m, s);
  array out = add(log(sum(exp(subtract(x, m, s), s), axes, true, s), s), m, s);
  return keepdims ? out : squeeze(out, normalize_axes(axes, int(a.ndim()), "logsumexp"), s);
}
TESSERA_REDUCTION_OVERLOADS(logsumexp)

namespace {

array arg_reduce(const array& a, int axis, bool keepdims, ArgReduceOp op, const char* name, StreamOrDevice s) {
  if (a.size() == 0) throw_invalid(name, "Cannot ", name, " reduce zero size array.");
  int ax = normalize_axis(axis, int(a.ndim()), name);
  Shape kept = a.shape();
  kept[ax] = 1;
  array out = make_node<ArgReduce>(kept, uint32, {a}, to_stream(s), op, ax);
  return keepdims ? out : squeeze(out, ax, s);
}

}  // namespace

array argmin(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return arg_reduce(a, axis, keepdims, ArgReduceOp::ArgMin, "argmin", s);
}
array argmin(const array& a, bool keepdims, StreamOrDevice s) {
  array r = argmin(reshape(a, {-1}, s), 0, false, s);
  return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
}
array argmax(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return arg_reduce(a, axis, keepdims, ArgReduceOp::ArgMax, "argmax", s);
}
array argmax(const array& a, bool keepdims, StreamOrDevice s) {
  array r = argmax(reshape(a, {-1}, s), 0, false, s);
  return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
}

}  // namespace tessera
