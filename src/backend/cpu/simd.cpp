#include "backend/cpu/simd.h"
#include "tessera/half_types.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "backend/cpu/simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace tessera::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;

// Calls f(std::integral_constant<int, MR>{}, r) over rows [0, R): groups of four rows, then one
// group of the 1-3 left. The register-tiled attention loops take their row count as a template
// argument.
template <typename F>
HWY_INLINE void InRowGroups(int64_t R, F&& f) {
  int64_t r = 0;
  for (; r + 4 <= R; r += 4) f(std::integral_constant<int, 4>{}, r);
  switch (R - r) {
    case 3: f(std::integral_constant<int, 3>{}, r); break;
    case 2: f(std::integral_constant<int, 2>{}, r); break;
    case 1: f(std::integral_constant<int, 1>{}, r); break;
    default: break;
  }
}

template <class V>
HWY_INLINE V NaNLike(DF d, V) {
  return hn::Set(d, std::numeric_limits<float>::quiet_NaN());
}

// The reduction shared by the exp-based kernels: t = k ln2 + r with |r| <= ln2/2 (Cody-Waite,
// ln2 split so k * hi is exact), k found with the 1.5 * 2^23 shifter so the low mantissa bits of
// kf hold k, and `poly` with e^r = 1 + r * poly (degree-7 Taylor series, Horner with FMA).
struct ExpReduction {
  hn::Vec<DF> kf, k, r, poly;
};

HWY_INLINE ExpReduction ReduceExp(DF d, hn::Vec<DF> t) {
  const auto shifter = hn::Set(d, 12582912.0f);
  const auto kf = hn::MulAdd(t, hn::Set(d, 1.44269504088896341f), shifter);
  const auto k = hn::Sub(kf, shifter);
  auto r = hn::MulAdd(k, hn::Set(d, -0.693145751953125f), t);
  r = hn::MulAdd(k, hn::Set(d, -1.428606765330187045e-06f), r);
  auto p = hn::Set(d, 1.f / 5040.f);
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 720.f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 120.f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 24.f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f / 6.f));
  p = hn::MulAdd(p, r, hn::Set(d, 0.5f));
  p = hn::MulAdd(p, r, hn::Set(d, 1.f));
  return {kf, k, r, p};
}

// exp over the whole float32 range, with IEEE results for NaN (kept), +inf (inf), -inf (0),
// overflow (x >= 88.72283935546875: inf) and the subnormal tail (rounded once; 0 below about -103.97).
// Same scheme as ExpNonPos below: Cody-Waite reduction x = k ln2 + r with |r| <= ln2/2, a
// degree-7 Taylor polynomial for e^r (Horner, FMA), then 2^k added to the exponent bits. Lanes
// whose result is subnormal (k <= -126, x below about -87.0) take a rarely used branch that scales by
// 2^(k/2) twice, so the result is rounded once. Measured max error 0.94 ulp over all float32
// inputs (see simd.h).
HWY_INLINE hn::Vec<DF> ExpF32(DF d, hn::Vec<DF> x) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // AVX-512: vscalefps multiplies by 2^k with a single rounding, so overflow to inf and the
  // subnormal tail need no separate lanes; with the bound as the first operand, max/min return
  // a NaN x as it is. Same results as the generic path below, bit for bit over all float32
  // inputs (checked exhaustively), in ~14 vector instructions instead of ~21.
  const auto xc = hn::Vec<DF>{_mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x.raw))};
  const auto [kf, k, r, poly] = ReduceExp(d, xc);
  (void)kf;
  return hn::Vec<DF>{_mm512_scalef_ps(hn::MulAdd(poly, r, hn::Set(d, 1.f)).raw, k.raw)};
#else
  const hn::RebindToSigned<DF> di;
  // Clamping keeps k in [-150, 128]; NaN lanes are patched at the end.
  const auto xc = hn::Min(hn::Max(x, hn::Set(d, -104.0f)), hn::Set(d, 89.0f));
  const auto [kf, k, r, poly] = ReduceExp(d, xc);
  const auto p = hn::MulAdd(poly, r, hn::Set(d, 1.f));
  const auto ki = hn::ShiftLeft<23>(hn::BitCast(di, kf));  // k << 23 (wraps in the top bits)
  auto y = hn::BitCast(d, hn::Add(hn::BitCast(di, p), ki));
  // k <= -126: p * 2^k is subnormal (or nearly so), which the exponent add cannot produce.
  const auto tiny = hn::Lt(k, hn::Set(d, -125.5f));
  if (HWY_UNLIKELY(!hn::AllFalse(d, tiny))) {
    // k in [-150, -126]: p * 2^k1 * 2^k2 with k1 = k / 2 rounded down and k2 = k - k1, both
    // 2^k1 and p * 2^k1 normal, so only the last product rounds.
    const auto shifter = hn::Set(d, 12582912.0f);
    const auto kk = hn::Sub(hn::BitCast(di, kf), hn::BitCast(di, shifter));  // k as an integer
    const auto k1 = hn::ShiftRight<1>(kk);
    const auto k2 = hn::Sub(kk, k1);
    const auto bias = hn::Set(di, 127);
    const auto s1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(k1, bias)));
    const auto s2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(k2, bias)));
    y = hn::IfThenElse(tiny, hn::Mul(hn::Mul(p, s1), s2), y);
  }
  // 88.72283935546875 is the smallest float whose exp rounds to inf (the exponent add would
  // give NaN bits there).
  y = hn::IfThenElse(hn::Ge(x, hn::Set(d, 88.72283935546875f)), hn::Set(d, std::numeric_limits<float>::infinity()),
                     y);
  return hn::IfThenElse(hn::IsNaN(x), x, y);
#endif
}

// tanh(x) = sign(x) * m / (m + 2) with m = expm1(2|x|), m from ExpF32's reduction: with
// 2|x| = k ln2 + r, k >= 0, and q = e^r - 1 (the polynomial without its constant term, accurate
// for small r), m = 2^k q + (2^k - 1) in one FMA, with no cancellation. |x| is clamped to 10
// (tanh rounds to 1 from 9.01); signed zeros and subnormals keep their sign and value. Measured
// max error 3.25 ulp over all float32 inputs (at small |x|, from the division); 16M elements on
// one thread: ~11.3 ms vs ~15.4 ms for hn::Tanh.
HWY_INLINE hn::Vec<DF> TanhF32(DF d, hn::Vec<DF> x) {
  const hn::RebindToSigned<DF> di;
  const auto t = hn::Min(hn::Add(hn::Abs(x), hn::Abs(x)), hn::Set(d, 20.0f));
  const auto [kf, k, r, poly] = ReduceExp(d, t);
  const auto q = hn::Mul(poly, r);
  const auto one = hn::Set(d, 1.0f);
  const auto s = hn::BitCast(d, hn::Add(hn::BitCast(di, one), hn::ShiftLeft<23>(hn::BitCast(di, kf))));  // 2^k
  const auto m = hn::MulAdd(q, s, hn::Sub(s, one));
  const auto y = hn::Div(m, hn::Add(m, hn::Set(d, 2.0f)));
  return hn::IfThenElse(hn::IsNaN(x), x, hn::CopySignToAbs(y, x));
}

template <UnaryOp op>
HWY_INLINE hn::Vec<DF> UnaryVec(DF d, hn::Vec<DF> x) {
  if constexpr (op == UnaryOp::Abs) {
    return hn::Abs(x);
  } else if constexpr (op == UnaryOp::Negative) {
    return hn::Neg(x);
  } else if constexpr (op == UnaryOp::Square) {
    return hn::Mul(x, x);
  } else if constexpr (op == UnaryOp::Sqrt) {
    return hn::Sqrt(x);
  } else if constexpr (op == UnaryOp::Rsqrt) {
    return hn::Div(hn::Set(d, 1.0f), hn::Sqrt(x));
  } else if constexpr (op == UnaryOp::Reciprocal) {
    return hn::Div(hn::Set(d, 1.0f), x);
  } else if constexpr (op == UnaryOp::Floor) {
    return hn::Floor(x);
  } else if constexpr (op == UnaryOp::Ceil) {
    return hn::Ceil(x);
  } else if constexpr (op == UnaryOp::Round) {
    return hn::Round(x);
  } else if constexpr (op == UnaryOp::Exp) {
    return ExpF32(d, x);
  } else if constexpr (op == UnaryOp::Log) {
    auto y = hn::Log(d, x);
    y = hn::IfThenElse(hn::Eq(x, hn::Zero(d)), hn::Set(d, -std::numeric_limits<float>::infinity()), y);
    y = hn::IfThenElse(hn::Eq(x, hn::Set(d, std::numeric_limits<float>::infinity())), x, y);
    return hn::IfThenElse(hn::Not(hn::Ge(x, hn::Zero(d))), NaNLike(d, x), y);
  } else if constexpr (op == UnaryOp::Tanh) {
    return TanhF32(d, x);
  } else if constexpr (op == UnaryOp::Sigmoid) {
    // With e = exp(-|x|) (never overflows): 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0, so
    // very negative x give exp(x) (down to the subnormal tail) instead of 0.
    auto e = ExpF32(d, hn::Neg(hn::Abs(x)));
    auto num = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), e, hn::Set(d, 1.0f));
    auto y = hn::Div(num, hn::Add(hn::Set(d, 1.0f), e));
    return hn::IfThenElse(hn::IsNaN(x), x, y);
  } else {
    return x;
  }
}

template <UnaryOp op>
HWY_INLINE void UnaryLoop(const float* HWY_RESTRICT in, float* out, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  if (n >= (int64_t(1) << 18)) {
    // Large outputs: streaming stores (see kStreamMin below).
    while (i < n && (reinterpret_cast<uintptr_t>(out + i) % (size_t(N) * sizeof(float))) != 0) {
      out[i] = hn::GetLane(UnaryVec<op>(d, hn::Set(d, in[i])));
      ++i;
    }
    for (; i + N <= n; i += N) hn::Stream(UnaryVec<op>(d, hn::LoadU(d, in + i)), d, out + i);
    hwy::FlushStream();
  }
  for (; i + N <= n; i += N) hn::StoreU(UnaryVec<op>(d, hn::LoadU(d, in + i)), d, out + i);
  if (i < n) {
    float tmp[hn::MaxLanes(d)];
    std::memcpy(tmp, in + i, size_t(n - i) * sizeof(float));
    for (int64_t j = n - i; j < N; ++j) tmp[j] = 1.0f;
    auto v = UnaryVec<op>(d, hn::LoadU(d, tmp));
    hn::StoreU(v, d, tmp);
    std::memcpy(out + i, tmp, size_t(n - i) * sizeof(float));
  }
}

// sin/cos: Highway is accurate for |x| <= 39000; other lanes and NaN/inf use libm.
template <bool kSin>
HWY_INLINE void TrigLoop(const float* HWY_RESTRICT in, float* out, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto lim = hn::Set(d, 39000.0f);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    auto x = hn::LoadU(d, in + i);
    if (!hn::AllTrue(d, hn::Le(hn::Abs(x), lim))) break;
    hn::StoreU(kSin ? hn::Sin(d, x) : hn::Cos(d, x), d, out + i);
  }
  for (; i < n; ++i) out[i] = kSin ? std::sin(in[i]) : std::cos(in[i]);
}

bool UnaryF32(UnaryOp op, const float* in, float* out, int64_t n) {
  switch (op) {
#define TESSERA_SIMD_UNARY(OP) \
  case UnaryOp::OP:            \
    UnaryLoop<UnaryOp::OP>(in, out, n); \
    return true;
    TESSERA_SIMD_UNARY(Abs)
    TESSERA_SIMD_UNARY(Negative)
    TESSERA_SIMD_UNARY(Square)
    TESSERA_SIMD_UNARY(Sqrt)
    TESSERA_SIMD_UNARY(Rsqrt)
    TESSERA_SIMD_UNARY(Reciprocal)
    TESSERA_SIMD_UNARY(Floor)
    TESSERA_SIMD_UNARY(Ceil)
    TESSERA_SIMD_UNARY(Round)
    TESSERA_SIMD_UNARY(Exp)
    TESSERA_SIMD_UNARY(Log)
    TESSERA_SIMD_UNARY(Tanh)
    TESSERA_SIMD_UNARY(Sigmoid)
#undef TESSERA_SIMD_UNARY
    case UnaryOp::Sin:
      TrigLoop<true>(in, out, n);
      return true;
    case UnaryOp::Cos:
      TrigLoop<false>(in, out, n);
      return true;
    default:
      return false;
  }
}

template <BinaryOp op>
HWY_INLINE hn::Vec<DF> BinaryVec(DF d, hn::Vec<DF> a, hn::Vec<DF> b) {
  (void)d;
  if constexpr (op == BinaryOp::Add) return hn::Add(a, b);
  else if constexpr (op == BinaryOp::Subtract) return hn::Sub(a, b);
  else if constexpr (op == BinaryOp::Multiply) return hn::Mul(a, b);
  else if constexpr (op == BinaryOp::Divide) return hn::Div(a, b);
  else if constexpr (op == BinaryOp::Maximum || op == BinaryOp::Minimum) {
    auto m = op == BinaryOp::Maximum ? hn::Max(a, b) : hn::Min(a, b);
    m = hn::IfThenElse(hn::IsNaN(a), a, m);
    return hn::IfThenElse(hn::IsNaN(b), b, m);
  } else {
    return a;
  }
}

// Outputs at least this large bypass the cache with streaming stores: they would evict the
// inputs anyway, and skipping the read-for-ownership of each output line saves a third of the
// memory traffic of a binary op.
constexpr int64_t kStreamMin = int64_t(1) << 18;

template <BinaryOp op, bool kStream>
HWY_INLINE void BinaryVecLoop(const float* a, bool as, const float* b, bool bs, float* out, int64_t& i, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto store = [&](hn::Vec<DF> v, float* p) {
    if constexpr (kStream) hn::Stream(v, d, p);
    else hn::StoreU(v, d, p);
  };
  if (!as && !bs) {
    for (; i + N <= n; i += N) store(BinaryVec<op>(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), out + i);
  } else if (as && !bs) {
    auto va = hn::Set(d, a[0]);
    for (; i + N <= n; i += N) store(BinaryVec<op>(d, va, hn::LoadU(d, b + i)), out + i);
  } else if (!as && bs) {
    auto vb = hn::Set(d, b[0]);
    for (; i + N <= n; i += N) store(BinaryVec<op>(d, hn::LoadU(d, a + i), vb), out + i);
  }
}

template <BinaryOp op>
HWY_INLINE void BinaryLoop(const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  auto scalar_at = [&](int64_t k) {
    float x = as ? a[0] : a[k], y = bs ? b[0] : b[k];
    out[k] = hn::GetLane(BinaryVec<op>(d, hn::Set(d, x), hn::Set(d, y)));
  };
  if (n >= kStreamMin && !(as && bs)) {
    while (i < n && (reinterpret_cast<uintptr_t>(out + i) % (size_t(N) * sizeof(float))) != 0) scalar_at(i++);
    BinaryVecLoop<op, true>(a, as, b, bs, out, i, n);
    hwy::FlushStream();
  } else {
    BinaryVecLoop<op, false>(a, as, b, bs, out, i, n);
  }
  for (; i < n; ++i) scalar_at(i);
}

// Calls f(std::integral_constant<BinaryOp, op>) for the ops the vector loops implement; false
// for the others.
template <typename F>
HWY_INLINE bool WithVectorBinaryOp(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add: f(std::integral_constant<BinaryOp, BinaryOp::Add>{}); return true;
    case BinaryOp::Subtract: f(std::integral_constant<BinaryOp, BinaryOp::Subtract>{}); return true;
    case BinaryOp::Multiply: f(std::integral_constant<BinaryOp, BinaryOp::Multiply>{}); return true;
    case BinaryOp::Divide: f(std::integral_constant<BinaryOp, BinaryOp::Divide>{}); return true;
    case BinaryOp::Maximum: f(std::integral_constant<BinaryOp, BinaryOp::Maximum>{}); return true;
    case BinaryOp::Minimum: f(std::integral_constant<BinaryOp, BinaryOp::Minimum>{}); return true;
    default: return false;
  }
}

bool BinaryF32(BinaryOp op, const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  return WithVectorBinaryOp(op, [&](auto c) { BinaryLoop<decltype(c)::value>(a, as, b, bs, out, n); });
}

// Keeps a product as a rounded float32 value: GCC contracts a multiply followed by an add
// into one FMA (one rounding) unless the product passes through something opaque, and the
// fused steps must round twice, as the separate kernels do.
HWY_INLINE hn::Vec<DF> Rounded(hn::Vec<DF> v) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
  asm("" : "+v"(v.raw));
#elif HWY_ARCH_ARM && HWY_TARGET == HWY_NEON
  asm("" : "+w"(v.raw));
#endif
  return v;
}

// kKind 0: a * b + c, 1: a * b - c, 2: c - a * b, each rounded after the product and after
// the sum. kB / kC: b / c is one value for all lanes.
template <int kKind, bool kB, bool kC>
HWY_INLINE void MulThenLoop(const float* a, const float* b, const float* c, float* out, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto combine = [](hn::Vec<DF> x, hn::Vec<DF> y, hn::Vec<DF> z) {
    const auto t = Rounded(hn::Mul(x, y));
    if constexpr (kKind == 0) return hn::Add(t, z);
    else if constexpr (kKind == 1) return hn::Sub(t, z);
    else return hn::Sub(z, t);
  };
  const auto vb = hn::Set(d, b[0]), vc = hn::Set(d, c[0]);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(combine(hn::LoadU(d, a + i), kB ? vb : hn::LoadU(d, b + i), kC ? vc : hn::LoadU(d, c + i)), d,
               out + i);
  }
  for (; i < n; ++i) {
    out[i] = hn::GetLane(combine(hn::Set(d, a[i]), hn::Set(d, kB ? b[0] : b[i]), hn::Set(d, kC ? c[0] : c[i])));
  }
}

template <int kKind>
HWY_INLINE void MulThenKind(const float* a, const float* b, bool bs, const float* c, bool cs, float* out, int64_t n) {
  if (bs) {
    if (cs) MulThenLoop<kKind, true, true>(a, b, c, out, n);
    else MulThenLoop<kKind, true, false>(a, b, c, out, n);
  } else {
    if (cs) MulThenLoop<kKind, false, true>(a, b, c, out, n);
    else MulThenLoop<kKind, false, false>(a, b, c, out, n);
  }
}

bool MulThenF32(BinaryOp op, bool c_first, const float* a, const float* b, bool bs, const float* c, bool cs,
                float* out, int64_t n) {
  if (op == BinaryOp::Add) MulThenKind<0>(a, b, bs, c, cs, out, n);
  else if (op == BinaryOp::Subtract && !c_first) MulThenKind<1>(a, b, bs, c, cs, out, n);
  else if (op == BinaryOp::Subtract) MulThenKind<2>(a, b, bs, c, cs, out, n);
  else return false;
  return true;
}

using D16 = hn::Rebind<uint16_t, DF>;

// float32 lanes rounded to bfloat16 (to nearest even; NaN stays a quiet NaN instead of
// rounding into infinity), as the lanes of a half-width uint16 vector.
HWY_INLINE hn::Vec<D16> RoundToBF16(hn::Vec<DF> v) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const D16 d16;
  auto x = hn::BitCast(du, v);
  auto lsb = hn::And(hn::ShiftRight<16>(x), hn::Set(du, 1u));
  auto r = hn::ShiftRight<16>(hn::Add(x, hn::Add(hn::Set(du, 0x7fffu), lsb)));
  auto is_nan = hn::Gt(hn::And(x, hn::Set(du, 0x7fffffffu)), hn::Set(du, 0x7f800000u));
  r = hn::IfThenElse(is_nan, hn::Or(hn::ShiftRight<16>(x), hn::Set(du, 0x40u)), r);
  return hn::DemoteTo(d16, hn::BitCast(di, r));
}

HWY_INLINE hn::Vec<DF> WidenBF16(const uint16_t* p) {
  const DF d;
  const hn::RebindToUnsigned<DF> du;
  return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(D16(), p))));
}

HWY_INLINE uint16_t RoundToBF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

HWY_INLINE float WidenBF16(uint16_t h) {
  uint32_t x = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// A binary op on bfloat16 operands in one pass: each vector is widened, combined in float32
// and rounded back in registers (the blocked fallback converts through float32 buffers).
template <BinaryOp op>
HWY_INLINE void BinaryLoopBF16(const uint16_t* a, bool as, const uint16_t* b, bool bs, uint16_t* out, int64_t n) {
  const DF d;
  const D16 d16;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  if (!as && !bs) {
    for (; i + N <= n; i += N) {
      hn::StoreU(RoundToBF16(BinaryVec<op>(d, WidenBF16(a + i), WidenBF16(b + i))), d16, out + i);
    }
  } else if (as && !bs) {
    auto va = hn::Set(d, WidenBF16(a[0]));
    for (; i + N <= n; i += N) hn::StoreU(RoundToBF16(BinaryVec<op>(d, va, WidenBF16(b + i))), d16, out + i);
  } else if (!as && bs) {
    auto vb = hn::Set(d, WidenBF16(b[0]));
    for (; i + N <= n; i += N) hn::StoreU(RoundToBF16(BinaryVec<op>(d, WidenBF16(a + i), vb)), d16, out + i);
  }
  for (; i < n; ++i) {
    float x = WidenBF16(as ? a[0] : a[i]), y = WidenBF16(bs ? b[0] : b[i]);
    out[i] = RoundToBF16(hn::GetLane(BinaryVec<op>(d, hn::Set(d, x), hn::Set(d, y))));
  }
}

bool BinaryBF16(BinaryOp op, const uint16_t* a, bool as, const uint16_t* b, bool bs, uint16_t* out, int64_t n) {
  return WithVectorBinaryOp(op, [&](auto c) { BinaryLoopBF16<decltype(c)::value>(a, as, b, bs, out, n); });
}

void F32To16(const float* in, uint16_t* out, size_t n, bool bf16) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (bf16) {
    const D16 d16;
    for (; i + N <= n; i += N) hn::StoreU(RoundToBF16(hn::LoadU(d, in + i)), d16, out + i);
    for (; i < n; ++i) out[i] = RoundToBF16(in[i]);
    return;
  }
  const hn::Rebind<hwy::float16_t, DF> dh;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::DemoteTo(dh, hn::LoadU(d, in + i)), dh, reinterpret_cast<hwy::float16_t*>(out + i));
  }
  for (; i < n; ++i) {
    out[i] = tessera::detail::float_to_half(in[i]);
  }
}

void F16To32(const uint16_t* in, float* out, size_t n, bool bf16) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (bf16) {
    for (; i + N <= n; i += N) hn::StoreU(WidenBF16(in + i), d, out + i);
    for (; i < n; ++i) out[i] = WidenBF16(in[i]);
    return;
  }
  const hn::Rebind<hwy::float16_t, DF> dh;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(in + i))), d, out + i);
  }
  for (; i < n; ++i) {
    out[i] = tessera::detail::half_to_float(in[i]);
  }
}

float ReduceF32(ReduceOp op, const float* in, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  if (op == ReduceOp::Sum) {
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    int64_t i = 0;
    for (; i + 4 * N <= n; i += 4 * N) {
      a0 = hn::Add(a0, hn::LoadU(d, in + i));
      a1 = hn::Add(a1, hn::LoadU(d, in + i + N));
      a2 = hn::Add(a2, hn::LoadU(d, in + i + 2 * N));
      a3 = hn::Add(a3, hn::LoadU(d, in + i + 3 * N));
    }
    for (; i + N <= n; i += N) a0 = hn::Add(a0, hn::LoadU(d, in + i));
    float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
    for (; i < n; ++i) s += in[i];
    return s;
  }
  bool is_max = op == ReduceOp::Max;
  float init = is_max ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  auto acc = hn::Set(d, init);
  auto nan_seen = hn::Zero(d);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    auto x = hn::LoadU(d, in + i);
    acc = is_max ? hn::Max(acc, x) : hn::Min(acc, x);
    nan_seen = hn::Or(nan_seen, hn::VecFromMask(d, hn::IsNaN(x)));
  }
  float r = hn::GetLane(is_max ? hn::MaxOfLanes(d, acc) : hn::MinOfLanes(d, acc));
  const hn::RebindToUnsigned<DF> du;
  bool any_nan = !hn::AllTrue(du, hn::Eq(hn::BitCast(du, nan_seen), hn::Zero(du)));
  for (; i < n; ++i) {
    float x = in[i];
    if (x != x) any_nan = true;
    r = is_max ? (x > r ? x : r) : (x < r ? x : r);
  }
  return any_nan ? std::numeric_limits<float>::quiet_NaN() : r;
}

void AccumulateF32(ReduceOp op, const float* in, float* acc, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  switch (op) {
    case ReduceOp::Sum:
      for (; i + N <= n; i += N) hn::StoreU(hn::Add(hn::LoadU(d, acc + i), hn::LoadU(d, in + i)), d, acc + i);
      for (; i < n; ++i) acc[i] += in[i];
      return;
    case ReduceOp::Prod:
      for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, acc + i), hn::LoadU(d, in + i)), d, acc + i);
      for (; i < n; ++i) acc[i] *= in[i];
      return;
    case ReduceOp::Max:
      for (; i + N <= n; i += N)
        hn::StoreU(BinaryVec<BinaryOp::Maximum>(d, hn::LoadU(d, acc + i), hn::LoadU(d, in + i)), d, acc + i);
      for (; i < n; ++i) acc[i] = (acc[i] != acc[i] || in[i] != in[i]) ? std::numeric_limits<float>::quiet_NaN() : std::max(acc[i], in[i]);
      return;
    case ReduceOp::Min:
      for (; i + N <= n; i += N)
        hn::StoreU(BinaryVec<BinaryOp::Minimum>(d, hn::LoadU(d, acc + i), hn::LoadU(d, in + i)), d, acc + i);
      for (; i < n; ++i) acc[i] = (acc[i] != acc[i] || in[i] != in[i]) ? std::numeric_limits<float>::quiet_NaN() : std::min(acc[i], in[i]);
      return;
    default:
      return;
  }
}


// Softmax of one contiguous row: max pass, exp(x - max) + sum pass (written to out), scale pass
// over out (in cache). Rows whose max is +-inf shift by 0, as the composite does.
void SoftmaxF32(const float* in, float* out, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  float m = ReduceF32(ReduceOp::Max, in, n);
  if (m != m) {
    for (int64_t i = 0; i < n; ++i) out[i] = m;
    return;
  }
  if (std::isinf(m)) m = 0.f;
  const auto vm = hn::Set(d, m);
  const auto lo = hn::Set(d, -87.5f);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    auto e0 = hn::Exp(d, hn::Max(hn::Sub(hn::LoadU(d, in + i), vm), lo));
    auto e1 = hn::Exp(d, hn::Max(hn::Sub(hn::LoadU(d, in + i + N), vm), lo));
    hn::StoreU(e0, d, out + i);
    hn::StoreU(e1, d, out + i + N);
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) {
    float x = in[i] - m;
    out[i] = x < -87.5f ? std::exp(-87.5f) : std::exp(x);
    sum += out[i];
  }
  const float inv = 1.0f / sum;
  const auto vinv = hn::Set(d, inv);
  i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, out + i), vinv), d, out + i);
  for (; i < n; ++i) out[i] *= inv;
}


// Dot product of two contiguous runs with four accumulators.
float DotF32(const float* a, const float* b, int64_t n) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), a0);
    a1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), a1);
    a2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * N), hn::LoadU(d, b + i + 2 * N), a2);
    a3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * N), hn::LoadU(d, b + i + 3 * N), a3);
  }
  for (; i + N <= n; i += N) a0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), a0);
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// ------------------------------------------------------------ fused row kernels

// Partial vectors (the first cnt lanes; the rest are zero on load and dropped on store).
HWY_INLINE hn::Vec<DF> LoadPart(DF d, const float* p, int64_t cnt) {
  HWY_ALIGN float tmp[hn::MaxLanes(d)] = {};
  std::memcpy(tmp, p, size_t(cnt) * sizeof(float));
  return hn::Load(d, tmp);
}

HWY_INLINE void StorePart(DF d, hn::Vec<DF> v, float* p, int64_t cnt) {
  HWY_ALIGN float tmp[hn::MaxLanes(d)];
  hn::Store(v, d, tmp);
  std::memcpy(p, tmp, size_t(cnt) * sizeof(float));
}

// out[i] = f(ld)[i] over a row, where f builds the output vector from inputs read through
// ld(ptr) (the lanes at the current position). With stream, the aligned body uses streaming
// stores (out must not alias the inputs).
template <class F>
HWY_INLINE void MapRow(float* out, int64_t n, bool stream, const F& f) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t i = 0;
  auto part = [&](int64_t cnt) {
    StorePart(d, f([&](const float* p) { return LoadPart(d, p + i, cnt); }), out + i, cnt);
    i += cnt;
  };
  auto full = [&](const float* p) { return hn::LoadU(d, p + i); };
  if (stream) {
    const size_t vb = size_t(N) * sizeof(float);
    int64_t head = int64_t((vb - reinterpret_cast<uintptr_t>(out) % vb) % vb / sizeof(float));
    if (reinterpret_cast<uintptr_t>(out) % sizeof(float) == 0 && head < n) {
      if (head > 0) part(head);
      for (; i + N <= n; i += N) hn::Stream(f(full), d, out + i);
      hwy::FlushStream();
    }
  }
  for (; i + N <= n; i += N) hn::StoreU(f(full), d, out + i);
  if (i < n) part(n - i);
}

// Sum of x[i] and of (x[i] - c)^2 helpers with several accumulators.
HWY_INLINE float SumSqDev(const float* x, int64_t n, float c) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto vc = hn::Set(d, c);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    auto t0 = hn::Sub(hn::LoadU(d, x + i), vc), t1 = hn::Sub(hn::LoadU(d, x + i + N), vc);
    a0 = hn::MulAdd(t0, t0, a0);
    a1 = hn::MulAdd(t1, t1, a1);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
  for (; i < n; ++i) s += (x[i] - c) * (x[i] - c);
  return s;
}

// exp(t) for t <= 0 (NaN kept; t < -86.5, where the result is below 3e-38, gives 0): Cody-Waite
// reduction t = k ln2 + r with |r| <= ln2/2, a degree-7 Taylor polynomial for e^r (truncation
// error < 6e-9 relative) and 2^k added to the exponent bits. About half the work of hn::Exp,
// which also covers positive arguments.
template <bool kKeepNaN>
HWY_INLINE hn::Vec<DF> ExpNonPos(DF d, hn::Vec<DF> t) {
  const hn::RebindToSigned<DF> di;
  const auto lo = hn::Set(d, -86.5f);
  const auto tc = hn::Max(t, lo);
  // k = round(t / ln2) via the 1.5 * 2^23 shifter: its low mantissa bits hold k, so shifting
  // the bit pattern left by 23 gives k << 23 directly.
  const auto [kf, k, r, poly] = ReduceExp(d, tc);
  const auto p = hn::MulAdd(poly, r, hn::Set(d, 1.f));
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // One vscalefps instead of a shift and an add (the same bits: k >= -125 keeps p * 2^k normal;
  // checked over every t <= 0).
  (void)di;
  auto e = hn::IfThenZeroElse(hn::Lt(t, lo), hn::Vec<DF>{_mm512_scalef_ps(p.raw, k.raw)});
#else
  (void)k;
  const auto bits = hn::Add(hn::BitCast(di, p), hn::ShiftLeft<23>(hn::BitCast(di, kf)));
  auto e = hn::IfThenZeroElse(hn::Lt(t, lo), hn::BitCast(d, bits));
#endif
  if constexpr (kKeepNaN) e = hn::IfThenElse(hn::IsNaN(t), t, e);
  return e;
}

// out[i] = exp(in[i] - m) (see ExpNonPos); returns the sum. Prefetches n floats at `pf` (the
// next row) meanwhile so its memory latency overlaps this compute-bound pass.
template <bool kKeepNaN>
HWY_INLINE float ExpShiftSum(const float* in, float* out, int64_t n, float m, const float* pf) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto vm = hn::Set(d, m);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    if (pf) {
      hwy::Prefetch(pf + i);
      hwy::Prefetch(pf + i + N);
    }
    auto e0 = ExpNonPos<kKeepNaN>(d, hn::Sub(hn::LoadU(d, in + i), vm));
    auto e1 = ExpNonPos<kKeepNaN>(d, hn::Sub(hn::LoadU(d, in + i + N), vm));
    hn::StoreU(e0, d, out + i);
    hn::StoreU(e1, d, out + i + N);
    a0 = hn::Add(a0, e0);
    a1 = hn::Add(a1, e1);
  }
  if (pf && i < n) hwy::Prefetch(pf + i);
  for (; i < n; i += N) {
    int64_t cnt = std::min<int64_t>(N, n - i);
    auto e = ExpNonPos<kKeepNaN>(d, hn::Sub(cnt == N ? hn::LoadU(d, in + i) : LoadPart(d, in + i, cnt), vm));
    if (cnt == N) {
      hn::StoreU(e, d, out + i);
    } else {
      e = hn::IfThenElseZero(hn::FirstN(d, size_t(cnt)), e);
      StorePart(d, e, out + i, cnt);
    }
    a0 = hn::Add(a0, e);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
}

float ExpShiftSumF32(float* s, int64_t n, float m) { return ExpShiftSum<true>(s, s, n, m, nullptr); }

void SoftmaxRowF32(const float* in, float* out, float* scratch, int64_t n, bool stream, const float* next) {
  const DF d;
  float m = ReduceF32(ReduceOp::Max, in, n);
  if (m != m || m == std::numeric_limits<float>::infinity()) {
    // NaN rows are NaN; rows holding +inf shift by 0 like the composite (inf/inf = NaN there).
    if (m == m) m = 0.f;
    float sum = 0.f;
    for (int64_t i = 0; i < n; ++i) sum += (scratch[i] = std::exp(in[i] - m));
    for (int64_t i = 0; i < n; ++i) out[i] = scratch[i] / sum;
    return;
  }
  if (std::isinf(m)) m = 0.f;  // all -inf: 0 / 0 = NaN below, as the composite gives
  const float sum = ExpShiftSum<false>(in, scratch, n, m, next);  // no NaN: m is finite
  const auto vinv = hn::Set(d, 1.0f / sum);
  MapRow(out, n, stream, [&](auto ld) { return hn::Mul(ld(scratch), vinv); });
}

// Softmax of `rows` contiguous rows of n floats. The scaled write of each row happens inside the
// exp loop of the next one (two scratch rows alternate), so the output stores overlap the exp
// compute instead of stalling on write bandwidth in a pass of their own; the row after next is
// prefetched meanwhile.
void SoftmaxRowsF32(const float* in, float* out, int64_t rows, int64_t n, float* scratch, bool stream) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  const size_t vb = size_t(N) * sizeof(float);
  const float* pend = nullptr;  // scratch row awaiting its scaled write to pend_out
  float* pend_out = nullptr;
  float pend_inv = 0.f;
  auto flush = [&] {
    if (!pend) return;
    const auto vinv = hn::Set(d, pend_inv);
    const float* sp = pend;
    MapRow(pend_out, n, stream, [&](auto ld) { return hn::Mul(ld(sp), vinv); });
    pend = nullptr;
  };
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * n;
    float* cur = scratch + (r & 1) * n;
    const float* pf = r + 1 < rows ? x + n : nullptr;
    float m = ReduceF32(ReduceOp::Max, x, n);
    if (m != m || m == std::numeric_limits<float>::infinity() || n < 2 * N) {
      flush();
      SoftmaxRowF32(x, out + r * n, cur, n, false, pf);
      continue;
    }
    if (std::isinf(m)) m = 0.f;  // all -inf: 0 / 0 = NaN, as the composite gives
    const auto vm = hn::Set(d, m);
    auto a0 = hn::Zero(d), a1 = hn::Zero(d);
    const auto vinv = hn::Set(d, pend_inv);
    const bool st = pend && stream && reinterpret_cast<uintptr_t>(pend_out) % vb == 0;
    int64_t i = 0;
    for (; i + 2 * N <= n; i += 2 * N) {
      if (pf) {
        hwy::Prefetch(pf + i);
        hwy::Prefetch(pf + i + N);
      }
      auto e0 = ExpNonPos<false>(d, hn::Sub(hn::LoadU(d, x + i), vm));
      auto e1 = ExpNonPos<false>(d, hn::Sub(hn::LoadU(d, x + i + N), vm));
      hn::StoreU(e0, d, cur + i);
      hn::StoreU(e1, d, cur + i + N);
      a0 = hn::Add(a0, e0);
      a1 = hn::Add(a1, e1);
      if (pend) {
        auto o0 = hn::Mul(hn::LoadU(d, pend + i), vinv), o1 = hn::Mul(hn::LoadU(d, pend + i + N), vinv);
        if (st) {
          hn::Stream(o0, d, pend_out + i);
          hn::Stream(o1, d, pend_out + i + N);
        } else {
          hn::StoreU(o0, d, pend_out + i);
          hn::StoreU(o1, d, pend_out + i + N);
        }
      }
    }
    const int64_t done = i;
    for (; i < n; i += N) {
      int64_t cnt = std::min<int64_t>(N, n - i);
      auto e = ExpNonPos<false>(d, hn::Sub(cnt == N ? hn::LoadU(d, x + i) : LoadPart(d, x + i, cnt), vm));
      if (cnt == N) {
        hn::StoreU(e, d, cur + i);
      } else {
        e = hn::IfThenElseZero(hn::FirstN(d, size_t(cnt)), e);
        StorePart(d, e, cur + i, cnt);
      }
      a0 = hn::Add(a0, e);
    }
    if (pend) {
      for (int64_t k = done; k < n; ++k) pend_out[k] = pend[k] * pend_inv;
      if (st) hwy::FlushStream();
    }
    pend = cur;
    pend_out = out + r * n;
    pend_inv = 1.0f / hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
  }
  flush();
}

void RMSNormRowF32(const float* x, const float* w, float* out, int64_t n, float eps, bool stream) {
  const DF d;
  const float inv = 1.0f / std::sqrt(DotF32(x, x, n) / float(n) + eps);
  const auto vinv = hn::Set(d, inv);
  MapRow(out, n, stream, [&](auto ld) { return hn::Mul(hn::Mul(ld(x), vinv), ld(w)); });
}

// With r = 1 / sqrt(mean(x^2) + eps) and S = sum(g w x): dx = r g w - x r^3 S / n, and
// dw += r g x (see RMSNormVjp). Two passes over a row that is in L1 after the first.
void RMSNormVjpRowF32(const float* x, const float* g, const float* w, float* dx, float* dw, int64_t n, float eps) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::MulAdd(hn::Mul(hn::LoadU(d, g + i), hn::LoadU(d, w + i)), hn::LoadU(d, x + i), s0);
    s1 = hn::MulAdd(hn::Mul(hn::LoadU(d, g + i + N), hn::LoadU(d, w + i + N)), hn::LoadU(d, x + i + N), s1);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::Mul(hn::LoadU(d, g + i), hn::LoadU(d, w + i)), hn::LoadU(d, x + i), s0);
  float gwx = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  for (; i < n; ++i) gwx += g[i] * w[i] * x[i];
  const float r = 1.0f / std::sqrt(DotF32(x, x, n) / float(n) + eps);
  const auto vr = hn::Set(d, r), vk = hn::Set(d, r * r * r * gwx / float(n));
  MapRow(dx, n, false, [&](auto ld) { return hn::NegMulAdd(ld(x), vk, hn::Mul(hn::Mul(ld(g), ld(w)), vr)); });
  MapRow(dw, n, false, [&](auto ld) { return hn::MulAdd(hn::Mul(ld(g), ld(x)), vr, ld(dw)); });
}

void LayerNormRowF32(const float* x, const float* w, const float* b, float* out, int64_t n, float eps, bool stream) {
  const DF d;
  const float mu = ReduceF32(ReduceOp::Sum, x, n) / float(n);
  const float inv = 1.0f / std::sqrt(SumSqDev(x, n, mu) / float(n) + eps);
  const auto vmu = hn::Set(d, mu), vinv = hn::Set(d, inv);
  MapRow(out, n, stream, [&](auto ld) {
    return hn::MulAdd(hn::Mul(hn::Sub(ld(x), vmu), vinv), ld(w), ld(b));
  });
}

// ------------------------------------------------------------ attention blocks

template <int kKind>
using KVElem = std::conditional_t<kKind == 0, float, uint16_t>;

// Lanes [i, i + N) of a key/value row, widened to float32.
template <int kKind>
HWY_INLINE hn::Vec<DF> LoadKV(DF d, const KVElem<kKind>* p) {
  if constexpr (kKind == 0) {
    return hn::LoadU(d, p);
  } else if constexpr (kKind == 2) {
    const hn::RebindToUnsigned<DF> du;
    const hn::Rebind<uint16_t, DF> d16;
    return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, p))));
  } else {
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(d, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
  }
}

template <int kKind>
HWY_INLINE float KVScalar(const KVElem<kKind>* p) {
  if constexpr (kKind == 0) return *p;
  else if constexpr (kKind == 2) return tessera::detail::bf16_to_float(*p);
  else return tessera::detail::half_to_float(*p);
}

// GT query rows x JT keys of scores, accumulating over the vector part of D.
template <int kKind, int GT, int JT>
HWY_INLINE void ScoreTile(const float* q, int64_t D, const KVElem<kKind>* k, int64_t ks, int64_t Dv_full,
                          float* s, int64_t ss) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  hn::Vec<DF> acc[GT * JT];
  for (int t = 0; t < GT * JT; ++t) acc[t] = hn::Zero(d);
  for (int64_t x = 0; x < Dv_full; x += N) {
    hn::Vec<DF> kv[JT];
    for (int jj = 0; jj < JT; ++jj) kv[jj] = LoadKV<kKind>(d, k + jj * ks + x);
    for (int gg = 0; gg < GT; ++gg) {
      auto qv = hn::LoadU(d, q + gg * D + x);
      for (int jj = 0; jj < JT; ++jj) acc[gg * JT + jj] = hn::MulAdd(qv, kv[jj], acc[gg * JT + jj]);
    }
  }
  for (int gg = 0; gg < GT; ++gg) {
    for (int jj = 0; jj < JT; ++jj) {
      float r = hn::GetLane(hn::SumOfLanes(d, acc[gg * JT + jj]));
      for (int64_t x = Dv_full; x < D; ++x) r += q[gg * D + x] * KVScalar<kKind>(k + jj * ks + x);
      s[gg * ss + jj] = r;
    }
  }
}

// Scores of GB query rows for heads narrower than a vector (stories260K's are 8 wide), float32
// keys: lane i of the gather at element x holds k[(j + i) * ks + x], so a block of N keys takes D
// gathers and D broadcast FMAs per row, with no horizontal sums.
template <int GB>
HWY_INLINE void ScoresNarrowRows(const float* q, int64_t D, const float* k, int64_t ks, int64_t nk, float* s,
                                 int64_t ss) {
  const DF d;
  const hn::RebindToSigned<DF> di;
  const int64_t N = int64_t(hn::Lanes(d));
  const auto iota = hn::Iota(di, 0), stride = hn::Set(di, int32_t(ks));
  HWY_ALIGN float part[GB][hn::MaxLanes(DF())];
  for (int64_t j = 0; j < nk; j += N) {
    const int64_t count = std::min(N, nk - j);
    // A partial block re-reads its last key in the spare lanes rather than reading past the cache.
    const auto lanes = count == N ? iota : hn::Min(iota, hn::Set(di, int32_t(count - 1)));
    const auto idx = hn::Mul(lanes, stride);
    const float* kj = k + j * ks;
    hn::Vec<DF> acc[GB];
    for (int g = 0; g < GB; ++g) acc[g] = hn::Zero(d);
    for (int64_t x = 0; x < D; ++x) {
      const auto kx = hn::GatherIndex(d, kj + x, idx);
      for (int g = 0; g < GB; ++g) acc[g] = hn::MulAdd(hn::Set(d, q[g * D + x]), kx, acc[g]);
    }
    for (int g = 0; g < GB; ++g) {
      if (count == N) {
        hn::StoreU(acc[g], d, s + g * ss + j);
      } else {
        hn::Store(acc[g], d, part[g]);
        std::memcpy(s + g * ss + j, part[g], size_t(count) * sizeof(float));
      }
    }
  }
}

// The narrow-head scores for any number of query rows, four at a time (one gather serves them).
void ScoresNarrow(const float* q, int64_t G, int64_t D, const float* k, int64_t ks, int64_t nk, float* s,
                  int64_t ss) {
  InRowGroups(G, [&](auto mr, int64_t g) {
    ScoresNarrowRows<decltype(mr)::value>(q + g * D, D, k, ks, nk, s + g * ss, ss);
  });
}

template <int kKind>
void AttnScoresT(const float* q, int64_t G, int64_t D, const KVElem<kKind>* k, int64_t ks, int64_t nk, float* s,
                 int64_t ss) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  if constexpr (kKind == 0) {
    // Gather indices are 32-bit.
    if (D < N && nk * ks < (int64_t(1) << 31)) return ScoresNarrow(q, G, D, k, ks, nk, s, ss);
  }
  const int64_t Df = D / N * N;
  int64_t g = 0;
  for (; g + 4 <= G; g += 4) {
    int64_t j = 0;
    for (; j + 2 <= nk; j += 2) ScoreTile<kKind, 4, 2>(q + g * D, D, k + j * ks, ks, Df, s + g * ss + j, ss);
    for (; j < nk; ++j) ScoreTile<kKind, 4, 1>(q + g * D, D, k + j * ks, ks, Df, s + g * ss + j, ss);
  }
  for (; g < G; ++g) {
    int64_t j = 0;
    for (; j + 4 <= nk; j += 4) ScoreTile<kKind, 1, 4>(q + g * D, D, k + j * ks, ks, Df, s + g * ss + j, ss);
    for (; j < nk; ++j) ScoreTile<kKind, 1, 1>(q + g * D, D, k + j * ks, ks, Df, s + g * ss + j, ss);
  }
}

void AttnScores(int kind, const float* q, int64_t G, int64_t D, const void* k, int64_t ks, int64_t nk, float* s,
                int64_t ss) {
  if (kind == 0) AttnScoresT<0>(q, G, D, static_cast<const float*>(k), ks, nk, s, ss);
  else if (kind == 1) AttnScoresT<1>(q, G, D, static_cast<const uint16_t*>(k), ks, nk, s, ss);
  else AttnScoresT<2>(q, G, D, static_cast<const uint16_t*>(k), ks, nk, s, ss);
}

// Scores of many query rows against one key block (prompt processing): the block is transposed
// once into kt ([D][ldk] floats, ldk = nk rounded up to whole vectors, zero padded), then each
// tile of MR rows by two vectors of keys accumulates broadcast(q) * kt over D, with no
// horizontal sums. s[r * ss + j] for r < R, j < ldk (padding columns hold zeros' products).
// Columns [0, cols) of kt's rows (stride ldk; cols a multiple of the vector length).
template <int MR>
HWY_INLINE void ScoresTileRows(const float* q, int64_t D, const float* kt, int64_t ldk, int64_t cols, float* s,
                               int64_t ss) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  int64_t j = 0;
  for (; j + 2 * N <= cols; j += 2 * N) {
    hn::Vec<DF> acc[MR][2];
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = hn::Zero(d);
    for (int64_t x = 0; x < D; ++x) {
      const auto k0 = hn::LoadU(d, kt + x * ldk + j), k1 = hn::LoadU(d, kt + x * ldk + j + N);
      for (int r = 0; r < MR; ++r) {
        const auto qb = hn::Set(d, q[r * D + x]);
        acc[r][0] = hn::MulAdd(qb, k0, acc[r][0]);
        acc[r][1] = hn::MulAdd(qb, k1, acc[r][1]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      hn::StoreU(acc[r][0], d, s + r * ss + j);
      hn::StoreU(acc[r][1], d, s + r * ss + j + N);
    }
  }
  for (; j < cols; j += N) {
    hn::Vec<DF> acc[MR];
    for (int r = 0; r < MR; ++r) acc[r] = hn::Zero(d);
    for (int64_t x = 0; x < D; ++x) {
      const auto k0 = hn::LoadU(d, kt + x * ldk + j);
      for (int r = 0; r < MR; ++r) acc[r] = hn::MulAdd(hn::Set(d, q[r * D + x]), k0, acc[r]);
    }
    for (int r = 0; r < MR; ++r) hn::StoreU(acc[r], d, s + r * ss + j);
  }
}

HWY_INLINE void ScoresRows(const float* q, int64_t R, int64_t D, const float* kt, int64_t ldk, int64_t cols, float* s,
                           int64_t ss) {
  InRowGroups(R, [&](auto mr, int64_t r) {
    ScoresTileRows<decltype(mr)::value>(q + r * D, D, kt, ldk, cols, s + r * ss, ss);
  });
}

template <int kKind>
void AttnScoresTiledT(const float* q, int64_t R, int64_t D, const KVElem<kKind>* k, int64_t ks, int64_t nk, float* s,
                      int64_t ss, float* kt) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  const int64_t ldk = (nk + N - 1) / N * N;
  for (int64_t x = 0; x < D; ++x) {
    float* row = kt + x * ldk;
    for (int64_t j = 0; j < nk; ++j) row[j] = KVScalar<kKind>(k + j * ks + x);
    for (int64_t j = nk; j < ldk; ++j) row[j] = 0.f;
  }
  ScoresRows(q, R, D, kt, ldk, ldk, s, ss);
}

// Scores against keys the caller transposed once (kt [D][ldk], zero padded past the keys), for
// the first nk of them (whole vectors: s gets round_up(nk, lanes) columns).
void AttnScoresTransposed(const float* q, int64_t R, int64_t D, const float* kt, int64_t ldk, int64_t nk, float* s,
                          int64_t ss) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  ScoresRows(q, R, D, kt, ldk, std::min(ldk, (nk + N - 1) / N * N), s, ss);
}

void AttnScoresTiled(int kind, const float* q, int64_t R, int64_t D, const void* k, int64_t ks, int64_t nk, float* s,
                     int64_t ss, float* kt) {
  if (kind == 0) AttnScoresTiledT<0>(q, R, D, static_cast<const float*>(k), ks, nk, s, ss, kt);
  else if (kind == 1) AttnScoresTiledT<1>(q, R, D, static_cast<const uint16_t*>(k), ks, nk, s, ss, kt);
  else AttnScoresTiledT<2>(q, R, D, static_cast<const uint16_t*>(k), ks, nk, s, ss, kt);
}

// acc[r * Dv + x] += sum_j p[r * ps + j] * v[j * vs + x] for MR rows and CV vectors of columns
// starting at x0, the accumulators held in registers over all nk keys.
template <int kKind, int MR, int CV>
HWY_INLINE void AccumulateTile(const float* p, int64_t ps, const KVElem<kKind>* v, int64_t vs, int64_t nk, float* acc,
                               int64_t Dv, int64_t x0) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
  hn::Vec<DF> a[MR][CV];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < CV; ++c) a[r][c] = hn::LoadU(d, acc + r * Dv + x0 + c * N);
  for (int64_t j = 0; j < nk; ++j) {
    hn::Vec<DF> vv[CV];
    for (int c = 0; c < CV; ++c) vv[c] = LoadKV<kKind>(d, v + j * vs + x0 + c * N);
    for (int r = 0; r < MR; ++r) {
      const auto pb = hn::Set(d, p[r * ps + j]);
      for (int c = 0; c < CV; ++c) a[r][c] = hn::MulAdd(pb, vv[c], a[r][c]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < CV; ++c) hn::StoreU(a[r][c], d, acc + r * Dv + x0 + c * N);
}

template <int kKind, int MR>
HWY_INLINE void AccumulateRows(const float* p, int64_t ps, const KVElem<kKind>* v, int64_t vs, int64_t nk,
                               int64_t Dv, float* acc) {
  const int64_t N = int64_t(hn::Lanes(DF()));
  const int64_t Df = Dv / N * N;
  int64_t x = 0;
  for (; x + 4 * N <= Df; x += 4 * N) AccumulateTile<kKind, MR, 4>(p, ps, v, vs, nk, acc, Dv, x);
  for (; x + N <= Df; x += N) AccumulateTile<kKind, MR, 1>(p, ps, v, vs, nk, acc, Dv, x);
  for (; x < Dv; ++x)
    for (int r = 0; r < MR; ++r) {
      float t = 0.f;
      for (int64_t j = 0; j < nk; ++j) t += p[r * ps + j] * KVScalar<kKind>(v + j * vs + x);
      acc[r * Dv + x] += t;
    }
}

// The value accumulation for many rows (prompt processing): tiles of four rows by four vectors
// of columns keep their sums in registers across the whole key block.
template <int kKind>
void AttnAccumulateTiledT(const float* p, int64_t R, int64_t ps, const KVElem<kKind>* v, int64_t vs, int64_t nk,
                          int64_t Dv, float* acc) {
  InRowGroups(R, [&](auto mr, int64_t r) {
    AccumulateRows<kKind, decltype(mr)::value>(p + r * ps, ps, v, vs, nk, Dv, acc + r * Dv);
  });
}

void AttnAccumulateTiled(int kind, const float* p, int64_t R, int64_t ps, const void* v, int64_t vs, int64_t nk,
                         int64_t Dv, float* acc) {
  if (kind == 0) AttnAccumulateTiledT<0>(p, R, ps, static_cast<const float*>(v), vs, nk, Dv, acc);
  else if (kind == 1) AttnAccumulateTiledT<1>(p, R, ps, static_cast<const uint16_t*>(v), vs, nk, Dv, acc);
  else AttnAccumulateTiledT<2>(p, R, ps, static_cast<const uint16_t*>(v), vs, nk, Dv, acc);
}

// acc[g * Dv + x] += sum_j p[g * ps + j] * v[j * vs + x] for GB rows when a value row is
// narrower than a vector: each key's row is one masked load; two sets of accumulators (even and
// odd keys) halve the chain of dependent FMAs.
template <int GB>
HWY_INLINE void AccumulateNarrowRows(const float* p, int64_t ps, const float* v, int64_t vs, int64_t nk, int64_t Dv,
                                     float* acc) {
  const DF d;
  const auto m = hn::FirstN(d, size_t(Dv));
  hn::Vec<DF> a0[GB], a1[GB];
  for (int g = 0; g < GB; ++g) {
    a0[g] = hn::MaskedLoad(m, d, acc + g * Dv);
    a1[g] = hn::Zero(d);
  }
  int64_t j = 0;
  for (; j + 2 <= nk; j += 2) {
    const auto v0 = hn::MaskedLoad(m, d, v + j * vs), v1 = hn::MaskedLoad(m, d, v + (j + 1) * vs);
    for (int g = 0; g < GB; ++g) {
      a0[g] = hn::MulAdd(hn::Set(d, p[g * ps + j]), v0, a0[g]);
      a1[g] = hn::MulAdd(hn::Set(d, p[g * ps + j + 1]), v1, a1[g]);
    }
  }
  if (j < nk) {
    const auto v0 = hn::MaskedLoad(m, d, v + j * vs);
    for (int g = 0; g < GB; ++g) a0[g] = hn::MulAdd(hn::Set(d, p[g * ps + j]), v0, a0[g]);
  }
  HWY_ALIGN float row[hn::MaxLanes(DF())];
  for (int g = 0; g < GB; ++g) {
    hn::Store(hn::Add(a0[g], a1[g]), d, row);
    std::memcpy(acc + g * Dv, row, size_t(Dv) * sizeof(float));
  }
}

#if HWY_TARGET <= HWY_AVX2
void AccumulateNarrow(const float* p, int64_t G, int64_t ps, const float* v, int64_t vs, int64_t nk, int64_t Dv,
                      float* acc) {
  InRowGroups(G, [&](auto mr, int64_t g) {
    AccumulateNarrowRows<decltype(mr)::value>(p + g * ps, ps, v, vs, nk, Dv, acc + g * Dv);
  });
}
#endif

template <int kKind>
void AttnAccumulateT(const float* p, int64_t G, int64_t ps, const KVElem<kKind>* v, int64_t vs, int64_t nk,
                     int64_t Dv, float* acc) {
  const DF d;
  const int64_t N = int64_t(hn::Lanes(d));
#if HWY_TARGET <= HWY_AVX2
  // Only where masked loads leave the masked lanes unread: a narrower target emulates them with
  // a full load, which could step past the end of the cache.
  if constexpr (kKind == 0) {
    if (Dv < N) return AccumulateNarrow(p, G, ps, v, vs, nk, Dv, acc);
  }
#endif
  const int64_t Df = Dv / N * N;
  int64_t j = 0;
  for (; j + 4 <= nk; j += 4) {
    const KVElem<kKind>* v0 = v + j * vs;
    for (int64_t g = 0; g < G; ++g) {
      const float* pg = p + g * ps + j;
      const auto p0 = hn::Set(d, pg[0]), p1 = hn::Set(d, pg[1]), p2 = hn::Set(d, pg[2]), p3 = hn::Set(d, pg[3]);
      float* ag = acc + g * Dv;
      for (int64_t x = 0; x < Df; x += N) {
        auto a = hn::LoadU(d, ag + x);
        a = hn::MulAdd(p0, LoadKV<kKind>(d, v0 + x), a);
        a = hn::MulAdd(p1, LoadKV<kKind>(d, v0 + vs + x), a);
        a = hn::MulAdd(p2, LoadKV<kKind>(d, v0 + 2 * vs + x), a);
        a = hn::MulAdd(p3, LoadKV<kKind>(d, v0 + 3 * vs + x), a);
        hn::StoreU(a, d, ag + x);
      }
      for (int64_t x = Df; x < Dv; ++x) {
        for (int jj = 0; jj < 4; ++jj) ag[x] += pg[jj] * KVScalar<kKind>(v0 + jj * vs + x);
      }
    }
  }
  for (; j < nk; ++j) {
    const KVElem<kKind>* v0 = v + j * vs;
    for (int64_t g = 0; g < G; ++g) {
      const float pj = p[g * ps + j];
      const auto p0 = hn::Set(d, pj);
      float* ag = acc + g * Dv;
      for (int64_t x = 0; x < Df; x += N) hn::StoreU(hn::MulAdd(p0, LoadKV<kKind>(d, v0 + x), hn::LoadU(d, ag + x)), d, ag + x);
      for (int64_t x = Df; x < Dv; ++x) ag[x] += pj * KVScalar<kKind>(v0 + x);
    }
  }
}

void AttnAccumulate(int kind, const float* p, int64_t G, int64_t ps, const void* v, int64_t vs, int64_t nk, int64_t Dv,
                    float* acc) {
  if (kind == 0) AttnAccumulateT<0>(p, G, ps, static_cast<const float*>(v), vs, nk, Dv, acc);
  else if (kind == 1) AttnAccumulateT<1>(p, G, ps, static_cast<const uint16_t*>(v), vs, nk, Dv, acc);
  else AttnAccumulateT<2>(p, G, ps, static_cast<const uint16_t*>(v), vs, nk, Dv, acc);
}

}  // namespace HWY_NAMESPACE
}  // namespace tessera::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tessera::simd {

HWY_EXPORT(UnaryF32);
HWY_EXPORT(BinaryF32);
HWY_EXPORT(MulThenF32);
HWY_EXPORT(BinaryBF16);
HWY_EXPORT(F32To16);
HWY_EXPORT(F16To32);
HWY_EXPORT(ReduceF32);
HWY_EXPORT(AccumulateF32);
HWY_EXPORT(SoftmaxF32);
HWY_EXPORT(DotF32);
HWY_EXPORT(SoftmaxRowF32);
HWY_EXPORT(SoftmaxRowsF32);
HWY_EXPORT(RMSNormRowF32);
HWY_EXPORT(RMSNormVjpRowF32);
HWY_EXPORT(LayerNormRowF32);
HWY_EXPORT(AttnScores);
HWY_EXPORT(AttnScoresTiled);
HWY_EXPORT(AttnScoresTransposed);
HWY_EXPORT(AttnAccumulateTiled);
HWY_EXPORT(ExpShiftSumF32);
HWY_EXPORT(AttnAccumulate);

bool has_unary_f32(UnaryOp op) {
  switch (op) {
    case UnaryOp::Abs: case UnaryOp::Negative: case UnaryOp::Square: case UnaryOp::Sqrt: case UnaryOp::Rsqrt:
    case UnaryOp::Reciprocal: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round: case UnaryOp::Exp:
    case UnaryOp::Log: case UnaryOp::Tanh: case UnaryOp::Sigmoid: case UnaryOp::Sin: case UnaryOp::Cos:
      return true;
    default:
      return false;
  }
}

bool unary_f32(UnaryOp op, const float* in, float* out, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(UnaryF32)(op, in, out, n);
}

bool has_binary_f32(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: case BinaryOp::Subtract: case BinaryOp::Multiply: case BinaryOp::Divide:
    case BinaryOp::Maximum: case BinaryOp::Minimum:
      return true;
    default:
      return false;
  }
}

bool binary_f32(BinaryOp op, const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(BinaryF32)(op, a, as, b, bs, out, n);
}

bool mul_then_f32(BinaryOp op, bool c_first, const float* a, const float* b, bool b_scalar, const float* c,
                  bool c_scalar, float* out, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(MulThenF32)(op, c_first, a, b, b_scalar, c, c_scalar, out, n);
}

bool binary_bf16(BinaryOp op, const uint16_t* a, bool as, const uint16_t* b, bool bs, uint16_t* out, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(BinaryBF16)(op, a, as, b, bs, out, n);
}

void f32_to_16(const float* in, uint16_t* out, size_t n, bool bf16) { HWY_DYNAMIC_DISPATCH(F32To16)(in, out, n, bf16); }
void f16_to_32(const uint16_t* in, float* out, size_t n, bool bf16) { HWY_DYNAMIC_DISPATCH(F16To32)(in, out, n, bf16); }
float reduce_f32(ReduceOp op, const float* in, int64_t n) { return HWY_DYNAMIC_DISPATCH(ReduceF32)(op, in, n); }
void accumulate_f32(ReduceOp op, const float* in, float* acc, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AccumulateF32)(op, in, acc, n);
}

void softmax_f32(const float* in, float* out, int64_t n) { HWY_DYNAMIC_DISPATCH(SoftmaxF32)(in, out, n); }

float dot_f32(const float* a, const float* b, int64_t n) { return HWY_DYNAMIC_DISPATCH(DotF32)(a, b, n); }

void softmax_row_f32(const float* in, float* out, float* scratch, int64_t n, bool stream, const float* next) {
  HWY_DYNAMIC_DISPATCH(SoftmaxRowF32)(in, out, scratch, n, stream, next);
}
void softmax_rows_f32(const float* in, float* out, int64_t rows, int64_t n, float* scratch, bool stream) {
  HWY_DYNAMIC_DISPATCH(SoftmaxRowsF32)(in, out, rows, n, scratch, stream);
}
void rms_norm_row_f32(const float* x, const float* w, float* out, int64_t n, float eps, bool stream) {
  HWY_DYNAMIC_DISPATCH(RMSNormRowF32)(x, w, out, n, eps, stream);
}
void rms_norm_vjp_row_f32(const float* x, const float* g, const float* w, float* dx, float* dw, int64_t n, float eps) {
  HWY_DYNAMIC_DISPATCH(RMSNormVjpRowF32)(x, g, w, dx, dw, n, eps);
}
void layer_norm_row_f32(const float* x, const float* w, const float* b, float* out, int64_t n, float eps,
                        bool stream) {
  HWY_DYNAMIC_DISPATCH(LayerNormRowF32)(x, w, b, out, n, eps, stream);
}
void attn_scores(int kind, const float* q, int64_t G, int64_t D, const void* k, int64_t k_stride, int64_t nk,
                 float* scores, int64_t s_stride) {
  HWY_DYNAMIC_DISPATCH(AttnScores)(kind, q, G, D, k, k_stride, nk, scores, s_stride);
}
void attn_scores_transposed(const float* q, int64_t R, int64_t D, const float* kt, int64_t ldk, int64_t nk,
                            float* scores, int64_t s_stride) {
  HWY_DYNAMIC_DISPATCH(AttnScoresTransposed)(q, R, D, kt, ldk, nk, scores, s_stride);
}

void attn_scores_tiled(int kind, const float* q, int64_t R, int64_t D, const void* k, int64_t k_stride, int64_t nk,
                       float* scores, int64_t s_stride, float* kt) {
  HWY_DYNAMIC_DISPATCH(AttnScoresTiled)(kind, q, R, D, k, k_stride, nk, scores, s_stride, kt);
}
void attn_accumulate_tiled(int kind, const float* p, int64_t R, int64_t p_stride, const void* v, int64_t v_stride,
                           int64_t nk, int64_t Dv, float* acc) {
  HWY_DYNAMIC_DISPATCH(AttnAccumulateTiled)(kind, p, R, p_stride, v, v_stride, nk, Dv, acc);
}
float exp_shift_sum_f32(float* s, int64_t n, float m) { return HWY_DYNAMIC_DISPATCH(ExpShiftSumF32)(s, n, m); }
void attn_accumulate(int kind, const float* p, int64_t G, int64_t p_stride, const void* v, int64_t v_stride,
                     int64_t nk, int64_t Dv, float* acc) {
  HWY_DYNAMIC_DISPATCH(AttnAccumulate)(kind, p, G, p_stride, v, v_stride, nk, Dv, acc);
}

}  // namespace tessera::simd
#endif
