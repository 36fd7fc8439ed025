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
#include "backend/cpu/avx512_helpers.h"
#include "backend/cpu/float_type_code.h"
#include "backend/cpu/quantized_matvec.h"
#include "core/convert.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/thread_pool.h"
#include "tessera/half_types.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TESSERA_BF16_DP 1
#define TESSERA_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#endif

namespace tessera {

#ifdef TESSERA_BF16_DP
namespace {


TESSERA_BF16_TARGET inline __m512bh as_bh(__m512i v) { return reinterpret_cast<__m512bh&>(v); }


// R rows of w starting at row n into out[m * ldo + (n - n0)], for MM rows of x (R independent
// accumulation chains; R = 4 when there is one x row). gidx[2c], gidx[2c + 1]: the groups of the
// two 32-value halves of chunk c. Template arguments rather than run-time flags, so the chunk loop
// has no branches and keeps everything in registers. WholeChunkGroups: group_size % 64 == 0.
template <int MM, int R, bool UseLo, bool WholeChunkGroups, typename S>
TESSERA_BF16_TARGET inline void block_4bit(const uint8_t* w, int64_t row_bytes, const S* s0, const S* b0,
                                           const int32_t* gidx, const uint16_t* xh, const uint16_t* xl,
                                           const float* xsum, int64_t K, int64_t G, int64_t n, int64_t n0,
                                           __m512i table, float* out, int64_t ldo) {
  const int64_t chunks = K / 64;
  __m512 tot[R][MM];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MM; ++m) tot[r][m] = _mm512_setzero_ps();
  const uint8_t* w0 = w + n * row_bytes;
  for (int64_t c = 0; c < chunks; ++c) {
    const int32_t g0 = gidx[2 * c], g1 = gidx[2 * c + 1];
    __m512bh xe[MM], xo[MM], le[MM], lo_x[MM];
    for (int m = 0; m < MM; ++m) {
      xe[m] = as_bh(_mm512_loadu_si512(xh + m * K + c * 64));
      xo[m] = as_bh(_mm512_loadu_si512(xh + m * K + c * 64 + 32));
      if constexpr (UseLo) {
        le[m] = as_bh(_mm512_loadu_si512(xl + m * K + c * 64));
        lo_x[m] = as_bh(_mm512_loadu_si512(xl + m * K + c * 64 + 32));
      }
    }
    for (int r = 0; r < R; ++r) {
      const uint8_t* wr = w0 + r * row_bytes + c * 32;
      const S* sr = s0 + r * G;
      // The same place R rows further on (rows are consecutive, so this runs R rows ahead of the
      // stream: far enough to cover a trip to DRAM), once per 64-byte line. Scales and biases
      // are small and sequential; the hardware prefetcher keeps up with them.
      if (c % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(wr + R * row_bytes), _MM_HINT_T0);
      const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr)));
      const __m512bh even = as_bh(_mm512_permutexvar_epi16(words, table));
      const __m512bh odd = as_bh(_mm512_permutexvar_epi16(_mm512_srli_epi16(words, 4), table));
      // One group covers the chunk when group_size is a multiple of 64 (the common case): one
      // broadcast instead of two halves. Scales are widened here, in registers, from their
      // stored type.
      const __m512 sv = WholeChunkGroups ? avx512::broadcast_value(sr + g0)
                                         : _mm512_mask_blend_ps(0xFF00, avx512::broadcast_value(sr + g0),
                                                                avx512::broadcast_value(sr + g1));
      for (int m = 0; m < MM; ++m) {
        // Short dependency chains: the high and low halves of x accumulate apart.
        __m512 acc = _mm512_dpbf16_ps(_mm512_setzero_ps(), even, xe[m]);
        acc = _mm512_dpbf16_ps(acc, odd, xo[m]);
        if constexpr (UseLo) {
          __m512 low = _mm512_dpbf16_ps(_mm512_setzero_ps(), even, le[m]);
          low = _mm512_dpbf16_ps(low, odd, lo_x[m]);
          acc = _mm512_add_ps(acc, low);
        }
        tot[r][m] = _mm512_fmadd_ps(acc, sv, tot[r][m]);
      }
    }
  }
  for (int m = 0; m < MM; ++m) {
    for (int r = 0; r < R; ++r) tot[r][m] = avx512::add_bias_lanes(tot[r][m], b0 + r * G, xsum + m * G, G);
    float* o = out + m * ldo + (n - n0);
    if constexpr (R == 4) {
      avx512::store_sums4(tot[0][m], tot[1][m], tot[2][m], tot[3][m], o);
    } else {
      for (int r = 0; r < R; ++r) o[r] = avx512::sum_lanes(tot[r][m]);
    }
  }
}

template <int MM, int R, bool UseLo, bool Whole, typename S>
TESSERA_BF16_TARGET void rows_4bit(const uint8_t* w, int64_t row_bytes, const S* sc, const S* bi, const int32_t* gidx,
                                   const uint16_t* xh, const uint16_t* xl, const float* xsum, int64_t K, int64_t G,
                                   int64_t n0, int64_t n1, float* out, int64_t ldo) {
  alignas(64) uint16_t tab[32];
  for (int i = 0; i < 32; ++i) tab[i] = bfloat16_t(float(i & 15)).bits;  // exact: small integers
  const __m512i table = _mm512_load_si512(tab);
  int64_t n = n0;
  for (; n + R <= n1; n += R)
    block_4bit<MM, R, UseLo, Whole>(w, row_bytes, sc + n * G, bi + n * G, gidx, xh, xl, xsum, K, G, n, n0, table, out,
                                    ldo);
  for (; n < n1; ++n)
    block_4bit<MM, 1, UseLo, Whole>(w, row_bytes, sc + n * G, bi + n * G, gidx, xh, xl, xsum, K, G, n, n0, table, out,
                                    ldo);
}

template <bool UseLo, bool Whole, typename S>
void rows_for_m(int64_t M, const uint8_t* w, int64_t row_bytes, const S* s, const S* b, const int32_t* gidx,
                const uint16_t* xh, const uint16_t* xl, const float* xsum, int64_t K, int64_t G, int64_t n0,
                int64_t n1, float* out, int64_t ldo) {
  switch (M) {
    case 1: return rows_4bit<1, 4, UseLo, Whole, S>(w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
    case 2: return rows_4bit<2, 2, UseLo, Whole, S>(w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
    case 3: return rows_4bit<3, 1, UseLo, Whole, S>(w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
    default: return rows_4bit<4, 1, UseLo, Whole, S>(w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
  }
}

template <typename S>
void rows_any(int64_t M, const uint8_t* w, int64_t row_bytes, const void* sc, const void* bi, const int32_t* gidx,
              const uint16_t* xh, const uint16_t* xl, bool use_lo, const float* xsum, int64_t K, int64_t G, int64_t n0,
              int64_t n1, float* out, int64_t ldo) {
  const S* s = static_cast<const S*>(sc);
  const S* b = static_cast<const S*>(bi);
  const bool whole = K / G % 64 == 0;
  if (use_lo && whole) return rows_for_m<true, true, S>(M, w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
  if (use_lo) return rows_for_m<true, false, S>(M, w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
  if (whole) return rows_for_m<false, true, S>(M, w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
  rows_for_m<false, false, S>(M, w, row_bytes, s, b, gidx, xh, xl, xsum, K, G, n0, n1, out, ldo);
}

uint16_t bf16_round(float f) { return bfloat16_t(f).bits; }

}  // namespace

bool quantized_matvec_bf16_supported(int bits, int group_size, Dtype scale_type, int64_t M, int64_t K) {
  return avx512::has_bf16() && float_type_code(scale_type) >= 0 && bits == 4 && group_size % 32 == 0 && K % 64 == 0 &&
         M >= 1 && M <= 4;
}

void quantized_matvec_bf16(int group_size, const uint32_t* w, const void* scales, const void* biases,
                           Dtype scale_type, const float* x, int64_t M, int64_t N, int64_t K, float* out) {
  const int64_t G = K / group_size;
  std::vector<uint16_t> xh(size_t(M * K)), xl(size_t(M * K));
  const std::vector<float> xsum = group_sums(x, M, K, group_size);
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
