// View kernels: outputs share the input's buffer (reshape copies only when the strides make a
// view impossible). The config's `threads` flag applies to those copies.
#pragma once

#include "backend/common/elementwise_kernels.h"

namespace tessera {

void reshape_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                    const ElementwiseConfig& cfg);
void transpose_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                      const ElementwiseConfig& cfg);
void broadcast_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                      const ElementwiseConfig& cfg);
void slice_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                  const ElementwiseConfig& cfg);
void as_strided_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                       const ElementwiseConfig& cfg);
void view_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg);
void copy_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg);
void contiguous_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                       const ElementwiseConfig& cfg);

}  // namespace tessera
