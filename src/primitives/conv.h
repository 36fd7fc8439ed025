// Convolution (MLX semantics, channels-last). One primitive carries every parameter; the ops
// conv1d/2d/3d, conv_general and the transposed convolutions all build it.
#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

// inputs: x [N, spatial..., C_in], w [C_out, kernel spatial..., C_in / groups], same float dtype.
// output [N, out spatial..., C_out] with, per spatial dim d,
//   out[o] = sum_k x_hat[o * stride - padding_lo + k * kernel_dilation] * w[flip ? K - 1 - k : k]
// where x_hat is x dilated by input_dilation (input_dilation - 1 zeros between elements) and
// zero outside [0, (L - 1) * input_dilation] (padding may be negative: a crop). Channels split
// into `groups` independent blocks of C_in / groups inputs and C_out / groups outputs.
class Convolution : public Primitive {
 public:
  Convolution(Stream s, std::vector<int> stride, std::vector<int> padding_lo, std::vector<int> padding_hi,
              std::vector<int> kernel_dilation, std::vector<int> input_dilation, int groups, bool flip)
      : Primitive(s),
        stride_(std::move(stride)),
        padding_lo_(std::move(padding_lo)),
        padding_hi_(std::move(padding_hi)),
        kernel_dilation_(std::move(kernel_dilation)),
        input_dilation_(std::move(input_dilation)),
        groups_(groups),
        flip_(flip) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Convolution; }
  const char* name() const override { return "convolution"; }
  bool is_equivalent(const Primitive& o) const override {
    if (o.kind() != kind()) return false;
    auto& c = static_cast<const Convolution&>(o);
    return stride_ == c.stride_ && padding_lo_ == c.padding_lo_ && padding_hi_ == c.padding_hi_ &&
           kernel_dilation_ == c.kernel_dilation_ && input_dilation_ == c.input_dilation_ && groups_ == c.groups_ &&
           flip_ == c.flip_;
  }

  const std::vector<int>& stride() const { return stride_; }
  const std::vector<int>& padding_lo() const { return padding_lo_; }
  const std::vector<int>& padding_hi() const { return padding_hi_; }
  const std::vector<int>& kernel_dilation() const { return kernel_dilation_; }
  const std::vector<int>& input_dilation() const { return input_dilation_; }
  int groups() const { return groups_; }
  bool flip() const { return flip_; }

  // Both derivatives are convolutions again (see conv.cpp); vmap folds the batch into N (input)
  // or into the groups / output channels (weight).
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  std::vector<int> stride_, padding_lo_, padding_hi_, kernel_dilation_, input_dilation_;
  int groups_;
  bool flip_;
};

}  // namespace tessera
