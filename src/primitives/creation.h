// Primitives that produce arrays from parameters alone.
#pragma once

#include "primitives/primitive.h"

namespace tessera {

// out[i] = start + i * step, computed in float64 then converted (as NumPy does).
class Arange : public Primitive {
 public:
  Arange(Stream s, double start, double stop, double step) : Primitive(s), start_(start), stop_(stop), step_(step) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Arange; }
  const char* name() const override { return "arange"; }
  double start() const { return start_; }
  double step() const { return step_; }
  double stop() const { return stop_; }

 private:
  double start_, stop_, step_;
};

// Fills the output with its single input broadcast (a materialized broadcast).
class Full : public Primitive {
 public:
  using Primitive::Primitive;
  PrimitiveKind kind() const override { return PrimitiveKind::Full; }
  const char* name() const override { return "full"; }
  bool is_equivalent(const Primitive& o) const override { return o.kind() == kind(); }
};

}  // namespace tessera
