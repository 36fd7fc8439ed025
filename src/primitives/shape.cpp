// Derivative and batching rules of the layout primitives. Every rule is built from ops that have
// rules themselves, so the rules compose (grad of grad, vmap of grad, nested vmap).
//
// Slice and SliceUpdate carry start/stop already normalized for their (possibly negative) strides;
// a negative-stride stop may be -1, which the public slice ops would read as "the last element".
// The rules therefore rebuild those two primitives directly with the parameters they were given.
#include "primitives/shape.h"

#include <cstdint>

#include "ops/op_utils.h"

namespace tessera {

namespace {

using Rule = std::pair<std::vector<array>, std::vector<int>>;

// The size of the mapped axis: every batched input agrees (the vmap driver checked).
int batch_size(const std::vector<array>& inputs, const std::vector<int>& axes) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) return inputs[i].shape(axes[i]);
  }
  return 1;
}

// Puts x's batch axis at `to`; an unbatched x (from == -1) gets a broadcast batch axis there,
// which costs no copy.
array batch_at(const array& x, int from, int to, int n, StreamOrDevice s) {
  if (from >= 0) return from == to ? x : moveaxis(x, from, to, s);
  Shape shape = x.shape();
  shape.insert(shape.begin() + to, n);
  return broadcast_to(expand_dims(x, to, s), shape, s);
}

// Zeros that a following copy reads once: a broadcast scalar rather than a filled buffer.
array zeros_view(const Shape& shape, Dtype dtype, StreamOrDevice s) {
  return broadcast_to(array(0, dtype), shape, s);
}

Shape region_shape(const Shape& start, const Shape& stop, const Shape& strides) {
  Shape shape(start.size());
  for (size_t i = 0; i < start.size(); ++i) shape[i] = slice_len(start[i], stop[i], strides[i]);
  return shape;
}

// A Slice with normalized parameters (see the note at the top).
array slice_node(const array& a, const Shape& start, const Shape& stop, const Shape& strides, Stream s) {
  Shape shape = region_shape(start, stop, strides);
  bool identity = true;
  for (size_t i = 0; i < shape.size(); ++i) {
    identity = identity && strides[i] == 1 && start[i] == 0 && shape[i] == a.shape(int(i));
  }
  if (identity) return a;
  return make_node<Slice>(std::move(shape), a.dtype(), {a}, s, start, stop, strides);
}

// A SliceUpdate with normalized parameters; `update` is broadcast to the region's shape.
array slice_update_node(const array& src, const array& update, const Shape& start, const Shape& stop,
                        const Shape& strides, UpdateMode mode, Stream s) {
  Shape region = region_shape(start, stop, strides);
  array upd = broadcast_to(astype(update, src.dtype(), s), region, s);
  return make_node<SliceUpdate>(src.shape(), src.dtype(), {src, upd}, s, start, stop, strides, mode);
}

// Inserts the full range of a batch of n at axis b into a region's start/stop/strides.
void insert_batch_range(Shape& start, Shape& stop, Shape& strides, int b, int n) {
  start.insert(start.begin() + b, 0);
  stop.insert(stop.begin() + b, n);
  strides.insert(strides.begin() + b, 1);
}

// Position of input axis `ax` once a batch axis sits at `b`.
int shifted(int ax, int b) { return ax >= b ? ax + 1 : ax; }

// The tangent of primal i, or nullptr when it has none.
const array* tangent_of(const std::vector<array>& tangents, const std::vector<int>& argnums, int i) {
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == i) return &tangents[k];
  }
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------- Reshape

std::vector<array> Reshape::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>&) const {
  return {reshape(cotangents[0], primals[0].shape(), stream())};
}

std::vector<array> Reshape::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                const std::vector<int>&) const {
  return {reshape(tangents[0], shape_, stream())};
}

Rule Reshape::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  // Row-major order keeps each batch entry contiguous only with the batch axis in front.
  array x = batch_at(inputs[0], axes[0], 0, 0, stream());
  Shape shape = shape_;
  shape.insert(shape.begin(), x.shape(0));
  return {{reshape(x, shape, stream())}, {0}};
}

// ---------------------------------------------------------------- Transpose

std::vector<array> Transpose::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) const {
  std::vector<int> inverse(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inverse[axes_[i]] = int(i);
  return {transpose(cotangents[0], inverse, stream())};
}

std::vector<array> Transpose::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) const {
  return {transpose(tangents[0], axes_, stream())};
}

Rule Transpose::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  int b = axes[0];
  std::vector<int> perm{b};
  for (int a : axes_) perm.push_back(shifted(a, b));
  return {{transpose(inputs[0], perm, stream())}, {0}};
}

// ---------------------------------------------------------------- Broadcast

std::vector<array> Broadcast::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) const {
  const Shape& in = primals[0].shape();
  int lead = int(shape_.size() - in.size());
  std::vector<int> reduced;
  for (int i = 0; i < int(shape_.size()); ++i) {
    if (i < lead || (in[i - lead] == 1 && shape_[i] != 1)) reduced.push_back(i);
  }
  array g = cotangents[0];
  if (!reduced.empty()) g = sum(g, reduced, true, stream());
  return {reshape(g, in, stream())};
}

std::vector<array> Broadcast::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) const {
  return {broadcast_to(tangents[0], shape_, stream())};
}

Rule Broadcast::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  // Batch in front, then the unit axes that broadcasting would have prepended.
  array x = batch_at(inputs[0], axes[0], 0, 0, stream());
  int n = x.shape(0);
  Shape expanded{n};
  for (size_t i = x.ndim() - 1; i < shape_.size(); ++i) expanded.push_back(1);
  expanded.insert(expanded.end(), x.shape().begin() + 1, x.shape().end());
  Shape target = shape_;
  target.insert(target.begin(), n);
  return {{broadcast_to(reshape(x, expanded, stream()), target, stream())}, {0}};
}

// ---------------------------------------------------------------- Slice

std::vector<array> Slice::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>&, const std::vector<array>&) const {
  const array& x = primals[0];
  return {slice_update_node(zeros_view(x.shape(), x.dtype(), stream()), cotangents[0], start_, stop_, strides_,
                            UpdateMode::Set, stream())};
}

std::vector<array> Slice::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                              const std::vector<int>&) const {
  return {slice_node(tangents[0], start_, stop_, strides_, stream())};
}

Rule Slice::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  int b = axes[0];
  Shape start = start_, stop = stop_, strides = strides_;
  insert_batch_range(start, stop, strides, b, inputs[0].shape(b));
  return {{slice_node(inputs[0], start, stop, strides, stream())}, {b}};
}

// ---------------------------------------------------------------- AsStrided

namespace {

// Flat positions in the (row-contiguous) input that each output element reads.
array strided_positions(const Shape& shape, const Strides& strides, size_t offset, size_t input_size,
                        StreamOrDevice s) {
  Dtype idx = input_size > size_t(INT32_MAX) ? int64 : int32;
  array pos = array(int64_t(offset), idx);
  for (size_t i = 0; i < shape.size(); ++i) {
    Shape along(shape.size(), 1);
    along[i] = shape[i];
    array step = multiply(arange(0.0, double(shape[i]), 1.0, idx, s), array(strides[i], idx), s);
    pos = add(pos, reshape(step, along, s), s);
  }
  return broadcast_to(pos, shape, s);
}

}  // namespace

std::vector<array> AsStrided::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) const {
  // Windows may overlap, so every output element adds its cotangent to the element it read.
  const array& x = primals[0];
  const array& g = cotangents[0];
  array flat = zeros({int(x.size())}, g.dtype(), stream());
  if (g.size() > 0) {
    array pos = strided_positions(shape_, strides_, offset_, x.size(), stream());
    flat = scatter_add(flat, {pos}, expand_dims(g, -1, stream()), {0}, stream());
  }
  return {reshape(flat, x.shape(), stream())};
}

std::vector<array> AsStrided::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) const {
  return {as_strided(tangents[0], shape_, strides_, offset_, stream())};
}

Rule AsStrided::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  // With the batch in front and made contiguous, entry j starts j * size elements further on.
  array x = batch_at(inputs[0], axes[0], 0, 0, stream());
  int n = x.shape(0);
  int64_t per_entry = n > 0 ? int64_t(x.size() / size_t(n)) : 0;
  Shape shape = shape_;
  shape.insert(shape.begin(), n);
  Strides strides = strides_;
  strides.insert(strides.begin(), per_entry);
  return {{as_strided(x, shape, strides, offset_, stream())}, {0}};
}

// ---------------------------------------------------------------- View

// Reinterpreting bits has no derivative: cotangents and tangents through it are zero.
std::vector<array> View::vjp(const std::vector<array>& primals, const std::vector<array>&, const std::vector<int>&,
                             const std::vector<array>&) const {
  return {zeros_like(primals[0], stream())};
}

std::vector<array> View::jvp(const std::vector<array>& primals, const std::vector<array>&,
                             const std::vector<int>&) const {
  return {zeros_like(view(primals[0], dtype_, stream()), stream())};
}

Rule View::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  // A change of item size rescales the last axis, which must not be the batch axis.
  array x = inputs[0];
  int b = axes[0];
  if (x.itemsize() != size_of(dtype_) && b == int(x.ndim()) - 1) {
    x = moveaxis(x, b, 0, stream());
    b = 0;
  }
  return {{view(x, dtype_, stream())}, {b}};
}

// ---------------------------------------------------------------- Contiguous

std::vector<array> Contiguous::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                   const std::vector<int>&, const std::vector<array>&) const {
  return {cotangents[0]};
}

std::vector<array> Contiguous::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                   const std::vector<int>&) const {
  return {contiguous(tangents[0], allow_col_major_, stream())};
}

Rule Contiguous::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  return {{contiguous(inputs[0], allow_col_major_, stream())}, {axes[0]}};
}

// ---------------------------------------------------------------- Concatenate

std::vector<array> Concatenate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) const {
  const array& g = cotangents[0];
  std::vector<int> offsets{0};
  for (auto& p : primals) offsets.push_back(offsets.back() + p.shape(axis_));
  std::vector<array> out;
  for (int i : argnums) {
    Shape start(g.ndim(), 0), stop = g.shape();
    start[axis_] = offsets[i];
    stop[axis_] = offsets[i + 1];
    out.push_back(slice(g, start, stop, stream()));
  }
  return out;
}

std::vector<array> Concatenate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) const {
  std::vector<array> parts;
  for (size_t i = 0; i < primals.size(); ++i) {
    const array* t = tangent_of(tangents, argnums, int(i));
    parts.push_back(t ? *t : zeros_like(primals[i], stream()));
  }
  return {concatenate(parts, axis_, stream())};
}

Rule Concatenate::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  bool same = true;
  for (int a : axes) same = same && a == axes[0];
  int b = same ? axes[0] : 0;
  int n = batch_size(inputs, axes);
  std::vector<array> parts;
  for (size_t i = 0; i < inputs.size(); ++i) parts.push_back(batch_at(inputs[i], axes[i], b, n, stream()));
  return {{concatenate(parts, shifted(axis_, b), stream())}, {b}};
}

// ---------------------------------------------------------------- Pad

namespace {

// Start/stop/strides of the input's place inside the padded output.
void interior(const Shape& in_shape, const std::vector<int>& axes, const Shape& low, Shape& start, Shape& stop,
              Shape& strides) {
  start.assign(in_shape.size(), 0);
  stop = in_shape;
  strides.assign(in_shape.size(), 1);
  for (size_t i = 0; i < axes.size(); ++i) {
    start[axes[i]] = low[i];
    stop[axes[i]] = low[i] + in_shape[axes[i]];
  }
}

}  // namespace

std::vector<array> Pad::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                            const std::vector<int>& argnums, const std::vector<array>&) const {
  const array& g = cotangents[0];
  Shape start, stop, strides;
  interior(primals[0].shape(), axes_, low_, start, stop, strides);
  std::vector<array> out;
  for (int i : argnums) {
    if (i == 0) {
      out.push_back(slice_node(g, start, stop, strides, stream()));
    } else {
      // The pad value fills everything outside the interior; blanking the interior (rather than
      // subtracting its sum from the total) keeps the sum exact.
      Shape region = region_shape(start, stop, strides);
      array outside = slice_update_node(g, zeros_view(region, g.dtype(), stream()), start, stop, strides,
                                        UpdateMode::Set, stream());
      out.push_back(sum(outside, false, stream()));
    }
  }
  return out;
}

std::vector<array> Pad::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>& argnums) const {
  const array* ta = tangent_of(tangents, argnums, 0);
  const array* tv = tangent_of(tangents, argnums, 1);
  array a = ta ? *ta : zeros_like(primals[0], stream());
  array v = tv ? *tv : zeros_like(primals[1], stream());
  return {pad(a, axes_, low_, high_, v, "constant", stream())};
}

Rule Pad::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  int b = axes[0] >= 0 ? axes[0] : 0;
  int n = batch_size(inputs, axes);
  array a = batch_at(inputs[0], axes[0], b, n, stream());
  std::vector<int> pad_axes;
  for (int ax : axes_) pad_axes.push_back(shifted(ax, b));
  if (axes[1] < 0) return {{pad(a, pad_axes, low_, high_, inputs[1], "constant", stream())}, {b}};

  // One pad value per batch entry: fill the output with them, then write the input inside.
  Shape out_shape = a.shape();
  for (size_t i = 0; i < pad_axes.size(); ++i) out_shape[pad_axes[i]] += low_[i] + high_[i];
  Shape along(out_shape.size(), 1);
  along[b] = n;
  array filled = broadcast_to(reshape(inputs[1], along, stream()), out_shape, stream());
  Shape start, stop, strides;
  interior(a.shape(), pad_axes, low_, start, stop, strides);
  return {{slice_update_node(filled, a, start, stop, strides, UpdateMode::Set, stream())}, {b}};
}

// ---------------------------------------------------------------- SliceUpdate
//
// Set and Add have their exact derivatives. Prod: d(src*u) = u*dsrc + src*du inside the region.
// Max and Min route the derivative to whichever side was kept; on ties the source keeps it (the
// value is the same either way, so only the split of the derivative is a convention).

namespace {

// Where the region of src was kept by a Max/Min update.
array source_kept(const array& src_region, const array& update, UpdateMode mode, StreamOrDevice s) {
  return mode == UpdateMode::Max ? greater_equal(src_region, update, s) : less_equal(src_region, update, s);
}

}  // namespace

std::vector<array> SliceUpdate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) const {
  const array& src = primals[0];
  const array& upd = primals[1];
  const array& g = cotangents[0];
  Stream s = stream();
  array g_region = slice_node(g, start_, stop_, strides_, s);
  std::vector<array> out;
  for (int i : argnums) {
    bool for_src = i == 0;
    switch (mode_) {
      case UpdateMode::Set:
        out.push_back(for_src ? slice_update_node(g, zeros_view(upd.shape(), g.dtype(), s), start_, stop_, strides_,
                                                  UpdateMode::Set, s)
                              : g_region);
        break;
      case UpdateMode::Add:
        out.push_back(for_src ? g : g_region);
        break;
      case UpdateMode::Prod:
        out.push_back(for_src ? slice_update_node(g, upd, start_, stop_, strides_, UpdateMode::Prod, s)
                              : multiply(g_region, slice_node(src, start_, stop_, strides_, s), s));
        break;
      case UpdateMode::Max:
      case UpdateMode::Min: {
        array kept = source_kept(slice_node(src, start_, stop_, strides_, s), upd, mode_, s);
        array zero = array(0, g.dtype());
        if (for_src) {
          out.push_back(slice_update_node(g, where(kept, g_region, zero, s), start_, stop_, strides_,
                                          UpdateMode::Set, s));
        } else {
          out.push_back(where(kept, zero, g_region, s));
        }
        break;
      }
    }
  }
  return out;
}

std::vector<array> SliceUpdate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) const {
  const array& src = primals[0];
  const array& upd = primals[1];
  const array* ts = tangent_of(tangents, argnums, 0);
  const array* tu = tangent_of(tangents, argnums, 1);
  Stream s = stream();
  array t_src = ts ? *ts : zeros_like(src, s);
  switch (mode_) {
    case UpdateMode::Set:
      return {slice_update_node(t_src, tu ? *tu : zeros_view(upd.shape(), src.dtype(), s), start_, stop_, strides_,
                                UpdateMode::Set, s)};
    case UpdateMode::Add:
      return {tu ? slice_update_node(t_src, *tu, start_, stop_, strides_, UpdateMode::Add, s) : t_src};
    case UpdateMode::Prod: {
      array t = ts ? slice_update_node(*ts, upd, start_, stop_, strides_, UpdateMode::Prod, s) : t_src;
      if (tu) {
        array src_region = slice_node(src, start_, stop_, strides_, s);
        t = slice_update_node(t, multiply(*tu, src_region, s), start_, stop_, strides_, UpdateMode::Add, s);
      }
      return {t};
    }
    case UpdateMode::Max:
    case UpdateMode::Min: {
      array kept = source_kept(slice_node(src, start_, stop_, strides_, s), upd, mode_, s);
      array t_region = where(kept, slice_node(t_src, start_, stop_, strides_, s),
                             tu ? *tu : zeros_view(upd.shape(), src.dtype(), s), s);
      return {slice_update_node(t_src, t_region, start_, stop_, strides_, UpdateMode::Set, s)};
    }
  }
  return {};
}

Rule SliceUpdate::vmap(const std::vector<array>& inputs, const std::vector<int>& axes) const {
  int b = axes[0] >= 0 ? axes[0] : 0;
  int n = batch_size(inputs, axes);
  array src = batch_at(inputs[0], axes[0], b, n, stream());
  array upd = batch_at(inputs[1], axes[1], b, n, stream());
  Shape start = start_, stop = stop_, strides = strides_;
  insert_batch_range(start, stop, strides, b, n);
  return {{slice_update_node(src, upd, start, stop, strides, mode_, stream())}, {b}};
}

}  // namespace tessera
