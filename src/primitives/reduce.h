// Reductions, arg-reductions and scans.
#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

enum class ReduceOp : uint8_t { Sum, Prod, Max, Min, And, Or, Count };

const char* reduce_op_name(ReduceOp op);

// Reduces `axes` (sorted, normalized); the output keeps them as size-1 dims (ops squeeze).
// Derivatives: prod is exact with zeros in the input (products of the other elements, no
// division); max/min send the cotangent to the positions equal to the result, split evenly
// between ties (MLX's convention); all/any have none.
class Reduce : public Primitive {
 public:
  Reduce(Stream s, ReduceOp op, std::vector<int> axes) : Primitive(s), op_(op), axes_(std::move(axes)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Reduce; }
  const char* name() const override { return reduce_op_name(op_); }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const Reduce&>(o).op_ == op_ && static_cast<const Reduce&>(o).axes_ == axes_;
  }
  ReduceOp op() const { return op_; }
  const std::vector<int>& axes() const { return axes_; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  ReduceOp op_;
  std::vector<int> axes_;
};

enum class ArgReduceOp : uint8_t { ArgMin, ArgMax, Count };

// Index (uint32) of the first min/max along `axis`; NaN counts as the extreme, as in NumPy.
// Not differentiable: cotangents and tangents are zero.
class ArgReduce : public Primitive {
 public:
  ArgReduce(Stream s, ArgReduceOp op, int axis) : Primitive(s), op_(op), axis_(axis) {}
  PrimitiveKind kind() const override { return PrimitiveKind::ArgReduce; }
  const char* name() const override { return op_ == ArgReduceOp::ArgMin ? "argmin" : "argmax"; }
  ArgReduceOp op() const { return op_; }
  int axis() const { return axis_; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& r = static_cast<const ArgReduce&>(o);
    return r.op_ == op_ && r.axis_ == axis_;
  }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  ArgReduceOp op_;
  int axis_;
};

enum class ScanOp : uint8_t { Sum, Prod, Max, Min, LogAddExp, Count };

// Cumulative op along `axis`; exclusive scans start from the identity. Derivatives: cumprod is
// exact with zeros; cummax/cummin send each output's cotangent to the element holding the
// running extreme, split evenly between ties (as Reduce's max/min); logcumsumexp stays finite
// for large inputs (log-domain rule, cotangent split by sign).
class Scan : public Primitive {
 public:
  Scan(Stream s, ScanOp op, int axis, bool reverse, bool inclusive)
      : Primitive(s), op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Scan; }
  const char* name() const override;
  ScanOp op() const { return op_; }
  int axis() const { return axis_; }
  bool reverse() const { return reverse_; }
  bool inclusive() const { return inclusive_; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& r = static_cast<const Scan&>(o);
    return r.op_ == op_ && r.axis_ == axis_ && r.reverse_ == reverse_ && r.inclusive_ == inclusive_;
  }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  ScanOp op_;
  int axis_;
  bool reverse_, inclusive_;
};

}  // namespace tessera
