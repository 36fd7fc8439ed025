// Output stores of the fused elementwise kernel.
#pragma once

#include <cstdint>

namespace tessera::fused {

// dst[i] = src[i] with non-temporal (streaming) stores where dst is vector-aligned: a large
// output would only evict the inputs from cache, and skipping the read-for-ownership of each
// output line saves a third of the traffic. Call stream_fence before other threads read dst.
void stream_copy_f32(const float* src, float* dst, int64_t n);
void stream_fence();

}  // namespace tessera::fused
