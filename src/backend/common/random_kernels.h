#pragma once

#include "backend/common/elementwise_kernels.h"

namespace tessera {

// RandomBits: Threefry-2x32 bits, one block per key; identical with and without threads.
void random_bits_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                        const ElementwiseConfig& cfg);

}  // namespace tessera
