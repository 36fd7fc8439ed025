#include "lm/layers/embedding.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::lm {

Embedding::Embedding(const Weight& w) : w_(w) {
  if (w.shape.size() != 2) throw std::invalid_argument("[Embedding] table '" + w.source + "' must be 2-D");
  if (!w.dense && !w.quant) throw std::invalid_argument("[Embedding] table '" + w.source + "' holds no data");
  vocab_ = w.shape[0];
  hidden_ = w.shape[1];
}

array Embedding::operator()(const array& ids) const {
  if (w_.dense) return astype(take(*w_.dense, ids, 0), float32);
  const QuantizedWeight& q = *w_.quant;
  // Rows of the packed table, its scales and biases are gathered alike; dequantizing the
  // gathered rows costs n rows instead of the whole vocabulary.
  return dequantize(take(q.wq, ids, 0), take(q.scales, ids, 0), take(q.biases, ids, 0), q.group_size, q.bits,
                    "affine", float32);
}

Linear Embedding::as_linear() const { return Linear(w_); }

}  // namespace tessera::lm
