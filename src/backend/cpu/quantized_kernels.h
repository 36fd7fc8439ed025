// Fused CPU kernels for affine quantization (registered in register.cpp).
#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

void cpu_affine_quantize(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_quantized_matmul(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_gather_qmm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);

}  // namespace tessera
