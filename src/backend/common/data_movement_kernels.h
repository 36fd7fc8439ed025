// Concatenate, constant pad and slice_update kernels (pure data movement plus update modes).
#pragma once

#include "backend/common/elementwise_kernels.h"

namespace tessera {

void concatenate_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                        const ElementwiseConfig& cfg);
void pad_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                const ElementwiseConfig& cfg);
void slice_update_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                         const ElementwiseConfig& cfg);

}  // namespace tessera
