// Fused primitives: softmax, rms_norm, layer_norm, rope and scaled dot-product attention. Each
// carries its composite from plain ops in decompose(), used on backends without a kernel.
#pragma once

#include <optional>
#include <string>

#include "primitives/primitive.h"

namespace tessera {

namespace detail {
// For the vmap rules of primitives that work along the last axis: a batch axis sitting there
// moves to the front (and `axis` follows it); any other axis, or -1 (not batched), stays.
array keep_last_axis(const array& x, int& axis, const Stream& s);
}  // namespace detail

// Softmax over the last axis. precise: 16-bit inputs are computed in float32 in the composite
// (the fused kernel always accumulates in float32).
class Softmax : public Primitive {
 public:
  Softmax(Stream s, bool precise) : Primitive(s), precise_(precise) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Softmax; }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // Rules in softmax_rules.cpp: the closed form y * (g - sum(g * y)), not the decomposition.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const Softmax&>(o).precise_ == precise_;
  }
  bool precise() const { return precise_; }

 private:
  bool precise_;
};

// log(sum(exp(x))) over the last axis, kept (output [..., 1]); 16-bit inputs are computed in
// float32 and rounded once. A row whose maximum is infinite is summed unshifted, so +inf gives
// +inf and an all -inf row gives -inf; NaN stays NaN. Its gradient is softmax(x) times the
// cotangent (one Softmax node and a product instead of the composite's chain).
class LogSumExp : public Primitive {
 public:
  explicit LogSumExp(Stream s) : Primitive(s) {}
  PrimitiveKind kind() const override { return PrimitiveKind::LogSumExp; }
  bool is_equivalent(const Primitive& o) const override { return o.kind() == kind(); }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
};

// inputs: x, weight [D] (ones when absent). Normalizes the last axis.
class RMSNorm : public Primitive {
 public:
  RMSNorm(Stream s, float eps) : Primitive(s), eps_(eps) {}
  PrimitiveKind kind() const override { return PrimitiveKind::RMSNorm; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const RMSNorm&>(o).eps_ == eps_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // Closed-form rules (src/primitives/fast_rules.cpp), computed in float32 for 16-bit inputs.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  float eps() const { return eps_; }

 private:
  float eps_;
};

// The gradient of rms_norm. inputs: x, weight [D], the output's cotangent; outputs: the
// gradients of x and of the weight. Its decomposition is the closed form (fast_rules.cpp); the
// CPU kernel computes both in one pass over each row instead of a dozen full-size elementwise
// passes, in float32 for 16-bit inputs.
class RMSNormVjp : public Primitive {
 public:
  RMSNormVjp(Stream s, float eps) : Primitive(s), eps_(eps) {}
  PrimitiveKind kind() const override { return PrimitiveKind::RMSNormVjp; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const RMSNormVjp&>(o).eps_ == eps_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  float eps() const { return eps_; }

 private:
  float eps_;
};

// inputs: x, weight [D], bias [D] (ones / zeros when absent).
class LayerNorm : public Primitive {
 public:
  LayerNorm(Stream s, float eps) : Primitive(s), eps_(eps) {}
  PrimitiveKind kind() const override { return PrimitiveKind::LayerNorm; }
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const LayerNorm&>(o).eps_ == eps_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // Closed-form rules (src/primitives/fast_rules.cpp), computed in float32 for 16-bit inputs.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  float eps() const { return eps_; }

 private:
  float eps_;
};

// inputs: x [..., L, D], offset (int32 scalar), inv_freqs float32 [dims/2] (already divided by
// scale handling: angle(p, i) = (offset + p) * scale * inv_freqs[i]).
class RoPE : public Primitive {
 public:
  RoPE(Stream s, int dims, bool traditional, float scale)
      : Primitive(s), dims_(dims), traditional_(traditional), scale_(scale) {}
  PrimitiveKind kind() const override { return PrimitiveKind::RoPE; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& r = static_cast<const RoPE&>(o);
    return r.dims_ == dims_ && r.traditional_ == traditional_ && r.scale_ == scale_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // The rotation is orthogonal: x's cotangent is the cotangent rotated back, one RoPE node with
  // the angles negated (scale -> -scale). Offset and frequencies keep the default rules.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  int dims() const { return dims_; }
  bool traditional() const { return traditional_; }
  float scale() const { return scale_; }

 private:
  int dims_;
  bool traditional_;
  float scale_;
};

// inputs: q, k, v, then the mask (when has_mask; bool or additive, broadcast to [B,Hq,Lq,Lk]),
// then sinks [Hq] (when has_sinks).
class ScaledDotProductAttention : public Primitive {
 public:
  ScaledDotProductAttention(Stream s, float scale, bool causal, bool has_mask, bool has_sinks)
      : Primitive(s), scale_(scale), causal_(causal), has_mask_(has_mask), has_sinks_(has_sinks) {}
  PrimitiveKind kind() const override { return PrimitiveKind::ScaledDotProductAttention; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& a = static_cast<const ScaledDotProductAttention&>(o);
    return a.scale_ == scale_ && a.causal_ == causal_ && a.has_mask_ == has_mask_ && a.has_sinks_ == has_sinks_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // In float32 without a mask array or sinks, the gradient w.r.t. q, k and v is one fused node
  // (ScaledDotProductAttentionVjp); otherwise the composite is differentiated.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  float scale() const { return scale_; }
  bool causal() const { return causal_; }
  bool has_mask() const { return has_mask_; }
  bool has_sinks() const { return has_sinks_; }

 private:
  float scale_;
  bool causal_, has_mask_, has_sinks_;
};

// The gradient of unmasked (or causal) attention. inputs: q, k, v, the forward output o and its
// cotangent; outputs: the gradients of q, k and v. Its decomposition differentiates the
// forward composite; the CPU kernel recomputes the attention weights block by block and never
// writes a [Lq, Lk] array to memory.
class ScaledDotProductAttentionVjp : public Primitive {
 public:
  ScaledDotProductAttentionVjp(Stream s, float scale, bool causal) : Primitive(s), scale_(scale), causal_(causal) {}
  PrimitiveKind kind() const override { return PrimitiveKind::ScaledDotProductAttentionVjp; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& a = static_cast<const ScaledDotProductAttentionVjp&>(o);
    return a.scale_ == scale_ && a.causal_ == causal_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  float scale() const { return scale_; }
  bool causal() const { return causal_; }

 private:
  float scale_;
  bool causal_;
};

// Attention weights from raw scores [..., Lq, Lk]: softmax(scale * scores) over the keys each
// query may see (causal: key j is visible to query i when j <= i + Lk - Lq), computed in float32
// and returned in the node's dtype; hidden keys get weight 0 (a query that sees no key gets NaN,
// as the masked softmax of the composite does). The composite gradient of attention uses it so
// that the scaling, masking, softmax and their gradient are one pass each over the [Lq, Lk]
// scores instead of a chain of float32 elementwise passes.
class AttentionWeights : public Primitive {
 public:
  AttentionWeights(Stream s, float scale, bool causal, Dtype out)
      : Primitive(s), scale_(scale), causal_(causal), out_(out) {}
  PrimitiveKind kind() const override { return PrimitiveKind::AttentionWeights; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& a = static_cast<const AttentionWeights&>(o);
    return a.scale_ == scale_ && a.causal_ == causal_ && a.out_ == out_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // One AttentionWeightsVjp node.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  float scale() const { return scale_; }
  bool causal() const { return causal_; }

 private:
  float scale_;
  bool causal_;
  Dtype out_;
};

// The scores' gradient: inputs the weights P and their cotangent G; output (in the scores'
// dtype) scale * P * (G - rowsum(G * P)), computed in float32.
class AttentionWeightsVjp : public Primitive {
 public:
  AttentionWeightsVjp(Stream s, float scale, Dtype out) : Primitive(s), scale_(scale), out_(out) {}
  PrimitiveKind kind() const override { return PrimitiveKind::AttentionWeightsVjp; }
  bool is_equivalent(const Primitive& o) const override {
    auto& a = static_cast<const AttentionWeightsVjp&>(o);
    return a.scale_ == scale_ && a.out_ == out_;
  }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  float scale() const { return scale_; }

 private:
  float scale_;
  Dtype out_;
};

}  // namespace tessera
