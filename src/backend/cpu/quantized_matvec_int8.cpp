// Quantized matrix-vector products with the activations quantized to int8 on the fly, on the CPU's
// int8 dot products (AVX512-VNNI vpdpbusd: 64 unsigned-code x signed-activation products per
// instruction, int32 sums of four). x is cut into blocks of 32 values, each stored as int8 codes
// times one float32 scale max|x| / 127 (llama.cpp's Q8_0 scheme for activations); weight codes
// are unsigned bytes (8 bits) or nibbles (4 bits) used as they are. Per output:
//   sum_g s_g * sum_{b in g} d_b * (q . xq)_b  +  b_g * sum(x in g)
// with the bias term from the exact float32 group sums of x.
//
// 4 bits, per 128 values (64 bytes of a row): the low nibbles are the even values, the high
// nibbles the odd ones, and x's codes are stored to match ([64 evens | 64 odds] per chunk), so
// two vpdpbusd give int32 lanes j = values 8j..8j+7. 8 bits, per 64 values: one vpdpbusd, lane j
// = values 4j..4j+3. A lane never straddles a 32-value x block or a group (group sizes are
// multiples of 32), so each lane is scaled by one x-block scale and one group scale.
// A 4-bit row may end in half a chunk (K = 128c + 64, e.g. 576-wide models): its 32 bytes are
// loaded under a mask and x's codes for it are padded with zeros to a whole chunk, so lanes 8-15
// contribute nothing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backend/cpu/avx512_helpers.h"
#include "backend/cpu/float_type_code.h"
#include "backend/cpu/quantized_matvec.h"
#include "core/convert.h"
#include "core/thread_pool.h"
#include "tessera/half_types.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TESSERA_VNNI 1
#define TESSERA_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#endif

namespace tessera {

#ifdef TESSERA_VNNI
namespace {

constexpr int64_t kXBlock = 32;


// x rows quantized: codes (in the kernel's order), per-lane block scales for every chunk (16
// floats per chunk: lane j's x-block scale) and exact group sums.
struct QuantizedX {
  int64_t row = 0;            // codes per row: K rounded up to whole chunks
  std::vector<int8_t> codes;  // [M, row]
  std::vector<float> lane_scales;  // [M, chunks, 16]
  std::vector<float> xsum;  // [M, G]
  std::vector<int64_t> chunk_group;  // [chunks]: the group of each chunk's first value
};

// One block of 32 values: codes round(x / d) to nearest even with d = max|x| / 127 (what lrint
// gives, in two vectors). False when the block holds a NaN or an infinity.
TESSERA_VNNI_TARGET bool quantize_block(const float* x, int8_t* codes, float& d) {
  // The maskz forms throughout: GCC 12 flags the plain ones' undefined pass-through as
  // uninitialized.
  constexpr __mmask16 all = 0xFFFF;
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  // fpclass 0x99: quiet NaN, +infinity, -infinity, signalling NaN.
  if ((_mm512_fpclass_ps_mask(v0, 0x99) | _mm512_fpclass_ps_mask(v1, 0x99)) != 0) return false;
  const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512 a = _mm512_maskz_max_ps(all, _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v0), magnitude)),
                                       _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v1), magnitude)));
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, a);
  float amax = lanes[0];
  for (int i = 1; i < 16; ++i) amax = std::max(amax, lanes[i]);
  d = amax / 127.f;
  const __m512 inv = _mm512_set1_ps(d > 0.f ? 1.f / d : 0.f);
  // Conversion under the default rounding mode (nearest even, as lrint); |code| <= 127, so the
  // saturating narrowing never saturates.
  const __m512i q0 = _mm512_maskz_cvtps_epi32(all, _mm512_mul_ps(v0, inv));
  const __m512i q1 = _mm512_maskz_cvtps_epi32(all, _mm512_mul_ps(v1, inv));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(codes), _mm512_maskz_cvtsepi32_epi8(all, q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + 16), _mm512_maskz_cvtsepi32_epi8(all, q1));
  return true;
}

// False when x holds a NaN or an infinity, which int8 codes cannot carry.
bool quantize_x(int bits, const float* x, int64_t M, int64_t K, int64_t group_size, QuantizedX& q) {
  const int64_t chunk = bits == 4 ? 128 : 64;
  const int64_t chunks = (K + chunk - 1) / chunk;
  q.row = chunks * chunk;
  q.codes.assign(size_t(M * q.row), 0);
  q.lane_scales.resize(size_t(M * chunks * 16));
  std::vector<int8_t> natural(static_cast<size_t>(K));
  std::vector<float> block_scale(static_cast<size_t>(K / kXBlock));
  for (int64_t m = 0; m < M; ++m) {
    const float* xm = x + m * K;
    for (int64_t b = 0; b < K / kXBlock; ++b) {
      float d;
      if (!quantize_block(xm + b * kXBlock, natural.data() + b * kXBlock, d)) return false;
      block_scale[size_t(b)] = d;
    }
    int8_t* codes = q.codes.data() + m * q.row;
    if (bits == 4) {
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t pairs = std::min<int64_t>(64, (K - c * 128) / 2);  // 32 in a half chunk
        for (int64_t i = 0; i < pairs; ++i) {
          codes[c * 128 + i] = natural[size_t(c * 128 + 2 * i)];
          codes[c * 128 + 64 + i] = natural[size_t(c * 128 + 2 * i + 1)];
        }
      }
    } else {
      std::memcpy(codes, natural.data(), size_t(K));
    }
    const int64_t values_per_lane = chunk / 16;
    for (int64_t c = 0; c < chunks; ++c)
      for (int64_t j = 0; j < 16; ++j) {
        const int64_t first = c * chunk + j * values_per_lane;
        q.lane_scales[size_t((m * chunks + c) * 16 + j)] = first < K ? block_scale[size_t(first / kXBlock)] : 0.f;
      }
  }
  q.xsum = group_sums(x, M, K, group_size);
  q.chunk_group.resize(size_t(chunks));
  for (int64_t c = 0; c < chunks; ++c) q.chunk_group[size_t(c)] = c * chunk / group_size;
  return true;
}

// Lane j of chunk c belongs to group (c * chunk + j * values_per_lane) / group_size: the chunk's
// first group plus a lane offset that is the same for every chunk (groups tile chunks), or the
// chunk's one group (groups cover whole chunks).
struct GroupLanes {
  alignas(64) int32_t lane_group[16];
  bool per_chunk_group;  // group_size >= chunk: one group for the whole chunk
  int64_t chunk_groups;  // groups a chunk's lanes take: chunk / group_size, or 1
};

GroupLanes group_lanes(int64_t chunk, int64_t group_size) {
  GroupLanes gl{};
  gl.per_chunk_group = group_size >= chunk;
  gl.chunk_groups = gl.per_chunk_group ? 1 : chunk / group_size;
  for (int64_t j = 0; j < 16; ++j) gl.lane_group[j] = int32_t(gl.per_chunk_group ? 0 : j * (chunk / 16) / group_size);
  return gl;
}

// R rows of w from row n against MM rows of x; sc/bi: the scales and biases of row n, in their
// stored type (row stride G).
template <int Bits, int MM, int R, typename S>
TESSERA_VNNI_TARGET void block_int8(const uint8_t* w, int64_t row_bytes, const S* sc, const S* bi,
                                    const QuantizedX& xq, const GroupLanes& gl, int64_t K, int64_t G, int64_t n,
                                    int64_t n0, float* out, int64_t ldo) {
  constexpr int64_t chunk = Bits == 4 ? 128 : 64;
  const int64_t chunks = xq.row / chunk;
  // The bytes of a row's last chunk: all 64, or 32 for a half chunk.
  const __mmask64 last_bytes = K % chunk == 0 ? ~__mmask64(0) : __mmask64(0xFFFFFFFF);
  // Lane j takes group g0 + lane_group[j] (every lane group g0 when one group covers the chunk).
  const __m512i lane_group = _mm512_load_si512(gl.lane_group);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 tot[R][MM];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < MM; ++m) tot[r][m] = _mm512_setzero_ps();
  const uint8_t* w0 = w + n * row_bytes;
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t g0 = xq.chunk_group[size_t(c)];
    const __mmask16 valid = avx512::first_lanes(std::min(gl.chunk_groups, G - g0));
    const __mmask64 byte_mask = c + 1 < chunks ? ~__mmask64(0) : last_bytes;
    // Unrolled, so that tot stays in registers.
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* wr = w0 + r * row_bytes + c * (chunk * Bits / 8);
      _mm_prefetch(reinterpret_cast<const char*>(wr + R * row_bytes), _MM_HINT_T0);
      // The maskz forms: GCC 12 flags the plain ones' undefined pass-through as uninitialized.
      const __m512 sv = _mm512_maskz_permutexvar_ps(0xFFFF, lane_group, avx512::load_groups(sc + r * G + g0, valid));
      const __m512i bytes = _mm512_maskz_loadu_epi8(byte_mask, wr);
      __m512i lo, hi;
      if constexpr (Bits == 4) {
        lo = _mm512_and_si512(bytes, low4);
        hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
      }
#pragma GCC unroll 4
      for (int m = 0; m < MM; ++m) {
        const int8_t* xc = xq.codes.data() + m * xq.row + c * chunk;
        __m512i acc;
        if constexpr (Bits == 4) {
          acc = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(xc));
          acc = _mm512_dpbusd_epi32(acc, hi, _mm512_loadu_si512(xc + 64));
        } else {
          acc = _mm512_dpbusd_epi32(_mm512_setzero_si512(), bytes, _mm512_loadu_si512(xc));
        }
        const __m512 dx = _mm512_loadu_ps(xq.lane_scales.data() + (m * chunks + c) * 16);
        tot[r][m] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, acc), _mm512_mul_ps(sv, dx), tot[r][m]);
      }
    }
  }
  for (int m = 0; m < MM; ++m) {
    for (int r = 0; r < R; ++r) tot[r][m] = avx512::add_bias_lanes(tot[r][m], bi + r * G, xq.xsum.data() + m * G, G);
    float* o = out + m * ldo + (n - n0);
    if constexpr (R == 4) {
      avx512::store_sums4(tot[0][m], tot[1][m], tot[2][m], tot[3][m], o);
    } else {
      for (int r = 0; r < R; ++r) o[r] = avx512::sum_lanes(tot[r][m]);
    }
  }
}

template <int Bits, int MM, typename S>
void rows_int8(const uint8_t* w, int64_t row_bytes, const S* sc, const S* bi, const QuantizedX& xq,
               const GroupLanes& gl, int64_t K, int64_t G, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  constexpr int R = MM == 1 ? 4 : MM == 2 ? 2 : 1;
  int64_t n = n0;
  for (; n + R <= n1; n += R) {
    block_int8<Bits, MM, R>(w, row_bytes, sc + n * G, bi + n * G, xq, gl, K, G, n, n0, out, ldo);
  }
  for (; n < n1; ++n) {
    block_int8<Bits, MM, 1>(w, row_bytes, sc + n * G, bi + n * G, xq, gl, K, G, n, n0, out, ldo);
  }
}

template <int Bits, typename S>
void rows_for_m(int64_t M, const uint8_t* w, int64_t row_bytes, const void* sc, const void* bi, const QuantizedX& xq,
                const GroupLanes& gl, int64_t K, int64_t G, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  const S* s = static_cast<const S*>(sc);
  const S* b = static_cast<const S*>(bi);
  switch (M) {
    case 1: return rows_int8<Bits, 1, S>(w, row_bytes, s, b, xq, gl, K, G, n0, n1, out, ldo);
    case 2: return rows_int8<Bits, 2, S>(w, row_bytes, s, b, xq, gl, K, G, n0, n1, out, ldo);
    case 3: return rows_int8<Bits, 3, S>(w, row_bytes, s, b, xq, gl, K, G, n0, n1, out, ldo);
    default: return rows_int8<Bits, 4, S>(w, row_bytes, s, b, xq, gl, K, G, n0, n1, out, ldo);
  }
}

template <int Bits>
void rows_any_scale(Dtype st, int64_t M, const uint8_t* w, int64_t row_bytes, const void* sc, const void* bi,
                    const QuantizedX& xq, const GroupLanes& gl, int64_t K, int64_t G, int64_t n0, int64_t n1,
                    float* out, int64_t ldo) {
  if (st == float32) return rows_for_m<Bits, float>(M, w, row_bytes, sc, bi, xq, gl, K, G, n0, n1, out, ldo);
  if (st == bfloat16) return rows_for_m<Bits, bfloat16_t>(M, w, row_bytes, sc, bi, xq, gl, K, G, n0, n1, out, ldo);
  rows_for_m<Bits, float16_t>(M, w, row_bytes, sc, bi, xq, gl, K, G, n0, n1, out, ldo);
}

}  // namespace

bool quantized_matvec_int8_supported(int bits, int group_size, Dtype scale_type, int64_t M, int64_t K) {
  const int64_t chunk = bits == 4 ? 128 : 64;
  // Groups either tile a chunk or cover whole chunks, so a lane's group is the chunk's first group
  // plus a fixed lane offset. 4-bit rows may end in half a chunk (64 values).
  const bool groups = group_size % 32 == 0 && (chunk % group_size == 0 || group_size % chunk == 0);
  return avx512::has_vnni() && float_type_code(scale_type) >= 0 && (bits == 4 || bits == 8) && groups &&
         K % 64 == 0 && K % group_size == 0 && K > 0 && M >= 1 && M <= 4;
}

bool quantized_matvec_int8(int bits, int group_size, const uint32_t* w, const void* scales, const void* biases,
                           Dtype scale_type, const float* x, int64_t M, int64_t N, int64_t K, float* out) {
  const int64_t G = K / group_size;
  QuantizedX xq;
  if (!quantize_x(bits, x, M, K, group_size, xq)) return false;
  const GroupLanes gl = group_lanes(bits == 4 ? 128 : 64, group_size);
  const int64_t row_bytes = K * bits / 8;
  const auto* wb = reinterpret_cast<const uint8_t*>(w);
  const int64_t grain = std::max<int64_t>(4, kStreamGrainBytes / std::max<int64_t>(1, row_bytes));
  parallel_for(N, grain, [&](int64_t n0, int64_t n1) {
    if (bits == 4) {
      rows_any_scale<4>(scale_type, M, wb, row_bytes, scales, biases, xq, gl, K, G, n0, n1, out + n0, N);
    } else {
      rows_any_scale<8>(scale_type, M, wb, row_bytes, scales, biases, xq, gl, K, G, n0, n1, out + n0, N);
    }
  });
  return true;
}

#else

bool quantized_matvec_int8_supported(int, int, Dtype, int64_t, int64_t) { return false; }
bool quantized_matvec_int8(int, int, const uint32_t*, const void*, const void*, Dtype, const float*, int64_t, int64_t,
                           int64_t, float*) {
  return false;
}

#endif

}  // namespace tessera
