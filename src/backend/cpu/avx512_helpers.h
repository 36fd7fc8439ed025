// Small pieces the hand-written AVX-512 matrix-vector kernels share (quantized_matvec_bf16.cpp,
// quantized_matvec_int8.cpp). They carry their own target attributes (AVX-512F, or F/BW/VL/DQ),
// so the kernels, compiled for wider AVX-512 targets, inline them.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

#include "tessera/half_types.h"

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

// The pieces below also use AVX512BW/VL/DQ instructions.
#define TESSERA_AVX512_HELPER __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

// Up to 16 scales or biases of one row from group g0 as float32 lanes (the lanes past `valid`
// zero), read in their stored type: widening them in registers saves a conversion pass over
// every scale and bias per product (an eighth of a 576-wide model's decoding step). Masked loads
// never touch the lanes past `valid`, so reading at the end of the arrays is safe.
TESSERA_AVX512_HELPER inline __m512 load_groups(const float* p, __mmask16 valid) {
  return _mm512_maskz_loadu_ps(valid, p);
}
TESSERA_AVX512_HELPER inline __m512 load_groups(const float16_t* p, __mmask16 valid) {
  return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_maskz_loadu_epi16(valid, p));
}
TESSERA_AVX512_HELPER inline __m512 load_groups(const bfloat16_t* p, __mmask16 valid) {
  const __m512i wide = _mm512_maskz_cvtepu16_epi32(0xFFFF, _mm256_maskz_loadu_epi16(valid, p));
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, wide, 16));
}

// One scale or bias in every lane, from its stored type.
TESSERA_AVX512_HELPER inline __m512 broadcast_value(const float* p) { return _mm512_set1_ps(*p); }
TESSERA_AVX512_HELPER inline __m512 broadcast_value(const float16_t* p) {
  return _mm512_maskz_cvtph_ps(0xFFFF, _mm256_set1_epi16(static_cast<short>(p->bits)));
}
TESSERA_AVX512_HELPER inline __m512 broadcast_value(const bfloat16_t* p) {
  return _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(uint32_t(p->bits) << 16)));
}

inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// sum_g b[g] * xs[g] over a row's G groups, as lanes added to t (the codes' lanes), so that one
// horizontal sum finishes the row.
template <typename S>
TESSERA_AVX512_HELPER inline __m512 add_bias_lanes(__m512 t, const S* b, const float* xs, int64_t G) {
  for (int64_t g = 0; g < G; g += 16) {
    const __mmask16 k = first_lanes(G - g);
    t = _mm512_fmadd_ps(load_groups(b + g, k), _mm512_maskz_loadu_ps(k, xs + g), t);
  }
  return t;
}

// out[0..4) = the lane sums of a0..a3: pairs of vectors are interleaved and added twice, so the
// four sums cost about one reduction (a 576-wide row's codes take only ~60 instructions, and a
// reduction per row was a large part of that).
TESSERA_AVX512_HELPER inline void store_sums4(__m512 a0, __m512 a1, __m512 a2, __m512 a3, float* out) {
  // Per 128-bit block: {a0 0+2, a1 0+2, a0 1+3, a1 1+3}, likewise a2, a3.
  const __m512 t01 = _mm512_add_ps(_mm512_maskz_unpacklo_ps(0xFFFF, a0, a1), _mm512_maskz_unpackhi_ps(0xFFFF, a0, a1));
  const __m512 t23 = _mm512_add_ps(_mm512_maskz_unpacklo_ps(0xFFFF, a2, a3), _mm512_maskz_unpackhi_ps(0xFFFF, a2, a3));
  // Per block: {a0, a1, a2, a3} partial sums.
  const __m512d w01 = _mm512_castps_pd(t01), w23 = _mm512_castps_pd(t23);
  const __m512 u = _mm512_add_ps(_mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, w01, w23)),
                                 _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, w01, w23)));
  // The four blocks through memory (GCC 12 flags the extract intrinsics' expansions).
  alignas(64) float l[16];
  _mm512_store_ps(l, u);
  const __m128 sum =
      _mm_add_ps(_mm_add_ps(_mm_load_ps(l), _mm_load_ps(l + 4)), _mm_add_ps(_mm_load_ps(l + 8), _mm_load_ps(l + 12)));
  _mm_storeu_ps(out, sum);
}

// CPUID feature bits the run-time dispatch checks (AVX512BW's check also covers the OS saving the
// zmm state): AVX512-BF16 is leaf 7 sub-leaf 1 EAX bit 5, AVX512-VNNI leaf 7 sub-leaf 0 ECX bit 11.
bool has_bf16();
bool has_vnni();

}  // namespace tessera::avx512
#endif
