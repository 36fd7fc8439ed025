// Batching rule of RandomBits. The kernel fills one contiguous block of the output per key, keys
// taken in row-major order, so keys batched along axis 0 ([B, ..., 2]) with the batch size
// prepended to the output shape give each batch entry exactly the bits its own key gives alone:
// vmap over keys equals a loop over keys.
#include "primitives/random.h"

#include "ops/op_utils.h"

namespace tessera {

std::pair<std::vector<array>, std::vector<int>> RandomBits::vmap(const std::vector<array>& inputs,
                                                                 const std::vector<int>& axes) const {
  array keys = axes[0] == 0 ? inputs[0] : moveaxis(inputs[0], axes[0], 0);
  Shape shape = shape_;
  shape.insert(shape.begin(), keys.shape(0));
  Dtype dt = width_ == 1 ? uint8 : width_ == 2 ? uint16 : uint32;
  return {{make_node<RandomBits>(shape, dt, {keys}, stream(), shape, width_)}, {0}};
}

}  // namespace tessera
