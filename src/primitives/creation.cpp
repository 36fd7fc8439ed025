// Transform rules of the creation primitives. Full's single input is already broadcast (and
// cast) to the output's shape and dtype by the op, so Full is the identity on it.
#include "primitives/creation.h"

#include "tessera/ops.h"

namespace tessera {

std::vector<array> Full::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                             const std::vector<int>&) const {
  return {tangents[0]};
}

std::vector<array> Full::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) const {
  return {cotangents[0]};
}

std::pair<std::vector<array>, std::vector<int>> Full::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) const {
  const array& x = inputs[0];
  return {{full(x.shape(), x, x.dtype())}, {axes[0]}};
}

}  // namespace tessera
