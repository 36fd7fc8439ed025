#pragma once

#include "backend/common/elementwise_kernels.h"

namespace tessera {

void reduce_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg);
void arg_reduce_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                       const ElementwiseConfig& cfg);

}  // namespace tessera
