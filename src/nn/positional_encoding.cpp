// RoPE module over fast::rope.
#include "tessera/nn/positional_encoding.h"

#include <stdexcept>

#include "tessera/fast.h"

namespace tessera::nn {

RoPE::RoPE(int dims, bool traditional, float base, float scale)
    : dims_(dims), traditional_(traditional), base_(base), scale_(scale) {
  if (dims <= 0 || dims % 2) throw std::invalid_argument("[RoPE] dims must be positive and even.");
}

array RoPE::operator()(const array& x, int offset) const {
  return fast::rope(x, dims_, traditional_, base_, scale_, offset);
}

array RoPE::operator()(const array& x, const array& offset) const {
  return fast::rope(x, dims_, traditional_, base_, scale_, offset);
}

std::vector<array> RoPE::forward(const std::vector<array>& inputs) {
  if (inputs.size() == 1) return {(*this)(inputs[0], 0)};
  if (inputs.size() == 2) return {(*this)(inputs[0], inputs[1])};
  throw std::invalid_argument("[RoPE] Expected {x} or {x, offset}, got " + std::to_string(inputs.size()) + " inputs.");
}

}  // namespace tessera::nn
