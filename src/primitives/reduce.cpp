// Reductions, arg-reductions and scans: names and transform rules. The rules are built from
// public ops that have rules themselves, so they compose (grad of grad, vmap of grad).
#include "primitives/reduce.h"

#include <limits>
#include <numeric>

#include "ops/op_utils.h"

namespace tessera {

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "prod", "max", "min", "all", "any"};
  return names[static_cast<int>(op)];
}

const char* Scan::name() const {
  static const char* names[] = {"cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"};
  return names[static_cast<int>(op_)];
}

namespace {

// Where an axis of the unbatched input sits once the batch axis b is inserted.
int batched_axis(int axis, int b) { return axis + (b >= 0 && b <= axis ? 1 : 0); }

array scalar_like(double v, const array& a) { return array(v, a.dtype()); }

Shape kept_shape(const Shape& in, const std::vector<int>& axes) {
  Shape out = in;
  for (int ax : axes) out[ax] = 1;
  return out;
}

// Product of the elements along `axes` other than the one at each position, as the product of
// an exclusive forward and an exclusive reverse cumprod. No division, so zeros (one or many) give
// the exact derivative of prod, and the result stays differentiable through cumprod's own rule.
array product_of_others(const array& x, const std::vector<int>& axes, StreamOrDevice s) {
  if (axes.size() == 1) {
    int ax = axes[0];
    return multiply(cumprod(x, ax, false, false, s), cumprod(x, ax, true, false, s), s);
  }
  // Several axes: move them last, flatten them into one, and undo afterwards.
  int nd = int(x.ndim());
  std::vector<bool> reduced(nd, false);
  for (int ax : axes) reduced[ax] = true;
  std::vector<int> perm;
  Shape flat;
  for (int i = 0; i < nd; ++i) {
    if (!reduced[i]) {
      perm.push_back(i);
      flat.push_back(x.shape(i));
    }
  }
  int n = 1;
  for (int ax : axes) {
    perm.push_back(ax);
    n *= x.shape(ax);
  }
  flat.push_back(n);
  array t = transpose(x, perm, s);
  Shape tshape = t.shape();
  array f = reshape(t, flat, s);
  array o = multiply(cumprod(f, -1, false, false, s), cumprod(f, -1, true, false, s), s);
  std::vector<int> inv(nd);
  for (int i = 0; i < nd; ++i) inv[perm[i]] = i;
  return transpose(reshape(o, tshape, s), inv, s);
}

// Max/min: the positions equal to the (keepdims) result, and how many there are per result.
std::pair<array, array> extreme_positions(const array& x, const array& out, const std::vector<int>& axes, Dtype d,
                                          StreamOrDevice s) {
  array mask = equal(x, out, s);
  array count = sum(astype(mask, d, s), axes, true, s);
  return {mask, count};
}

}  // namespace

// ---------------------------------------------------------------- Reduce

std::vector<array> Reduce::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  StreamOrDevice s = stream();
  const array& x = primals[0];
  const array& g = cotangents[0];
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) {
    switch (op_) {
      case ReduceOp::Sum:
        res.push_back(broadcast_to(g, x.shape(), s));
        break;
      case ReduceOp::Prod:
        res.push_back(multiply(product_of_others(x, axes_, s), g, s));
        break;
      case ReduceOp::Max:
      case ReduceOp::Min: {
        auto [mask, count] = extreme_positions(x, outputs[0], axes_, g.dtype(), s);
        // Ties share the cotangent evenly (MLX). count is 0 only where the result is NaN, and
        // the mask is all false there, so the division never reaches the result.
        res.push_back(where(mask, divide(g, count, s), scalar_like(0, g), s));
        break;
      }
      default:
        res.push_back(zeros_like(x, s));
        break;
    }
  }
  return res;
}

std::vector<array> Reduce::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) const {
  (void)argnums;
  StreamOrDevice s = stream();
  const array& x = primals[0];
  const array& t = tangents[0];
  switch (op_) {
    case ReduceOp::Sum:
      return {sum(t, axes_, true, s)};
    case ReduceOp::Prod:
      return {sum(multiply(t, product_of_others(x, axes_, s), s), axes_, true, s)};
    case ReduceOp::Max:
    case ReduceOp::Min: {
      array out = op_ == ReduceOp::Max ? max(x, axes_, true, s) : min(x, axes_, true, s);
      auto [mask, count] = extreme_positions(x, out, axes_, t.dtype(), s);
      return {divide(sum(where(mask, t, scalar_like(0, t), s), axes_, true, s), count, s)};
    }
    default:
      return {zeros(kept_shape(x.shape(), axes_), bool_, s)};
  }
}

std::pair<std::vector<array>, std::vector<int>> Reduce::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) const {
  const array& x = inputs[0];
  int b = axes[0];
  std::vector<int> red = axes_;
  for (int& ax : red) ax = batched_axis(ax, b);
  Dtype d = (op_ == ReduceOp::And || op_ == ReduceOp::Or) ? bool_ : x.dtype();
  array out = make_node<Reduce>(kept_shape(x.shape(), red), d, {x}, stream(), op_, red);
  // The reduced axes stay as size-1 dims, so the batch axis keeps its position.
  return {{out}, {b}};
}

// ---------------------------------------------------------------- ArgReduce

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)cotangents;
  (void)outputs;
  std::vector<array> res;
  for (size_t k = 0; k < argnums.size(); ++k) res.push_back(zeros_like(primals[argnums[k]], stream()));
  return res;
}

std::vector<array> ArgReduce::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) const {
  (void)tangents;
  (void)argnums;
  return {zeros(kept_shape(primals[0].shape(), {axis_}), uint32, stream())};
}

std::pair<std::vector<array>, std::vector<int>> ArgReduce::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) const {
  const array& x = inputs[0];
  int b = axes[0];
  int ax = batched_axis(axis_, b);
  array out = make_node<ArgReduce>(kept_shape(x.shape(), {ax}), uint32, {x}, stream(), op_, ax);
  return {{out}, {b}};
}

// ---------------------------------------------------------------- Scan

namespace {

// Splits the positions of a cumprod at the first zero in scan order: `before` (no zero at or
// before the position), `first` (the first zero itself). Everything after has zero derivative.
std::pair<array, array> split_at_first_zero(const array& x, int axis, bool reverse, StreamOrDevice s) {
  array is_zero = equal(x, scalar_like(0, x), s);
  array zeros_before = cumsum(is_zero, axis, reverse, false, s);  // int32
  array none_before = equal(zeros_before, array(0, zeros_before.dtype()), s);
  return {logical_and(none_before, logical_not(is_zero, s), s), logical_and(none_before, is_zero, s)};
}

// Positions along the scan axis counted in scan order (int32, broadcastable: n at `axis`, 1
// elsewhere), and the conversion of such a count back to an index along the axis.
array scan_order(int n, int ndim, int axis, bool reverse, StreamOrDevice s) {
  Shape shape(ndim, 1);
  shape[axis] = n;
  array pos = reshape(arange(0.0, double(n), int32, s), shape, s);
  return reverse ? subtract(array(n - 1, int32), pos, s) : pos;
}
array order_to_index(const array& order, int n, bool reverse, StreamOrDevice s) {
  return reverse ? subtract(array(n - 1, int32), order, s) : order;
}

// cummax/cummin as runs ("segments") of equal output. A segment starts where an element sets a
// new extreme; later elements of the segment equal to that extreme are ties, and an output
// depends on the ties up to it, each with weight 1 / (their number): an even split, as Reduce's
// max/min (and what central differences see at a tie).
struct ExtremeSegments {
  array order;  // scan-order positions (see scan_order)
  array ties;   // bool: the element equals the running extreme (it is one of the ties)
  array starts; // bool: the element starts a segment
  array start;  // per output: scan-order position of its segment's start
  array valid;  // per output: it has a start and is not NaN
  array count;  // per output: number of ties up to it in its segment (1 where not valid)
  int n;
};

ExtremeSegments extreme_segments(const array& x, const array& y_incl, const array& y_excl, ScanOp op, int axis,
                                 bool reverse, StreamOrDevice s) {
  int n = x.shape(axis);
  array order = scan_order(n, int(x.ndim()), axis, reverse, s);
  array ties = equal(x, y_incl, s);
  // The first element starts a segment even when it is -inf (it equals the identity).
  array rises = op == ScanOp::Max ? greater(x, y_excl, s) : less(x, y_excl, s);
  array starts = logical_and(ties, logical_or(rises, equal(order, array(0, int32), s), s), s);
  array start = cummax(where(starts, order, array(-1, int32), s), axis, reverse, true, s);
  array valid = logical_and(greater_equal(start, array(0, int32), s), equal(y_incl, y_incl, s), s);
  // Ties seen so far minus those before the segment; the latter is nondecreasing, so a running
  // max carries it forward from the segment's start.
  array t32 = astype(ties, int32, s);
  array seen = cumsum(t32, axis, reverse, true, s);
  array before = cummax(where(starts, subtract(seen, t32, s), array(0, int32), s), axis, reverse, true, s);
  array count = maximum(subtract(seen, before, s), array(1, int32), s);
  return {order, ties, starts, start, valid, count, n};
}

// Tangent of an inclusive cummax/cummin: the mean of the tangents of the ties up to each output.
array extreme_scan_jvp(const ExtremeSegments& e, const array& t, int axis, bool reverse, StreamOrDevice s) {
  array zero = scalar_like(0, t);
  array tt = where(e.ties, t, zero, s);
  array run = cumsum(tt, axis, reverse, true, s);
  array first = order_to_index(maximum(e.start, array(0, int32), s), e.n, reverse, s);
  array before = take_along_axis(subtract(run, tt, s), first, axis, s);
  return where(e.valid, divide(subtract(run, before, s), astype(e.count, t.dtype(), s), s), zero, s);
}

// Cotangent of an inclusive cummax/cummin: each tie collects g / count of the outputs from it
// to the end of its segment.
array extreme_scan_vjp(const ExtremeSegments& e, const array& g, int axis, bool reverse, StreamOrDevice s) {
  array zero = scalar_like(0, g);
  array share = where(e.valid, divide(g, astype(e.count, g.dtype(), s), s), zero, s);
  array run = cumsum(share, axis, reverse, true, s);
  // Last position of each element's segment: one before the next start (exclusive scan the
  // other way; its identity, INT_MAX, means no later start).
  array next = cummin(where(e.starts, e.order, array(e.n, int32), s), axis, !reverse, false, s);
  array last = subtract(minimum(next, array(e.n, int32), s), array(1, int32), s);
  array at_last = take_along_axis(run, order_to_index(last, e.n, reverse, s), axis, s);
  return where(e.ties, subtract(at_last, subtract(run, share, s), s), zero, s);
}

// An exclusive scan's output i is the inclusive one at i - 1 (scan order): shift v forward
// (`later` false: out_i = v_{i-1}) or backward (`later` true: out_i = v_{i+1}), 0 off the end.
array shift_in_scan_order(const array& v, const array& order, int n, int axis, bool reverse, bool later,
                          StreamOrDevice s) {
  array src = later ? minimum(add(order, array(1, int32), s), array(n - 1, int32), s)
                    : maximum(subtract(order, array(1, int32), s), array(0, int32), s);
  array inside = later ? less(order, array(n - 1, int32), s) : greater(order, array(0, int32), s);
  return where(inside, take_along_axis(v, order_to_index(src, n, reverse, s), axis, s), scalar_like(0, v), s);
}

// Sign-split log-domain terms: log(max(v, 0)) and log(max(-v, 0)), -inf where that part is 0.
// The inner where keeps the log's argument at 1 there, so no NaN flows back through it.
std::pair<array, array> log_parts(const array& v, StreamOrDevice s) {
  array zero = scalar_like(0, v), one = scalar_like(1, v);
  array ninf = scalar_like(-std::numeric_limits<double>::infinity(), v);
  array pos = greater(v, zero, s), neg = less(v, zero, s);
  array lp = where(pos, log(where(pos, v, one, s), s), ninf, s);
  array ln = where(neg, log(where(neg, negative(v, s), one, s), s), ninf, s);
  return {lp, ln};
}

// y with -inf (an exclusive scan's first output, or all inputs -inf) replaced by 0: those
// outputs do not depend on finite inputs, and -inf - -inf would give NaN.
array finite_floor(const array& y, StreamOrDevice s) { return where(isneginf(y, s), scalar_like(0, y), y, s); }

}  // namespace

std::vector<array> Scan::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)argnums;
  StreamOrDevice s = stream();
  const array& x = primals[0];
  const array& g = cotangents[0];
  const array& y = outputs[0];
  switch (op_) {
    case ScanOp::Sum:
      return {cumsum(g, axis_, !reverse_, inclusive_, s)};
    case ScanOp::Prod: {
      // Before the first zero: sum over later outputs of g*y, divided by x (nonzero there). At
      // the first zero: the same sum with that zero replaced by 1. After it: 0.
      auto [before, first] = split_at_first_zero(x, axis_, reverse_, s);
      array one = scalar_like(1, x), zero = scalar_like(0, g);
      array y1 = cumprod(where(first, one, x, s), axis_, reverse_, inclusive_, s);
      array a = cumsum(multiply(g, y, s), axis_, !reverse_, inclusive_, s);
      array b = cumsum(multiply(g, y1, s), axis_, !reverse_, inclusive_, s);
      array at_before = divide(a, where(before, x, one, s), s);
      return {where(before, at_before, where(first, b, zero, s), s)};
    }
    case ScanOp::Max:
    case ScanOp::Min: {
      bool mx = op_ == ScanOp::Max;
      array other = mx ? cummax(x, axis_, reverse_, !inclusive_, s) : cummin(x, axis_, reverse_, !inclusive_, s);
      auto e = extreme_segments(x, inclusive_ ? y : other, inclusive_ ? other : y, op_, axis_, reverse_, s);
      array gi = inclusive_ ? g : shift_in_scan_order(g, e.order, e.n, axis_, reverse_, true, s);
      return {extreme_scan_vjp(e, gi, axis_, reverse_, s)};
    }
    case ScanOp::LogAddExp: {
      // dx_k = sum over outputs i that include k of g_i * exp(x_k - y_i), summed in the log
      // domain separately for the positive and negative parts of g.
      array yf = finite_floor(y, s);
      auto [lp, ln] = log_parts(g, s);
      array sp = logcumsumexp(subtract(lp, yf, s), axis_, !reverse_, inclusive_, s);
      array sn = logcumsumexp(subtract(ln, yf, s), axis_, !reverse_, inclusive_, s);
      return {subtract(exp(add(x, sp, s), s), exp(add(x, sn, s), s), s)};
    }
    default:
      return {zeros_like(x, s)};
  }
}

std::vector<array> Scan::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>& argnums) const {
  (void)argnums;
  StreamOrDevice s = stream();
  const array& x = primals[0];
  const array& t = tangents[0];
  switch (op_) {
    case ScanOp::Sum:
      return {cumsum(t, axis_, reverse_, inclusive_, s)};
    case ScanOp::Prod: {
      // Up to the first zero: y * cumsum(t / x). From it on only the zero's own tangent
      // survives, times the cumprod with that zero replaced by 1.
      auto [before, first] = split_at_first_zero(x, axis_, reverse_, s);
      array one = scalar_like(1, x), zero = scalar_like(0, t);
      array y = cumprod(x, axis_, reverse_, inclusive_, s);
      array y1 = cumprod(where(first, one, x, s), axis_, reverse_, inclusive_, s);
      array ratio = where(before, divide(t, where(before, x, one, s), s), zero, s);
      array tz = where(first, t, zero, s);
      return {add(multiply(y, cumsum(ratio, axis_, reverse_, inclusive_, s), s),
                  multiply(y1, cumsum(tz, axis_, reverse_, inclusive_, s), s), s)};
    }
    case ScanOp::Max:
    case ScanOp::Min: {
      bool mx = op_ == ScanOp::Max;
      array yi = mx ? cummax(x, axis_, reverse_, true, s) : cummin(x, axis_, reverse_, true, s);
      array ye = mx ? cummax(x, axis_, reverse_, false, s) : cummin(x, axis_, reverse_, false, s);
      auto e = extreme_segments(x, yi, ye, op_, axis_, reverse_, s);
      array ti = extreme_scan_jvp(e, t, axis_, reverse_, s);
      return {inclusive_ ? ti : shift_in_scan_order(ti, e.order, e.n, axis_, reverse_, false, s)};
    }
    case ScanOp::LogAddExp: {
      array yf = finite_floor(logcumsumexp(x, axis_, reverse_, inclusive_, s), s);
      auto [lp, ln] = log_parts(t, s);
      array sp = logcumsumexp(add(lp, x, s), axis_, reverse_, inclusive_, s);
      array sn = logcumsumexp(add(ln, x, s), axis_, reverse_, inclusive_, s);
      return {subtract(exp(subtract(sp, yf, s), s), exp(subtract(sn, yf, s), s), s)};
    }
    default:
      return {zeros_like(x, s)};
  }
}

std::pair<std::vector<array>, std::vector<int>> Scan::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) const {
  const array& x = inputs[0];
  int b = axes[0];
  array out = make_node<Scan>(x.shape(), x.dtype(), {x}, stream(), op_, batched_axis(axis_, b), reverse_, inclusive_);
  return {{out}, {b}};
}

}  // namespace tessera
