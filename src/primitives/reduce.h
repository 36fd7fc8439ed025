// Reductions, arg-reductions and scans.
#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

enum class ReduceOp : uint8_t { Sum, Prod, Max, Min, And, Or, Count };

const char* reduce_op_name(ReduceOp op);

// Reduces `axes` (sorted, normalized); the output keeps them as size-1 dims (ops squeeze).
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

 private:
  ReduceOp op_;
  std::vector<int> axes_;
};

enum class ArgReduceOp : uint8_t { ArgMin, ArgMax, Count };

// Index (uint32) of the first min/max along `axis`; NaN counts as the extreme, as in NumPy.
class ArgReduce : public Primitive {
 public:
  ArgReduce(Stream s, ArgReduceOp op, int axis) : Primitive(s), op_(op), axis_(axis) {}
  PrimitiveKind kind() const override { return PrimitiveKind::ArgReduce; }
  const char* name() const override { return op_ == ArgReduceOp::ArgMin ? "argmin" : "argmax"; }
  ArgReduceOp op() const { return op_; }
  int axis() const { return axis_; }

 private:
  ArgReduceOp op_;
  int axis_;
};

enum class ScanOp : uint8_t { Sum, Prod, Max, Min, LogAddExp, Count };

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

 private:
  ScanOp op_;
  int axis_;
  bool reverse_, inclusive_;
};

}  // namespace tessera
