#pragma once

#include "backend/common/elementwise_kernels.h"

namespace tessera {

void arange_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg);
void full_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg);

}  // namespace tessera
