// y = x W^T (+ b) for a weight W of shape [out, in], dense or affine-quantized. Dense weights are
// kept as a transposed view evaluated once, so a call adds one matmul node to the graph.
#pragma once

#include <optional>
#include <vector>

#include "lm/models/weights.h"

namespace tessera::lm {

class Linear {
 public:
  explicit Linear(const Weight& w, std::optional<array> bias = std::nullopt);
  // One layer computing the concatenation of `parts` along the output features: a single
  // product over fused weights (the q/k/v or gate/up projections) when the parts are all dense
  // or all quantized alike, else the parts' products concatenated (files often store, say,
  // attn_v with more bits than attn_q).
  static Linear concat(const std::vector<Linear>& parts);

  array operator()(const array& x) const;
  int in_features() const { return in_; }
  int out_features() const { return out_; }
  bool quantized() const { return quant_.has_value(); }

 private:
  Linear() = default;
  array dense_product(const array& x) const;
  array quantized_product(const array& x) const;
  // Rows of x from which a quantized product with float32 activations runs in bfloat16.
  static constexpr int64_t kBf16ProductRows = 32;
  // Rows up to which an opted-in quantized product rounds x to int8 (the decoding shapes).
  static constexpr int64_t kInt8ActivationRows = 4;
  std::optional<array> wt_;  // dense: [in, out] view of the [out, in] weight
  std::optional<QuantizedWeight> quant_;
  std::optional<array> bias_;
  std::vector<Linear> parts_;  // unfused concatenation
  int in_ = 0, out_ = 0;
};

}  // namespace tessera::lm
