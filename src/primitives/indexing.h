// Indexing primitives: gathers and scatters driven by integer index arrays. Index semantics
// shared by all of them: a negative index i wraps once to i + dim; an index still outside the
// axis after that is clamped into range (no bounds checking at run time, as in MLX, but never
// an out-of-bounds access). Slices addressed by gather/scatter are clamped so they fit.
#pragma once

#include <vector>

#include "primitives/primitive.h"
#include "primitives/shape.h"

namespace tessera {

// Inputs: {a, idx_0, ..., idx_{k-1}} (indices pre-broadcast to one shape, integer dtypes).
// Output: idx_shape + slice_sizes; element [i..., j...] = a[idx_0[i]+j_axes0, ...].
class Gather : public Primitive {
 public:
  Gather(Stream s, std::vector<int> axes, Shape slice_sizes)
      : Primitive(s), axes_(std::move(axes)), slice_sizes_(std::move(slice_sizes)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Gather; }
  const char* name() const override { return "gather"; }
  bool is_equivalent(const Primitive& o) const override {
    auto& g = static_cast<const Gather&>(o);
    return o.kind() == kind() && g.axes_ == axes_ && g.slice_sizes_ == slice_sizes_;
  }
  const std::vector<int>& axes() const { return axes_; }
  const Shape& slice_sizes() const { return slice_sizes_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  std::vector<int> axes_;
  Shape slice_sizes_;
};

// Inputs: {a, idx_0, ..., idx_{k-1}, updates}; updates has shape idx_shape + slice shape
// (a.ndim dims). Writes (or combines, per mode) each update slice into a copy of a.
class Scatter : public Primitive {
 public:
  Scatter(Stream s, std::vector<int> axes, UpdateMode mode) : Primitive(s), axes_(std::move(axes)), mode_(mode) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Scatter; }
  const char* name() const override { return "scatter"; }
  bool is_equivalent(const Primitive& o) const override {
    auto& g = static_cast<const Scatter&>(o);
    return o.kind() == kind() && g.axes_ == axes_ && g.mode_ == mode_;
  }
  const std::vector<int>& axes() const { return axes_; }
  UpdateMode mode() const { return mode_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  std::vector<int> axes_;
  UpdateMode mode_;
};

// Inputs: {a, indices}, both of the output's shape except along `axis` (a keeps its own size
// there). out[..., j, ...] = a[..., indices[..., j, ...], ...].
class GatherAxis : public Primitive {
 public:
  GatherAxis(Stream s, int axis) : Primitive(s), axis_(axis) {}
  PrimitiveKind kind() const override { return PrimitiveKind::GatherAxis; }
  const char* name() const override { return "take_along_axis"; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const GatherAxis&>(o).axis_ == axis_;
  }
  int axis() const { return axis_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  int axis_;
};

// Inputs: {a, indices, updates}; indices and updates share a shape equal to a's except along
// `axis`. out = a; out[..., indices[..., j, ...], ...] (op)= updates[..., j, ...].
class ScatterAxis : public Primitive {
 public:
  ScatterAxis(Stream s, int axis, UpdateMode mode) : Primitive(s), axis_(axis), mode_(mode) {}
  PrimitiveKind kind() const override { return PrimitiveKind::ScatterAxis; }
  const char* name() const override { return "put_along_axis"; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& s = static_cast<const ScatterAxis&>(o);
    return s.axis_ == axis_ && s.mode_ == mode_;
  }
  int axis() const { return axis_; }
  UpdateMode mode() const { return mode_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  int axis_;
  UpdateMode mode_;
};

// Inputs: {a, mask (bool, a's shape), src (a's dtype)}. Positions where mask is true take the
// next element of src in row-major order; if src runs out, the remaining positions keep a.
class MaskedScatter : public Primitive {
 public:
  explicit MaskedScatter(Stream s) : Primitive(s) {}
  PrimitiveKind kind() const override { return PrimitiveKind::MaskedScatter; }
  const char* name() const override { return "masked_scatter"; }
  bool is_equivalent(const Primitive& o) const override { return o.kind() == kind(); }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
};

// out = a with out[..., indices[..., j, ...], ...] += updates[..., j, ...] along `axis`
// (indices and updates of one shape, a's except along axis): the transpose of take_along_axis,
// for rules (the public ops only put).
array scatter_add_along_axis(const array& a, const array& indices, const array& updates, int axis, Stream s);

}  // namespace tessera
