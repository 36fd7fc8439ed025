// Token embedding table, dense or affine-quantized (MLX's QuantizedEmbedding), and the output
// projection tied to it. A quantized table stays quantized: a lookup gathers the packed rows and
// dequantizes only those, and the tied projection runs on quantized_matmul.
#pragma once

#include "lm/layers/linear.h"

namespace tessera::lm {

class Embedding {
 public:
  // w: [vocab, hidden].
  explicit Embedding(const Weight& w);
  // ids: integer [n] -> float32 [n, hidden] whatever the table's storage, so the residual stream
  // starts in float32 for 16-bit and quantized tables alike.
  array operator()(const array& ids) const;
  // x [..., hidden] -> [..., vocab]: the product with the table's transpose.
  Linear as_linear() const;
  int vocab_size() const { return vocab_; }
  int hidden_size() const { return hidden_; }

 private:
  Weight w_;
  int vocab_ = 0, hidden_ = 0;
};

}  // namespace tessera::lm
