// Primitives that produce arrays from parameters alone.
#pragma once

#include <utility>
#include <vector>

#include "primitives/primitive.h"

namespace tessera {

// out[i] = start + i * step, computed in float64 then converted (as NumPy does). It has no
// inputs, so no transform ever reaches it (derivative and batching rules act on nodes that
// depend on a traced input) and it needs no rules.
class Arange : public Primitive {
 public:
  Arange(Stream s, double start, double stop, double step) : Primitive(s), start_(start), stop_(stop), step_(step) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Arange; }
  const char* name() const override { return "arange"; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& a = static_cast<const Arange&>(o);
    return a.start_ == start_ && a.stop_ == stop_ && a.step_ == step_;
  }
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
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
};

}  // namespace tessera
