#include "core/convert.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/simd.h"
#include "core/dispatch.h"
#include "tessera/array.h"

namespace tessera {

void copy_convert(const void* src, Dtype src_type, void* dst, Dtype dst_type, size_t n) {
  if (n == 0) return;
  if (src_type == dst_type) {
    std::memcpy(dst, src, n * size_of(src_type));
    return;
  }
  if (src_type == float32 && (dst_type == float16 || dst_type == bfloat16)) {
    simd::f32_to_16(static_cast<const float*>(src), static_cast<uint16_t*>(dst), n, dst_type == bfloat16);
    return;
  }
  if (dst_type == float32 && (src_type == float16 || src_type == bfloat16)) {
    simd::f16_to_32(static_cast<const uint16_t*>(src), static_cast<float*>(dst), n, src_type == bfloat16);
    return;
  }
  if ((src_type == float16 || src_type == bfloat16) && (dst_type == float16 || dst_type == bfloat16)) {
    // float16 <-> bfloat16 through float32 (exact) in L1-sized pieces, on the vector kernels:
    // the prompt path casts every quantized layer's scales this way on each call.
    constexpr size_t kPiece = 1024;
    float tmp[kPiece];
    const auto* in = static_cast<const uint16_t*>(src);
    auto* out = static_cast<uint16_t*>(dst);
    for (size_t i = 0; i < n; i += kPiece) {
      const size_t m = std::min(kPiece, n - i);
      simd::f16_to_32(in + i, tmp, m, src_type == bfloat16);
      simd::f32_to_16(tmp, out + i, m, dst_type == bfloat16);
    }
    return;
  }
  dispatch_all_types(src_type, [&](auto src_tag) {
    using From = typename decltype(src_tag)::type;
    dispatch_all_types(dst_type, [&](auto dst_tag) {
      using To = typename decltype(dst_tag)::type;
      const From* s = static_cast<const From*>(src);
      To* d = static_cast<To*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = convert_value<To>(s[i]);
    });
  });
}

namespace detail {

void copy_convert_from_host(const void* src, Dtype src_type, void* dst, Dtype dst_type, size_t n) {
  copy_convert(src, src_type, dst, dst_type, n);
}

void throw_item_error(const char* why) { throw std::invalid_argument(std::string("[item] ") + why); }

size_t shape_size(const Shape& shape, const char* op) {
  size_t n = 1;
  for (auto d : shape) {
    if (d < 0) {
      throw std::invalid_argument(std::string("[") + op + "] Negative dimension " + std::to_string(d) + " in shape.");
    }
    // n * d > 2^48 (no division: every graph node computes its size).
    if (__builtin_mul_overflow(n, size_t(d), &n) || n > (size_t(1) << 48)) {
      throw std::invalid_argument(std::string("[") + op + "] Shape is too large.");
    }
  }
  return n;
}

}  // namespace detail

}  // namespace tessera
