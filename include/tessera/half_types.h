// 16-bit floating point storage types. Arithmetic happens in float32 and rounds back with
// round-to-nearest-even, which is what IEEE 754 binary16 and bfloat16 hardware does.
#pragma once

#include <cstdint>
#include <cstring>
#include <ostream>

namespace tessera {

namespace detail {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary16 -> binary32, exact for every input including subnormals, inf and NaN.
inline float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    // Subnormal or zero: value = mant * 2^-24.
    float v = float(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

// binary32 -> binary16 with round-to-nearest-even, overflow to inf, NaN kept quiet.
inline uint16_t float_to_half(float f) {
  uint32_t x = float_bits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds to >= 65520 -> inf
  if (ax < 0x38800000u) {
    // Result is subnormal in half: add a magic number so the FPU does the rounding.
    float v = bits_float(ax) + 0.5f;
    return uint16_t(sign | (float_bits(v) - 0x3f000000u));
  }
  uint32_t mant_odd = (ax >> 13) & 1;
  ax += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
  return uint16_t(sign | (ax >> 13));
}

inline float bf16_to_float(uint16_t b) { return bits_float(uint32_t(b) << 16); }

inline uint16_t float_to_bf16(float f) {
  uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

}  // namespace detail

struct float16_t {
  uint16_t bits;
  float16_t() = default;
  float16_t(float f) : bits(detail::float_to_half(f)) {}
  float16_t(double d) : float16_t(float(d)) {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  float16_t(T v) : float16_t(float(v)) {}
  operator float() const { return detail::half_to_float(bits); }
  static float16_t from_bits(uint16_t b) {
    float16_t h;
    h.bits = b;
    return h;
  }
};

struct bfloat16_t {
  uint16_t bits;
  bfloat16_t() = default;
  bfloat16_t(float f) : bits(detail::float_to_bf16(f)) {}
  bfloat16_t(double d) : bfloat16_t(float(d)) {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  bfloat16_t(T v) : bfloat16_t(float(v)) {}
  operator float() const { return detail::bf16_to_float(bits); }
  static bfloat16_t from_bits(uint16_t b) {
    bfloat16_t h;
    h.bits = b;
    return h;
  }
};

inline std::ostream& operator<<(std::ostream& os, float16_t v) { return os << float(v); }
inline std::ostream& operator<<(std::ostream& os, bfloat16_t v) { return os << float(v); }

}  // namespace tessera
