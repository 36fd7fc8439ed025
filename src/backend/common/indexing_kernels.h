// Gather / scatter kernels (general, along-axis, masked). Scatters run serially (duplicate
// indices must combine in order); gathers split across threads when cfg.threads is set.
#pragma once

#include "backend/common/elementwise_kernels.h"

namespace tessera {

void gather_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg);
void scatter_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                    const ElementwiseConfig& cfg);
void gather_axis_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                        const ElementwiseConfig& cfg);
void scatter_axis_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                         const ElementwiseConfig& cfg);
void masked_scatter_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                           const ElementwiseConfig& cfg);

}  // namespace tessera
