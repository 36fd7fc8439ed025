// Linear: one GEMM with the bias folded into it (addmm) on a 2-D view of the input.
#include "tessera/nn/linear.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

Linear::Linear(int input_dims, int output_dims, bool bias) {
  if (input_dims <= 0 || output_dims <= 0) {
    throw std::invalid_argument("[Linear] Dimensions must be positive, got " + std::to_string(input_dims) + " -> " +
                                std::to_string(output_dims) + ".");
  }
  float scale = 1.0f / std::sqrt(float(input_dims));
  register_parameter("weight", random::uniform(-scale, scale, {output_dims, input_dims}));
  if (bias) register_parameter("bias", random::uniform(-scale, scale, {output_dims}));
}

std::vector<array> Linear::forward(const std::vector<array>& inputs) {
  const array& x = single_input(inputs);
  const array& w = param("weight");
  if (x.ndim() == 0 || x.shape(-1) != w.shape(1)) {
    throw std::invalid_argument("[Linear] Input's last axis must be " + std::to_string(w.shape(1)) + ".");
  }
  if (!has_bias()) return {matmul(x, transpose(w))};
  if (x.ndim() == 2) return {addmm(param("bias"), x, transpose(w))};
  if (x.ndim() == 1) return {add(matmul(x, transpose(w)), param("bias"))};
  // Batched inputs: fold the leading axes into rows so the weight is shared by one GEMM instead
  // of being broadcast over a batch of small ones.
  Shape out_shape = x.shape();
  out_shape.back() = w.shape(0);
  array rows = reshape(x, {-1, x.shape(-1)});
  return {reshape(addmm(param("bias"), rows, transpose(w)), out_shape)};
}

}  // namespace tessera::nn
