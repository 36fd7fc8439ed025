// Quantized matrix-vector kernels (see quantized_matvec.h). A 4-bit row is a little-endian
// nibble stream: byte j holds value 2j in its low and 2j+1 in its high nibble. One vector of L
// bytes widened to 32-bit lanes gives, after a mask and a shift, the L even and the L odd values
// of a 2L-value chunk; x is rearranged once per call into that order ([evens | odds] per chunk)
// so the products need no shuffles. 8-bit rows are bytes in value order.
#include "backend/cpu/quantized_matvec.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/float_type_code.h"
#include "core/thread_pool.h"
#include "tessera/half_types.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/quantized_matvec.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace tessera::qmv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_HAVE_SCALABLE
size_t Lanes() { return 0; }
void Rows(int, int, int, const uint8_t*, int64_t, const void*, const void*, const float*, const float*, int64_t,
          int64_t, float*, int64_t, int64_t, int64_t) {}
#else
using DF = hn::ScalableTag<float>;
using DU = hn::RebindToUnsigned<DF>;
using DI = hn::RebindToSigned<DF>;
using VF = hn::Vec<DF>;

size_t Lanes() { return hn::Lanes(DF()); }

HWY_INLINE float ToFloat(float v) { return v; }
HWY_INLINE float ToFloat(hwy::bfloat16_t v) { return hwy::F32FromBF16(v); }
HWY_INLINE float ToFloat(hwy::float16_t v) {
  uint16_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return detail::half_to_float(bits);
}

// L bytes widened to L float lanes (0..255).
HWY_INLINE hn::Vec<DU> LoadBytes(const uint8_t* p) {
  const DU du;
  const hn::Rebind<uint8_t, DF> d8;
  return hn::PromoteTo(du, hn::LoadU(d8, p));
}

HWY_INLINE VF ToF(hn::Vec<DU> v) { return hn::ConvertTo(DF(), hn::BitCast(DI(), v)); }

// out[m * ldo + n - n0] for rows [n0, n1), MM rows of x (xp: arranged for B, stride K; xsum:
// group sums, stride G).
template <int B, int MM, typename S>
HWY_NOINLINE void RowsT(const uint8_t* w, int64_t row_bytes, const S* sc, const S* bi, int gs, const float* xp,
                        const float* xsum, int64_t K, int64_t n0, int64_t n1, float* out, int64_t ldo) {
  const DF df;
  const DU du;
  const int64_t L = int64_t(hn::Lanes(df));
  const int64_t G = K / gs;
  const int64_t step = B == 4 ? 2 * L : L;  // values per widened byte vector
  const int64_t chunks = gs / step;
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* wr = w + n * row_bytes;
    const S* sr = sc + n * G;
    const S* br = bi + n * G;
    VF tot[MM];
    for (int m = 0; m < MM; ++m) tot[m] = hn::Zero(df);
    for (int64_t g = 0; g < G; ++g) {
      VF acc[MM];
      for (int m = 0; m < MM; ++m) acc[m] = hn::Zero(df);
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t v0 = g * gs + c * step;  // first value of the chunk
        const uint8_t* p = wr + (B == 4 ? v0 / 2 : v0);
        // Rows are consecutive in memory: keep the stream ~2 KiB ahead (a trip to DRAM) and
        // across page edges.
        hwy::Prefetch(p + 2048);
        const auto bytes = LoadBytes(p);
        if constexpr (B == 4) {
          const VF lo = ToF(hn::And(bytes, hn::Set(du, 15u)));
          const VF hi = ToF(hn::ShiftRight<4>(bytes));
          for (int m = 0; m < MM; ++m) {
            const float* xm = xp + m * K + v0;
            acc[m] = hn::MulAdd(lo, hn::LoadU(df, xm), acc[m]);
            acc[m] = hn::MulAdd(hi, hn::LoadU(df, xm + L), acc[m]);
          }
        } else {
          const VF q = ToF(bytes);
          for (int m = 0; m < MM; ++m) acc[m] = hn::MulAdd(q, hn::LoadU(df, xp + m * K + v0), acc[m]);
        }
      }
      const VF s = hn::Set(df, ToFloat(sr[g]));
      for (int m = 0; m < MM; ++m) tot[m] = hn::MulAdd(acc[m], s, tot[m]);
    }
    for (int m = 0; m < MM; ++m) {
      float r = hn::GetLane(hn::SumOfLanes(df, tot[m]));
      const float* xs = xsum + m * G;
      for (int64_t g = 0; g < G; ++g) r += ToFloat(br[g]) * xs[g];
      out[m * ldo + (n - n0)] = r;
    }
  }
}

template <int B, typename S>
HWY_INLINE void RowsB(int M, const uint8_t* w, int64_t row_bytes, const void* sc, const void* bi, int gs,
                      const float* xp, const float* xsum, int64_t K, int64_t n0, int64_t n1, float* out,
                      int64_t ldo) {
  const S* s = static_cast<const S*>(sc);
  const S* b = static_cast<const S*>(bi);
  switch (M) {
    case 1: return RowsT<B, 1, S>(w, row_bytes, s, b, gs, xp, xsum, K, n0, n1, out, ldo);
    case 2: return RowsT<B, 2, S>(w, row_bytes, s, b, gs, xp, xsum, K, n0, n1, out, ldo);
    case 3: return RowsT<B, 3, S>(w, row_bytes, s, b, gs, xp, xsum, K, n0, n1, out, ldo);
    default: return RowsT<B, 4, S>(w, row_bytes, s, b, gs, xp, xsum, K, n0, n1, out, ldo);
  }
}

// scale_code: 0 float32, 1 bfloat16, 2 float16.
void Rows(int bits, int scale_code, int M, const uint8_t* w, int64_t row_bytes, const void* sc, const void* bi,
          const float* xp, const float* xsum, int64_t gs, int64_t K, float* out, int64_t ldo, int64_t n0,
          int64_t n1) {
  const int g = int(gs);
  if (bits == 4) {
    if (scale_code == 0) return RowsB<4, float>(M, w, row_bytes, sc, bi, g, xp, xsum, K, n0, n1, out, ldo);
    if (scale_code == 1) return RowsB<4, hwy::bfloat16_t>(M, w, row_bytes, sc, bi, g, xp, xsum, K, n0, n1, out, ldo);
    return RowsB<4, hwy::float16_t>(M, w, row_bytes, sc, bi, g, xp, xsum, K, n0, n1, out, ldo);
  }
  if (scale_code == 0) return RowsB<8, float>(M, w, row_bytes, sc, bi, g, xp, xsum, K, n0, n1, out, ldo);
  if (scale_code == 1) return RowsB<8, hwy::bfloat16_t>(M, w, row_bytes, sc, bi, g, xp, xsum, K, n0, n1, out, ldo);
  return RowsB<8, hwy::float16_t>(M, w, row_bytes, sc, bi, g, xp, xsum, K, n0, n1, out, ldo);
}
#endif  // HWY_HAVE_SCALABLE

}  // namespace HWY_NAMESPACE
}  // namespace tessera::qmv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tessera {
namespace qmv {
HWY_EXPORT(Lanes);
HWY_EXPORT(Rows);
}  // namespace qmv

namespace {

int64_t lanes() {
  static const int64_t L = int64_t(HWY_DYNAMIC_DISPATCH(qmv::Lanes)());
  return L;
}

}  // namespace

bool quantized_matvec_supported(int bits, int group_size, Dtype scale_type, int64_t M) {
  const int64_t L = lanes();
  if (L == 0 || M < 1 || M > 4 || float_type_code(scale_type) < 0) return false;
  if (bits == 4) return group_size % (2 * L) == 0;
  if (bits == 8) return group_size % L == 0;
  return false;
}

std::vector<float> group_sums(const float* x, int64_t M, int64_t K, int64_t group_size) {
  const int64_t G = K / group_size;
  std::vector<float> out(size_t(M * G));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t g = 0; g < G; ++g) {
      const float* xg = x + m * K + g * group_size;
      float s = 0.f;
      for (int64_t j = 0; j < group_size; ++j) s += xg[j];
      out[size_t(m * G + g)] = s;
    }
  return out;
}

void quantized_matvec(int bits, int group_size, const uint32_t* w, const void* scales, const void* biases,
                      Dtype scale_type, const float* x, int64_t M, int64_t N, int64_t K, float* out) {
  const int64_t L = lanes();
  // x in the order the kernel's fields come out, and its group sums (for the biases).
  std::vector<float> xp(size_t(M * K));
  const std::vector<float> xsum = group_sums(x, M, K, group_size);
  for (int64_t m = 0; m < M; ++m) {
    const float* xm = x + m * K;
    float* dst = xp.data() + m * K;
    if (bits == 4) {
      for (int64_t c = 0; c < K; c += 2 * L)
        for (int64_t i = 0; i < L; ++i) {
          dst[c + i] = xm[c + 2 * i];
          dst[c + L + i] = xm[c + 2 * i + 1];
        }
    } else {
      std::memcpy(dst, xm, size_t(K) * sizeof(float));
    }
  }
  const int64_t row_bytes = K * bits / 8;
  const auto* wb = reinterpret_cast<const uint8_t*>(w);
  const int code = float_type_code(scale_type);
  // A chunk is worth a thread wake-up when it reads kStreamGrainBytes of weights.
  const int64_t grain = std::max<int64_t>(1, kStreamGrainBytes / std::max<int64_t>(1, row_bytes));
  parallel_for(N, grain, [&](int64_t n0, int64_t n1) {
    HWY_DYNAMIC_DISPATCH(qmv::Rows)(bits, code, int(M), wb, row_bytes, scales, biases, xp.data(), xsum.data(),
                                    group_size, K, out + n0, N, n0, n1);
  });
}

}  // namespace tessera
#endif  // HWY_ONCE
