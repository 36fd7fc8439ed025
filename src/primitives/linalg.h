// Matrix products.
#pragma once

#include "primitives/primitive.h"

namespace tessera {

// Batched a[..., M, K] @ b[..., K, N]; batch dims already broadcast to the same shape.
class Matmul : public Primitive {
 public:
  using Primitive::Primitive;
  PrimitiveKind kind() const override { return PrimitiveKind::Matmul; }
  const char* name() const override { return "matmul"; }
  bool is_equivalent(const Primitive& o) const override { return o.kind() == kind(); }
};

// alpha * (a @ b) + beta * c, inputs {a, b, c} with c broadcast to the output shape.
class AddMM : public Primitive {
 public:
  AddMM(Stream s, float alpha, float beta) : Primitive(s), alpha_(alpha), beta_(beta) {}
  PrimitiveKind kind() const override { return PrimitiveKind::AddMM; }
  const char* name() const override { return "addmm"; }
  float alpha() const { return alpha_; }
  float beta() const { return beta_; }

 private:
  float alpha_, beta_;
};

}  // namespace tessera
