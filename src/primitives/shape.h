// Primitives that change how elements are laid out. Views (reshape when the strides allow,
// transpose, broadcast, slice, as_strided) share the input buffer; the rest copy.
#pragma once

#include <utility>
#include <vector>

#include "primitives/primitive.h"

namespace tessera {


class Reshape : public Primitive {
 public:
  Reshape(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Reshape; }
  const char* name() const override { return "reshape"; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const Reshape&>(o).shape_ == shape_;
  }
  const Shape& shape() const { return shape_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  Shape shape_;
};

class Transpose : public Primitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : Primitive(s), axes_(std::move(axes)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Transpose; }
  const char* name() const override { return "transpose"; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const Transpose&>(o).axes_ == axes_;
  }
  const std::vector<int>& axes() const { return axes_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  std::vector<int> axes_;
};

class Broadcast : public Primitive {
 public:
  Broadcast(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Broadcast; }
  const char* name() const override { return "broadcast_to"; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const Broadcast&>(o).shape_ == shape_;
  }
  const Shape& shape() const { return shape_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  Shape shape_;
};

// start/stop/strides are normalized by the op: 0 <= start, and stop is exclusive in the
// direction of a (possibly negative) stride.
class Slice : public Primitive {
 public:
  Slice(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), strides_(std::move(strides)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Slice; }
  const char* name() const override { return "slice"; }
  bool is_equivalent(const Primitive& o) const override {
    auto& s = static_cast<const Slice&>(o);
    return o.kind() == kind() && s.start_ == start_ && s.stop_ == stop_ && s.strides_ == strides_;
  }
  const Shape& start() const { return start_; }
  const Shape& stop() const { return stop_; }
  const Shape& strides() const { return strides_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  Shape start_, stop_, strides_;
};

class AsStrided : public Primitive {
 public:
  AsStrided(Stream s, Shape shape, Strides strides, size_t offset)
      : Primitive(s), shape_(std::move(shape)), strides_(std::move(strides)), offset_(offset) {}
  PrimitiveKind kind() const override { return PrimitiveKind::AsStrided; }
  const char* name() const override { return "as_strided"; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& a = static_cast<const AsStrided&>(o);
    return a.shape_ == shape_ && a.strides_ == strides_ && a.offset_ == offset_;
  }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  size_t offset() const { return offset_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  Shape shape_;
  Strides strides_;
  size_t offset_;
};

// Reinterprets bytes as another dtype. Bits have no derivative: tangents and cotangents are zero.
class View : public Primitive {
 public:
  View(Stream s, Dtype dtype) : Primitive(s), dtype_(dtype) {}
  PrimitiveKind kind() const override { return PrimitiveKind::View; }
  const char* name() const override { return "view"; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const View&>(o).dtype_ == dtype_;
  }
  Dtype dtype() const { return dtype_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  Dtype dtype_;
};

class Contiguous : public Primitive {
 public:
  Contiguous(Stream s, bool allow_col_major) : Primitive(s), allow_col_major_(allow_col_major) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Contiguous; }
  const char* name() const override { return "contiguous"; }
  bool allow_col_major() const { return allow_col_major_; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const Contiguous&>(o).allow_col_major_ == allow_col_major_;
  }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  bool allow_col_major_;
};

class Concatenate : public Primitive {
 public:
  Concatenate(Stream s, int axis) : Primitive(s), axis_(axis) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Concatenate; }
  const char* name() const override { return "concatenate"; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const Concatenate&>(o).axis_ == axis_;
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

// Inputs: {a, pad_value (0-d, a's dtype)}. Constant mode only; edge mode is composed by the op.
class Pad : public Primitive {
 public:
  Pad(Stream s, std::vector<int> axes, Shape low, Shape high)
      : Primitive(s), axes_(std::move(axes)), low_(std::move(low)), high_(std::move(high)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Pad; }
  const char* name() const override { return "pad"; }
  const std::vector<int>& axes() const { return axes_; }
  const Shape& low() const { return low_; }
  const Shape& high() const { return high_; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& p = static_cast<const Pad&>(o);
    return p.axes_ == axes_ && p.low_ == low_ && p.high_ == high_;
  }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  std::vector<int> axes_;
  Shape low_, high_;
};

enum class UpdateMode : uint8_t { Set, Add, Prod, Max, Min };

// Inputs: {src, update}; writes `update` (broadcast to the slice's shape) into a copy of src.
// Derivatives: exact for Set, Add and Prod; Max and Min send the derivative to the side that was
// kept, the source on ties. start/stop/strides are normalized as in Slice.
class SliceUpdate : public Primitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape stop, Shape strides, UpdateMode mode)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), strides_(std::move(strides)), mode_(mode) {}
  PrimitiveKind kind() const override { return PrimitiveKind::SliceUpdate; }
  const char* name() const override { return "slice_update"; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& u = static_cast<const SliceUpdate&>(o);
    return u.start_ == start_ && u.stop_ == stop_ && u.strides_ == strides_ && u.mode_ == mode_;
  }
  const Shape& start() const { return start_; }
  const Shape& stop() const { return stop_; }
  const Shape& strides() const { return strides_; }
  UpdateMode mode() const { return mode_; }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
 private:
  Shape start_, stop_, strides_;
  UpdateMode mode_;
};

}  // namespace tessera
