// Embedding lookup and its tied-head projection.
#include "tessera/nn/embedding.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

Embedding::Embedding(int num_embeddings, int dims) {
  if (num_embeddings <= 0 || dims <= 0) throw std::invalid_argument("[Embedding] Sizes must be positive.");
  register_parameter("weight", random::normal({num_embeddings, dims}, 0.0f, 1.0f / std::sqrt(float(dims))));
}

std::vector<array> Embedding::forward(const std::vector<array>& inputs) {
  const array& idx = single_input(inputs);
  if (!issubdtype(idx.dtype(), integer)) {
    throw std::invalid_argument(std::string("[Embedding] Indices must be integers, got ") + dtype_name(idx.dtype()) +
                                ".");
  }
  return {take(param("weight"), idx, 0)};
}

array Embedding::as_linear(const array& x) const { return matmul(x, transpose(param("weight"))); }

}  // namespace tessera::nn
