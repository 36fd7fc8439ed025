#pragma once

#include "backend/common/elementwise_kernels.h"

namespace tessera {

void scan_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg);
// Sort, ArgSort, Partition and ArgPartition.
void sort_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg);
void search_sorted_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                          const ElementwiseConfig& cfg);

}  // namespace tessera
