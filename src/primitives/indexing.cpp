// Transform rules of the indexing primitives. Index inputs are integers and never receive
// derivatives. A gather's transpose is a scatter-add (repeated indices accumulate) and a
// scatter's transpose reads back through a gather, so both directions stay sparse. Batching
// moves the batch axis to the front; where both the operand and the indices are batched, an
// extra index over the batch axis (0, 1, ..., B-1) pairs each index row with its own operand.
#include "primitives/indexing.h"

#include <functional>
#include <iterator>
#include <optional>
#include <string>

#include "ops/op_utils.h"

namespace tessera {

namespace {

using Arrays = std::vector<array>;
using VmapResult = std::pair<Arrays, std::vector<int>>;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::optional<array> tangent_of(const std::vector<int>& argnums, const Arrays& tangents, int input) {
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == input) return tangents[k];
  }
  return std::nullopt;
}

int batch_size(const Arrays& inputs, const std::vector<int>& axes) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) return inputs[i].shape(axes[i]);
  }
  throw std::logic_error("[vmap] an indexing rule was called without a batched input.");
}

// The batch axis first; an unbatched input gets a leading axis of size 1 (for ops that broadcast).
array batch_first(const array& x, int axis) {
  if (axis < 0) return expand_dims(x, 0);
  return axis == 0 ? x : moveaxis(x, axis, 0);
}

// The batch axis first, with the full batch size even where x is unbatched (a broadcast view).
array batch_first(const array& x, int axis, int batch) {
  array y = batch_first(x, axis);
  Shape s = y.shape();
  s[0] = batch;
  return y.shape(0) == batch ? y : broadcast_to(y, s);
}

// int32 0..batch-1 laid along the first axis of shape [batch, ...rest].
array batch_iota(int batch, const Shape& rest) {
  Shape s(rest.size() + 1, 1);
  s[0] = batch;
  Shape full = rest;
  full.insert(full.begin(), batch);
  return broadcast_to(reshape(arange(0.0, double(batch), 1.0, int32), s), full);
}

array scatter_axis_node(UpdateMode mode, const array& a, const array& idx, const array& upd, int axis, Stream s) {
  if (idx.shape() != upd.shape()) {
    throw std::logic_error("[put_along_axis] internal scatter got indices and updates of different shapes.");
  }
  return make_node<ScatterAxis>(a.shape(), a.dtype(), {a, idx, astype(upd, a.dtype(), s)}, s, axis, mode);
}

const char* mode_name(UpdateMode m) {
  static const char* names[] = {"set", "add", "prod", "max", "min"};
  auto i = static_cast<size_t>(m);
  return i < std::size(names) ? names[i] : "unknown";
}

using ScatterOp = array (*)(const array&, const std::vector<array>&, const array&, const std::vector<int>&,
                            StreamOrDevice);
// Indexed by UpdateMode.
const ScatterOp kScatterOps[] = {scatter, scatter_add, scatter_prod, scatter_max, scatter_min};

// How a scatter primitive addresses its operand, so one set of derivative rules serves both
// Scatter and ScatterAxis. "Operand layout" is a's shape; "update layout" is the updates' shape.
struct ScatterForm {
  // Combines update-layout `upd` into a copy of operand-layout `base` with `mode`.
  std::function<array(UpdateMode, const array& base, const array& upd)> scatter;
  // Reads operand-layout `x` at every position an update element lands on.
  std::function<array(const array& x)> gather;
  // int32 in update layout; two update elements that can land on the same operand element have
  // different ids, and the kernels apply colliding updates in increasing id order.
  std::function<array()> ids;
  bool may_collide;
};

ScatterForm scatter_form(const std::vector<int>& axes, const Arrays& in, Stream s) {
  const array& a = in[0];
  const array& upd = in.back();
  Arrays idx(in.begin() + 1, in.end() - 1);
  size_t idx_nd = upd.ndim() - a.ndim();
  Shape idx_shape(upd.shape().begin(), upd.shape().begin() + idx_nd);
  Shape slice(upd.shape().begin() + idx_nd, upd.shape().end());
  ScatterForm f;
  f.scatter = [idx, axes, s](UpdateMode m, const array& base, const array& u) {
    return kScatterOps[static_cast<int>(m)](base, idx, u, axes, s);
  };
  f.gather = [idx, axes, slice, s](const array& x) { return gather(x, idx, axes, slice, s); };
  Shape upd_shape = upd.shape();
  size_t nd = a.ndim();
  f.ids = [idx_shape, upd_shape, nd, s]() {
    Shape sh = idx_shape;
    sh.insert(sh.end(), nd, 1);
    array ids = reshape(arange(0.0, double(numel(idx_shape)), 1.0, int32, s), sh, s);
    return broadcast_to(ids, upd_shape, s);
  };
  f.may_collide = numel(idx_shape) > 1;
  return f;
}

ScatterForm scatter_axis_form(int axis, const Arrays& in, Stream s) {
  const array& idx = in[1];
  ScatterForm f;
  f.scatter = [idx, axis, s](UpdateMode m, const array& base, const array& u) {
    return scatter_axis_node(m, base, idx, u, axis, s);
  };
  f.gather = [idx, axis, s](const array& x) { return take_along_axis(x, idx, axis, s); };
  Shape idx_shape = idx.shape();
  f.ids = [idx_shape, axis, s]() {
    Shape sh(idx_shape.size(), 1);
    sh[axis] = idx_shape[axis];
    return broadcast_to(reshape(arange(0.0, double(idx_shape[axis]), 1.0, int32, s), sh, s), idx_shape, s);
  };
  f.may_collide = idx.ndim() > 0 && idx.shape(axis) > 1;
  return f;
}

// Max/min: the operand element and every update equal to the result share its derivative
// evenly. Ties have measure zero; splitting keeps the rule linear and symmetric (as JAX does).
std::pair<array, array> extremal_weights(const ScatterForm& f, const array& a, const array& upd, const array& out,
                                         Stream s) {
  Dtype d = a.dtype();
  array hit_a = astype(equal(a, out, s), d, s);
  array hit_u = astype(equal(upd, f.gather(out), s), d, s);
  array count = maximum(add(hit_a, f.scatter(UpdateMode::Add, zeros_like(a, s), hit_u), s), array(1, d), s);
  return {divide(hit_a, count, s), divide(hit_u, f.gather(count), s)};
}

// Prod: for each update element, the product of the other updates landing on the same operand
// element. Zeros are counted apart, so no zero is ever divided by.
array product_of_others(const ScatterForm& f, const array& a, const array& upd, Stream s) {
  Dtype d = a.dtype();
  array nonzero = not_equal(upd, array(0, d), s);
  array safe = where(nonzero, upd, array(1, d), s);
  array prod_nonzero = f.gather(f.scatter(UpdateMode::Prod, ones_like(a, s), safe));
  array zero_count =
      f.gather(f.scatter(UpdateMode::Add, zeros(a.shape(), int32, s), astype(logical_not(nonzero, s), int32, s)));
  array none = zeros_like(upd, s);
  array if_nonzero = where(equal(zero_count, array(0, int32), s), divide(prod_nonzero, safe, s), none, s);
  array if_zero = where(equal(zero_count, array(1, int32), s), prod_nonzero, none, s);
  return where(nonzero, if_nonzero, if_zero, s);
}

// Cotangents of (operand, updates) of out = scatter(a, idx, upd, mode).
std::pair<array, array> scatter_vjp(const ScatterForm& f, UpdateMode mode, const array& a, const array& upd,
                                    const array& cot, const array& out, Stream s) {
  switch (mode) {
    case UpdateMode::Set: {
      array cot_a = f.scatter(UpdateMode::Set, cot, zeros_like(upd, s));
      array cot_u = f.gather(cot);
      if (f.may_collide) {
        // Of updates landing on one element only the last one written survives.
        array ids = f.ids();
        array owner = f.gather(f.scatter(UpdateMode::Set, full(a.shape(), array(-1, int32), s), ids));
        cot_u = where(equal(owner, ids, s), cot_u, zeros_like(cot_u, s), s);
      }
      return {cot_a, cot_u};
    }
    case UpdateMode::Add:
      return {cot, f.gather(cot)};
    case UpdateMode::Prod: {
      array all = f.scatter(UpdateMode::Prod, ones_like(a, s), upd);
      return {multiply(cot, all, s), multiply(f.gather(multiply(cot, a, s)), product_of_others(f, a, upd, s), s)};
    }
    case UpdateMode::Max:
    case UpdateMode::Min: {
      auto [w_a, w_u] = extremal_weights(f, a, upd, out, s);
      return {multiply(cot, w_a, s), multiply(f.gather(cot), w_u, s)};
    }
  }
  throw std::invalid_argument(std::string("[scatter] derivative of mode ") + mode_name(mode) + " is not supported.");
}

array scatter_jvp(const ScatterForm& f, UpdateMode mode, const array& a, const array& upd,
                  const std::optional<array>& ta, const std::optional<array>& tu, Stream s) {
  switch (mode) {
    case UpdateMode::Set:
    case UpdateMode::Add:
      // Both are linear in (operand, updates) jointly.
      return f.scatter(mode, ta ? *ta : zeros_like(a, s), tu ? *tu : zeros_like(upd, s));
    case UpdateMode::Prod: {
      array t = zeros_like(a, s);
      if (ta) t = multiply(*ta, f.scatter(UpdateMode::Prod, ones_like(a, s), upd), s);
      if (tu) {
        array spread = f.scatter(UpdateMode::Add, zeros_like(a, s), multiply(*tu, product_of_others(f, a, upd, s), s));
        t = add(t, multiply(a, spread, s), s);
      }
      return t;
    }
    case UpdateMode::Max:
    case UpdateMode::Min: {
      array out = f.scatter(mode, a, upd);
      auto [w_a, w_u] = extremal_weights(f, a, upd, out, s);
      array t = zeros_like(a, s);
      if (ta) t = multiply(*ta, w_a, s);
      if (tu) t = add(t, f.scatter(UpdateMode::Add, zeros_like(a, s), multiply(*tu, w_u, s)), s);
      return t;
    }
  }
  throw std::invalid_argument(std::string("[scatter] derivative of mode ") + mode_name(mode) + " is not supported.");
}

// Picks the cotangents named in argnums; index inputs get zeros.
Arrays pick(const std::vector<int>& argnums, const Arrays& primals, int operand, const std::optional<array>& cot_operand,
            int values, const std::optional<array>& cot_values) {
  Arrays out;
  for (int i : argnums) {
    if (i == operand && cot_operand) out.push_back(*cot_operand);
    else if (i == values && cot_values) out.push_back(*cot_values);
    else out.push_back(zeros_like(primals[i]));
  }
  return out;
}

bool wants(const std::vector<int>& argnums, int i) {
  for (int a : argnums) {
    if (a == i) return true;
  }
  return false;
}

}  // namespace

array scatter_add_along_axis(const array& a, const array& indices, const array& updates, int axis, Stream s) {
  return scatter_axis_node(UpdateMode::Add, a, indices, updates, axis, s);
}

// ---------------------------------------------------------------- Gather

std::vector<array> Gather::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) const {
  Stream s = stream();
  std::optional<array> cot_a;
  if (wants(argnums, 0)) {
    Arrays idx(primals.begin() + 1, primals.end());
    cot_a = scatter_add(zeros_like(primals[0], s), idx, cotangents[0], axes_, s);
  }
  return pick(argnums, primals, 0, cot_a, -1, std::nullopt);
}

std::vector<array> Gather::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) const {
  Stream s = stream();
  Arrays idx(primals.begin() + 1, primals.end());
  auto t = tangent_of(argnums, tangents, 0);
  array ta = t ? *t : zeros_like(primals[0], s);
  return {gather(ta, idx, axes_, slice_sizes_, s)};
}

std::pair<std::vector<array>, std::vector<int>> Gather::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) const {
  Stream s = stream();
  const int batch = batch_size(inputs, axes);
  const array& a = inputs[0];
  const int ab = axes[0];
  const size_t k = inputs.size() - 1;
  bool idx_batched = false;
  for (size_t j = 1; j < inputs.size(); ++j) idx_batched = idx_batched || axes[j] >= 0;

  if (!idx_batched) {
    // The batch axis becomes one more whole-axis slice dimension of the operand.
    Arrays idx(inputs.begin() + 1, inputs.end());
    std::vector<int> ax;
    for (int x : axes_) ax.push_back(x >= ab ? x + 1 : x);
    Shape ss = slice_sizes_;
    ss.insert(ss.begin() + ab, batch);
    int idx_nd = k > 0 ? int(inputs[1].ndim()) : 0;
    return {{gather(a, idx, ax, ss, s)}, {idx_nd + ab}};
  }

  Arrays idx;
  for (size_t j = 1; j < inputs.size(); ++j) idx.push_back(batch_first(inputs[j], axes[j], batch));
  Shape idx_shape(idx[0].shape().begin() + 1, idx[0].shape().end());
  for (auto& i : idx) i = broadcast_to(i, idx[0].shape(), s);
  if (ab < 0) return {{gather(a, idx, axes_, slice_sizes_, s)}, {0}};

  // Both batched: index the operand's batch axis with the batch position itself.
  array ab0 = batch_first(a, ab);
  Arrays all_idx{batch_iota(batch, idx_shape)};
  all_idx.insert(all_idx.end(), idx.begin(), idx.end());
  std::vector<int> ax{0};
  for (int x : axes_) ax.push_back(x + 1);
  Shape ss = slice_sizes_;
  ss.insert(ss.begin(), 1);
  array g = gather(ab0, all_idx, ax, ss, s);
  return {{squeeze(g, int(idx_shape.size()) + 1, s)}, {0}};
}

// ---------------------------------------------------------------- Scatter

std::vector<array> Scatter::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  Stream s = stream();
  int u = int(primals.size()) - 1;
  ScatterForm f = scatter_form(axes_, primals, s);
  auto [cot_a, cot_u] = scatter_vjp(f, mode_, primals[0], primals[u], cotangents[0], outputs[0], s);
  return pick(argnums, primals, 0, cot_a, u, cot_u);
}

std::vector<array> Scatter::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) const {
  Stream s = stream();
  int u = int(primals.size()) - 1;
  ScatterForm f = scatter_form(axes_, primals, s);
  return {scatter_jvp(f, mode_, primals[0], primals[u], tangent_of(argnums, tangents, 0),
                      tangent_of(argnums, tangents, u), s)};
}

std::pair<std::vector<array>, std::vector<int>> Scatter::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) const {
  Stream s = stream();
  const int batch = batch_size(inputs, axes);
  const size_t u = inputs.size() - 1;
  const array& upd = inputs[u];
  const int ub = axes[u];
  const size_t nd = inputs[0].ndim() - (axes[0] >= 0 ? 1 : 0);
  const size_t idx_nd = upd.ndim() - (ub >= 0 ? 1 : 0) - nd;
  bool idx_batched = false;
  for (size_t j = 1; j < u; ++j) idx_batched = idx_batched || axes[j] >= 0;
  // The result is a fresh array anyway, so an unbatched operand is broadcast to the batch.
  array a = batch_first(inputs[0], axes[0], batch);
  ScatterOp op = kScatterOps[static_cast<int>(mode_)];

  if (!idx_batched) {
    // The batch becomes a whole leading slice dimension of each update: [idx..., B, slice...].
    Arrays idx(inputs.begin() + 1, inputs.begin() + u);
    array up = batch_first(upd, ub, batch);
    up = moveaxis(up, 0, int(idx_nd), s);
    std::vector<int> ax;
    for (int x : axes_) ax.push_back(x + 1);
    return {{op(a, idx, up, ax, s)}, {0}};
  }

  Arrays idx;
  for (size_t j = 1; j < u; ++j) idx.push_back(batch_first(inputs[j], axes[j], batch));
  Shape idx_shape(idx[0].shape().begin() + 1, idx[0].shape().end());
  for (auto& i : idx) i = broadcast_to(i, idx[0].shape(), s);
  Arrays all_idx{batch_iota(batch, idx_shape)};
  all_idx.insert(all_idx.end(), idx.begin(), idx.end());
  std::vector<int> ax{0};
  for (int x : axes_) ax.push_back(x + 1);
  // Updates [B, idx..., 1, slice...]: one batch row per index row (a size-1 batch broadcasts).
  array up = expand_dims(batch_first(upd, ub), int(idx_nd) + 1, s);
  return {{op(a, all_idx, up, ax, s)}, {0}};
}

// ---------------------------------------------------------------- GatherAxis

std::vector<array> GatherAxis::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                   const std::vector<int>& argnums, const std::vector<array>&) const {
  Stream s = stream();
  std::optional<array> cot_a;
  if (wants(argnums, 0)) {
    cot_a = scatter_axis_node(UpdateMode::Add, zeros_like(primals[0], s), primals[1], cotangents[0], axis_, s);
  }
  return pick(argnums, primals, 0, cot_a, -1, std::nullopt);
}

std::vector<array> GatherAxis::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) const {
  Stream s = stream();
  auto t = tangent_of(argnums, tangents, 0);
  return {take_along_axis(t ? *t : zeros_like(primals[0], s), primals[1], axis_, s)};
}

std::pair<std::vector<array>, std::vector<int>> GatherAxis::vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes) const {
  Stream s = stream();
  // take_along_axis broadcasts the dimensions off the axis, so size-1 fronts suffice.
  return {{take_along_axis(batch_first(inputs[0], axes[0]), batch_first(inputs[1], axes[1]), axis_ + 1, s)}, {0}};
}

// ---------------------------------------------------------------- ScatterAxis

std::vector<array> ScatterAxis::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  Stream s = stream();
  ScatterForm f = scatter_axis_form(axis_, primals, s);
  auto [cot_a, cot_u] = scatter_vjp(f, mode_, primals[0], primals[2], cotangents[0], outputs[0], s);
  return pick(argnums, primals, 0, cot_a, 2, cot_u);
}

std::vector<array> ScatterAxis::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) const {
  Stream s = stream();
  ScatterForm f = scatter_axis_form(axis_, primals, s);
  return {scatter_jvp(f, mode_, primals[0], primals[2], tangent_of(argnums, tangents, 0),
                      tangent_of(argnums, tangents, 2), s)};
}

std::pair<std::vector<array>, std::vector<int>> ScatterAxis::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes) const {
  Stream s = stream();
  const int batch = batch_size(inputs, axes);
  array a = batch_first(inputs[0], axes[0], batch);
  array idx = batch_first(inputs[1], axes[1], batch);
  array upd = batch_first(inputs[2], axes[2], batch);
  return {{scatter_axis_node(mode_, a, idx, upd, axis_ + 1, s)}, {0}};
}

// ---------------------------------------------------------------- MaskedScatter

namespace {

// Row-major rank of every true mask element among the true ones (exclusive running count) and
// whether it finds a source element (rank < n). Both are laid out flat along `axis`.
std::pair<array, array> mask_ranks(const array& flat_mask, int axis, int n, Stream s) {
  array rank = cumsum(astype(flat_mask, int32, s), axis, false, false, s);
  array used = logical_and(flat_mask, less(rank, array(n, int32), s), s);
  return {rank, used};
}

}  // namespace

std::vector<array> MaskedScatter::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                      const std::vector<int>& argnums, const std::vector<array>&) const {
  Stream s = stream();
  const array& a = primals[0];
  const array& src = primals[2];
  const int n = int(src.size());
  const int total = int(a.size());
  array cot = cotangents[0];
  auto [rank, used] = mask_ranks(reshape(primals[1], {total}, s), 0, n, s);
  std::optional<array> cot_a, cot_src;
  if (wants(argnums, 0)) cot_a = where(reshape(used, a.shape(), s), zeros_like(cot, s), cot, s);
  if (wants(argnums, 2)) {
    if (n == 0 || total == 0) {
      cot_src = zeros_like(src, s);
    } else {
      // Used positions have distinct ranks; unused ones add zero at rank 0.
      array flat = where(used, reshape(cot, {total}, s), zeros({total}, cot.dtype(), s), s);
      array at = where(used, rank, zeros({total}, int32, s), s);
      cot_src = scatter_add(zeros_like(src, s), at, reshape(flat, {total, 1}, s), 0, s);
    }
  }
  return pick(argnums, primals, 0, cot_a, 2, cot_src);
}

std::vector<array> MaskedScatter::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                      const std::vector<int>& argnums) const {
  Stream s = stream();
  auto ta = tangent_of(argnums, tangents, 0);
  auto ts = tangent_of(argnums, tangents, 2);
  // Linear in (operand, source) jointly.
  return {masked_scatter(ta ? *ta : zeros_like(primals[0], s), primals[1], ts ? *ts : zeros_like(primals[2], s), s)};
}

std::pair<std::vector<array>, std::vector<int>> MaskedScatter::vmap(const std::vector<array>& inputs,
                                                                    const std::vector<int>& axes) const {
  // Each batch entry consumes its own source from the start, so the source position of every
  // element is its rank among the true mask elements of its own batch entry.
  Stream s = stream();
  const int batch = batch_size(inputs, axes);
  array a = batch_first(inputs[0], axes[0]);
  array mask = batch_first(inputs[1], axes[1]);
  array src = batch_first(inputs[2], axes[2]);
  Shape shape(a.shape().begin() + 1, a.shape().end());
  const int total = int(numel(shape));
  const int n = src.shape(1);
  Shape out_shape = shape;
  out_shape.insert(out_shape.begin(), batch);
  array flat_a = reshape(a, {a.shape(0), total}, s);
  if (n == 0 || total == 0) return {{broadcast_to(reshape(flat_a, a.shape(), s), out_shape, s)}, {0}};
  auto [rank, used] = mask_ranks(reshape(mask, {mask.shape(0), total}, s), 1, n, s);
  array taken = take_along_axis(src, minimum(rank, array(n - 1, int32), s), 1, s);
  array out = where(used, taken, flat_a, s);
  return {{reshape(broadcast_to(out, {batch, total}, s), out_shape, s)}, {0}};
}

}  // namespace tessera
