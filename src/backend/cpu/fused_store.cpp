#include "backend/cpu/fused_store.h"

#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/fused_store.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace tessera::fused {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void StreamCopyF32(const float* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  while (i < n && reinterpret_cast<uintptr_t>(dst + i) % (size_t(N) * sizeof(float)) != 0) {
    dst[i] = src[i];
    ++i;
  }
  for (; i + N <= n; i += N) hn::Stream(hn::LoadU(d, src + i), d, dst + i);
  if (i < n) std::memcpy(dst + i, src + i, size_t(n - i) * sizeof(float));
}

}  // namespace HWY_NAMESPACE
}  // namespace tessera::fused
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tessera::fused {

HWY_EXPORT(StreamCopyF32);

void stream_copy_f32(const float* src, float* dst, int64_t n) { HWY_DYNAMIC_DISPATCH(StreamCopyF32)(src, dst, n); }
void stream_fence() { hwy::FlushStream(); }

}  // namespace tessera::fused
#endif
