// 4-bit quantized matrix-vector products on the CPU's bfloat16 dot-product instruction
// (AVX512-BF16: 32 products per instruction, float32 accumulation). Every 4-bit code is exact
// in bfloat16, and x is split into x_hi + x_lo, two bfloat16 halves whose sum carries x to
// about 2^-16 relative, so the product keeps float32-grade accuracy; when x came from
// bfloat16 (x_lo is zero everywhere) the second half is skipped and the kernel does half the
// work. A nibble becomes a bfloat16 through one 32-entry word permute, with no conversions.
//
// Layout per 64 values (32 bytes of a row): the bytes widened to 32 words; low nibbles are the
// even values, high nibbles the odd ones; x is arranged to match ([32 evens | 32 odds]). The
// dot-product lanes 0-7 then cover values 0-31 and lanes 8-15 values 32-63, so a group of 32
// or more scales whole halves of the accumulator.
#include "backend/cpu/quantized_matvec.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "tessera/half_types.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define TESSERA_BF16_DP 1
#define TESSERA_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#endif

namespace tessera {

#ifdef TESSERA_BF16_DP
namespace {

inline float to_float(float v) { return v; }
inline float to_float(bfloat16_t v) { return float(v); }
inline float to_float(float16_t v) { return float(v); }

TESSERA_BF16_TARGET inline __m512bh as_bh(__m512i v) { return reinterpret_cast<__m512bh&>(v); }

TESSERA_BF16_TARGET inline float sum_lanes(__m512 v) {
  // Through memory: GCC 12's expansions of the 512-bit extract and reduce intrinsics trip
  // -Wmaybe-uninitialized. Once per output row, so the cost does not matter.
  alignas(64) float l[16];
  _mm512_store_ps(l, v);
  float a = 0.f, b = 0.f;
  for (int i = 0; i < 16; i += 2) {
    a += l[i];
    b += l[i + 1];
  }
  return a + b;
}

// Rows [n0, n1) of out (row stride ldo, column n - n0) for MM rows of x, R rows of w at a time
// (independent accumulation chains; R = 4 when there is one x row). gidx[2c], gidx[2c + 1]: the
// groups of the two 32-value halves of chunk c.
template <int MM, int R, typename S>
TESSERA_BF16_TARGET void rows_4bit(const uint8_t* w, int64_t row_bytes, const S* sc, const S* bi, const int32_t* gidx,
                                   const uint16_t* xh, const uint16_t* xl, bool use_lo, const float* xsum, int64_t K,
                                   int64_t G, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  alignas(64) uint16_t tab[32];
  for (int i = 0; i < 32; ++i) tab[i] = bfloat16_t(float(i & 15)).bits;  // exact: small integers
  const __m512i table = _mm512_load_si512(tab);
  const int64_t chunks = K / 64;
  for (int64_t n = n0; n < n1; n += R) {
    const int rr = int(std::min<int64_t>(R, n1 - n));
    __m512 tot[R][MM];
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < MM; ++m) tot[r][m] = _mm512_setzero_ps();
    for (int64_t c = 0; c < chunks; ++c) {
      for (int r = 0; r < R; ++r) {
        if (r >= rr) break;
        const uint8_t* wr = w + (n + r) * row_bytes + c * 32;
        const S* sr = sc + (n + r) * G;
        // The same place in the next group of rows (rows are consecutive in memory, so this is
        // R rows ahead of the stream: far enough to cover a trip to DRAM), and its scales and
        // biases. Prefetches past the matrix's end are harmless.
        _mm_prefetch(reinterpret_cast<const char*>(wr + R * row_bytes), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(sr + R * G + gidx[2 * c]), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(bi + (n + r + R) * G + gidx[2 * c]), _MM_HINT_T0);
        const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr)));
        const __m512bh lo = as_bh(_mm512_permutexvar_epi16(words, table));
        const __m512bh hi = as_bh(_mm512_permutexvar_epi16(_mm512_srli_epi16(words, 4), table));
        const __m512 sv = _mm512_insertf32x8(_mm512_set1_ps(to_float(sr[gidx[2 * c]])),
                                             _mm256_set1_ps(to_float(sr[gidx[2 * c + 1]])), 1);
        for (int m = 0; m < MM; ++m) {
          const uint16_t* xm = xh + m * K + c * 64;
          // Two short chains (even and odd values) rather than one long one.
          __m512 ae = _mm512_dpbf16_ps(_mm512_setzero_ps(), lo, as_bh(_mm512_loadu_si512(xm)));
          __m512 ao = _mm512_dpbf16_ps(_mm512_setzero_ps(), hi, as_bh(_mm512_loadu_si512(xm + 32)));
          if (use_lo) {
            const uint16_t* xr = xl + m * K + c * 64;
            ae = _mm512_dpbf16_ps(ae, lo, as_bh(_mm512_loadu_si512(xr)));
            ao = _mm512_dpbf16_ps(ao, hi, as_bh(_mm512_loadu_si512(xr + 32)));
          }
          tot[r][m] = _mm512_fmadd_ps(_mm512_add_ps(ae, ao), sv, tot[r][m]);
        }
      }
    }
    for (int r = 0; r < rr; ++r) {
      const S* br = bi + (n + r) * G;
      for (int m = 0; m < MM; ++m) {
        float t = sum_lanes(tot[r][m]);
        const float* xs = xsum + m * G;
        for (int64_t g = 0; g < G; ++g) t += to_float(br[g]) * xs[g];
        out[m * ldo + (n + r - n0)] = t;
      }
    }
  }
}

template <typename S>
void rows_any(int64_t M, const uint8_t* w, int64_t row_bytes, const void* sc, const void* bi, const int32_t* gidx,
              const uint16_t* xh, const uint16_t* xl, bool use_lo, const float* xsum, int64_t K, int64_t G, int64_t n0,
              int64_t n1, float* out, int64_t ldo) {
  const S* s = static_cast<const S*>(sc);
  const S* b = static_cast<const S*>(bi);
  switch (M) {
    case 1: return rows_4bit<1, 4, S>(w, row_bytes, s, b, gidx, xh, xl, use_lo, xsum, K, G, n0, n1, out, ldo);
    case 2: return rows_4bit<2, 2, S>(w, row_bytes, s, b, gidx, xh, xl, use_lo, xsum, K, G, n0, n1, out, ldo);
    case 3: return rows_4bit<3, 1, S>(w, row_bytes, s, b, gidx, xh, xl, use_lo, xsum, K, G, n0, n1, out, ldo);
    default: return rows_4bit<4, 1, S>(w, row_bytes, s, b, gidx, xh, xl, use_lo, xsum, K, G, n0, n1, out, ldo);
  }
}

uint16_t bf16_round(float f) { return bfloat16_t(f).bits; }

}  // namespace

bool quantized_matvec_bf16_supported(int bits, int group_size, Dtype scale_type, int64_t M, int64_t K) {
  static const bool cpu = [] {
    // AVX512-BF16 is CPUID leaf 7, sub-leaf 1, EAX bit 5 (compilers differ in naming it for
    // __builtin_cpu_supports); AVX512BW's check also covers the OS saving the zmm state.
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__builtin_cpu_supports("avx512bw") || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return (a & (1u << 5)) != 0;
  }();
  const bool scales = scale_type == float32 || scale_type == bfloat16 || scale_type == float16;
  return cpu && scales && bits == 4 && group_size % 32 == 0 && K % 64 == 0 && M >= 1 && M <= 4;
}

void quantized_matvec_bf16(int group_size, const uint32_t* w, const void* scales, const void* biases,
                           Dtype scale_type, const float* x, int64_t M, int64_t N, int64_t K, float* out) {
  const int64_t G = K / group_size;
  std::vector<uint16_t> xh(size_t(M * K)), xl(size_t(M * K));
  std::vector<float> xsum(size_t(M * G));
  bool use_lo = false;
  for (int64_t m = 0; m < M; ++m) {
    const float* xm = x + m * K;
    for (int64_t c = 0; c < K; c += 64)
      for (int64_t j = 0; j < 32; ++j)
        for (int64_t odd = 0; odd < 2; ++odd) {
          const float v = xm[c + 2 * j + odd];
          const uint16_t h = bf16_round(v);
          const float rest = v - detail::bf16_to_float(h);
          const int64_t at = m * K + c + odd * 32 + j;
          xh[size_t(at)] = h;
          xl[size_t(at)] = bf16_round(rest);
          use_lo = use_lo || rest != 0.f;
        }
    for (int64_t g = 0; g < G; ++g) {
      float s = 0.f;
      for (int64_t j = 0; j < group_size; ++j) s += xm[g * group_size + j];
      xsum[size_t(m * G + g)] = s;
    }
  }
  std::vector<int32_t> gidx(size_t(K / 32));
  for (int64_t h = 0; h < K / 32; ++h) gidx[size_t(h)] = int32_t(h * 32 / group_size);
  const int64_t row_bytes = K / 2;
  const auto* wb = reinterpret_cast<const uint8_t*>(w);
  const int64_t grain = std::max<int64_t>(4, kStreamGrainBytes / std::max<int64_t>(1, row_bytes));
  parallel_for(N, grain, [&](int64_t n0, int64_t n1) {
    float* o = out + n0;
    if (scale_type == float32) {
      rows_any<float>(M, wb, row_bytes, scales, biases, gidx.data(), xh.data(), xl.data(), use_lo, xsum.data(), K, G, n0,
                      n1, o, N);
    } else if (scale_type == bfloat16) {
      rows_any<bfloat16_t>(M, wb, row_bytes, scales, biases, gidx.data(), xh.data(), xl.data(), use_lo, xsum.data(), K,
                           G, n0, n1, o, N);
    } else {
      rows_any<float16_t>(M, wb, row_bytes, scales, biases, gidx.data(), xh.data(), xl.data(), use_lo, xsum.data(), K,
                          G, n0, n1, o, N);
    }
  });
}

#else

bool quantized_matvec_bf16_supported(int, int, Dtype, int64_t, int64_t) { return false; }
void quantized_matvec_bf16(int, const uint32_t*, const void*, const void*, Dtype, const float*, int64_t, int64_t,
                           int64_t, float*) {}

#endif

}  // namespace tessera
