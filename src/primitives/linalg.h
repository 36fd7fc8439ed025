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
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
};

// alpha * (a @ b) + beta * c, inputs {a, b, c} with c broadcast to the output shape.
class AddMM : public Primitive {
 public:
  AddMM(Stream s, float alpha, float beta) : Primitive(s), alpha_(alpha), beta_(beta) {}
  PrimitiveKind kind() const override { return PrimitiveKind::AddMM; }
  const char* name() const override { return "addmm"; }
  float alpha() const { return alpha_; }
  float beta() const { return beta_; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& m = static_cast<const AddMM&>(o);
    return m.alpha_ == alpha_ && m.beta_ == beta_;
  }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  float alpha_, beta_;
};

}  // namespace tessera
