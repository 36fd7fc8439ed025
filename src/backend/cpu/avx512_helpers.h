// Small pieces the hand-written AVX-512 matrix-vector kernels share (quantized_matvec_bf16.cpp,
// quantized_matvec_int8.cpp). They carry their own target attribute (AVX-512F only), so units
// compiled for wider AVX-512 targets inline them.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

namespace tessera::avx512 {

// The sum of the 16 lanes. Through memory: GCC 12's expansions of the 512-bit extract and reduce
// intrinsics trip -Wmaybe-uninitialized. Once per output, so the cost does not matter.
__attribute__((target("avx512f"))) inline float sum_lanes(__m512 v) {
  alignas(64) float l[16];
  _mm512_store_ps(l, v);
  float a = 0.f, b = 0.f;
  for (int i = 0; i < 16; i += 2) {
    a += l[i];
    b += l[i + 1];
  }
  return a + b;
}

// sum of t's lanes + sum_g b[g] * xs[g]: the biases' share of an affine-quantized row
// (bias of group g times the sum of x over g), on vectors. A scalar loop here is a serial chain of
// G multiply-adds per output, as long as the whole code loop for short rows.
__attribute__((target("avx512f"))) inline float sum_with_bias_dot(__m512 t, const float* b, const float* xs,
                                                                  int64_t G) {
  int64_t g = 0;
  for (; g + 16 <= G; g += 16) t = _mm512_fmadd_ps(_mm512_loadu_ps(b + g), _mm512_loadu_ps(xs + g), t);
  if (g < G) {
    const __mmask16 k = static_cast<__mmask16>((1u << (G - g)) - 1);
    t = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, b + g), _mm512_maskz_loadu_ps(k, xs + g), t);
  }
  return sum_lanes(t);
}

// CPUID feature bits the run-time dispatch checks (AVX512BW's check also covers the OS saving the
// zmm state): AVX512-BF16 is leaf 7 sub-leaf 1 EAX bit 5, AVX512-VNNI leaf 7 sub-leaf 0 ECX bit 11.
bool has_bf16();
bool has_vnni();

}  // namespace tessera::avx512
#endif
