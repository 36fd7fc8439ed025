// Affine quantization in MLX's layout: packed uint32 words (a little-endian bit stream of
// `bits`-bit values along the last axis), per-group scales and biases (w ≈ scale * q + bias).
#pragma once

#include "primitives/primitive.h"

namespace tessera {

// quantize: inputs {w} -> outputs {wq, scales, biases}.
// dequantize: inputs {wq, scales, biases} -> output {w}.
class AffineQuantize : public Primitive {
 public:
  AffineQuantize(Stream s, int group_size, int bits, bool dequantize)
      : Primitive(s), group_size_(group_size), bits_(bits), dequantize_(dequantize) {}
  PrimitiveKind kind() const override { return PrimitiveKind::AffineQuantize; }
  const char* name() const override { return dequantize_ ? "dequantize" : "quantize"; }
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }
  bool is_dequantize() const { return dequantize_; }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // dequantize is linear in (scales, biases). quantize differentiates its composite (as MLX
  // differentiates its fallback): scales and biases move with the group's extremes, the packed
  // words are integers and get zero tangents.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& q = static_cast<const AffineQuantize&>(o);
    return q.group_size_ == group_size_ && q.bits_ == bits_ && q.dequantize_ == dequantize_;
  }

 private:
  int group_size_, bits_;
  bool dequantize_;
};

// x[..., M, K] @ dequantize(w).T (transpose) or @ dequantize(w); inputs {x, w, scales, biases}
// with the batch dims already broadcast to the output's.
class QuantizedMatmul : public Primitive {
 public:
  // int8_activations: the backend may quantize x to int8 per 32 values before the product
  // (quantized_matmul_int8_activations); derivatives are those of the exact product.
  QuantizedMatmul(Stream s, int group_size, int bits, bool transpose, bool int8_activations = false)
      : Primitive(s), group_size_(group_size), bits_(bits), transpose_(transpose), int8_activations_(int8_activations) {}
  PrimitiveKind kind() const override { return PrimitiveKind::QuantizedMatmul; }
  const char* name() const override { return "quantized_matmul"; }
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }
  bool transpose() const { return transpose_; }
  bool int8_activations() const { return int8_activations_; }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // Derivatives w.r.t. x, scales and biases (the product is linear in each); the packed weight
  // is integer and has none (asking for it is an error).
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& q = static_cast<const QuantizedMatmul&>(o);
    return q.group_size_ == group_size_ && q.bits_ == bits_ && q.transpose_ == transpose_ &&
           q.int8_activations_ == int8_activations_;
  }

 private:
  int group_size_, bits_;
  bool transpose_;
  bool int8_activations_;
};

// quantized_matmul of x[lhs_indices] with w[rhs_indices]; inputs {x, w, scales, biases,
// lhs_indices, rhs_indices} (indices uint32, broadcast to the output's batch shape; x and w
// flattened to one batch dim).
class GatherQMM : public Primitive {
 public:
  GatherQMM(Stream s, int group_size, int bits, bool transpose)
      : Primitive(s), group_size_(group_size), bits_(bits), transpose_(transpose) {}
  PrimitiveKind kind() const override { return PrimitiveKind::GatherQMM; }
  const char* name() const override { return "gather_qmm"; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& g = static_cast<const GatherQMM&>(o);
    return g.group_size_ == group_size_ && g.bits_ == bits_ && g.transpose_ == transpose_;
  }
  int group_size() const { return group_size_; }
  int bits() const { return bits_; }
  bool transpose() const { return transpose_; }
  std::vector<array> decompose(const std::vector<array>& inputs) const override;
  // As QuantizedMatmul; decompose() gathers the selected matrices and stays lazy.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  int group_size_, bits_;
  bool transpose_;
};

}  // namespace tessera
