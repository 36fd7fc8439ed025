// Scalar semantics of the elementwise ops, shared by every backend (the reference backend runs
// them element by element; the CPU backend uses them wherever it has no SIMD kernel). 16-bit
// floats compute in float32. NumPy's conventions: remainder and floor_divide follow the sign
// of the divisor, maximum/minimum propagate NaN, integer shifts past the width give 0.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/dispatch.h"
#include "primitives/elementwise.h"

namespace tessera::scalar {

template <typename T>
using compute_t = std::conditional_t<is_half_v<T>, float, T>;

template <typename T>
inline bool isnan_v(T x) {
  if constexpr (is_complex_v<T>) return std::isnan(x.real()) || std::isnan(x.imag());
  else if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
  else return false;
}

// Inverse error function: Giles' single-precision approximation refined by two Newton steps
// on erf, accurate to about 1 ulp in float64 on (-1, 1).
template <typename T>
inline T erfinv_v(T y) {
  if (y <= T(-1)) return y == T(-1) ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::quiet_NaN();
  if (y >= T(1)) return y == T(1) ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::quiet_NaN();
  double x = double(y);
  double w = -std::log((1.0 - x) * (1.0 + x));
  double p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double r = p * x;
  const double two_over_sqrt_pi = 1.1283791670955126;
  for (int i = 0; i < 2; ++i) {
    double err = std::erf(r) - x;
    r -= err / (two_over_sqrt_pi * std::exp(-r * r));
  }
  return T(r);
}

template <typename T>
inline T round_half_even(T x) {
  return std::nearbyint(x);  // default rounding mode is round-half-to-even, as NumPy
}

template <UnaryOp op, typename T>
inline auto unary(T x) {
  using C = compute_t<T>;
  C v = static_cast<C>(x);
  constexpr bool cplx = is_complex_v<C>;
  constexpr bool flt = std::is_floating_point_v<C>;
  if constexpr (op == UnaryOp::Abs) {
    if constexpr (cplx) return std::abs(v);
    else if constexpr (std::is_unsigned_v<C>) return v;
    else return C(v < C(0) ? C(-v) : v);
  } else if constexpr (op == UnaryOp::Negative) {
    return C(-v);
  } else if constexpr (op == UnaryOp::Sign) {
    if constexpr (cplx) {
      float a = std::abs(v);
      return a == 0.f ? C(0) : C(v / a);
    } else if constexpr (std::is_unsigned_v<C>) {
      return C(v != 0);
    } else if constexpr (flt) {
      return std::isnan(v) ? v : C((v > 0) - (v < 0));
    } else {
      return C((v > 0) - (v < 0));
    }
  } else if constexpr (op == UnaryOp::LogicalNot) {
    if constexpr (cplx) return v == C(0);
    else return !static_cast<bool>(v);
  } else if constexpr (op == UnaryOp::Square) {
    return C(v * v);
  } else if constexpr (op == UnaryOp::Sqrt) {
    return std::sqrt(v);
  } else if constexpr (op == UnaryOp::Rsqrt) {
    return C(C(1) / std::sqrt(v));
  } else if constexpr (op == UnaryOp::Reciprocal) {
    return C(C(1) / v);
  } else if constexpr (op == UnaryOp::Exp) {
    return std::exp(v);
  } else if constexpr (op == UnaryOp::Expm1) {
    return std::expm1(v);
  } else if constexpr (op == UnaryOp::Log) {
    return std::log(v);
  } else if constexpr (op == UnaryOp::Log2) {
    if constexpr (cplx) return C(std::log(v) / std::log(2.0f));
    else return std::log2(v);
  } else if constexpr (op == UnaryOp::Log10) {
    return std::log10(v);
  } else if constexpr (op == UnaryOp::Log1p) {
    return std::log1p(v);
  } else if constexpr (op == UnaryOp::Sin) {
    return std::sin(v);
  } else if constexpr (op == UnaryOp::Cos) {
    return std::cos(v);
  } else if constexpr (op == UnaryOp::Tan) {
    return std::tan(v);
  } else if constexpr (op == UnaryOp::ArcSin) {
    return std::asin(v);
  } else if constexpr (op == UnaryOp::ArcCos) {
    return std::acos(v);
  } else if constexpr (op == UnaryOp::ArcTan) {
    return std::atan(v);
  } else if constexpr (op == UnaryOp::Sinh) {
    return std::sinh(v);
  } else if constexpr (op == UnaryOp::Cosh) {
    return std::cosh(v);
  } else if constexpr (op == UnaryOp::Tanh) {
    return std::tanh(v);
  } else if constexpr (op == UnaryOp::ArcSinh) {
    return std::asinh(v);
  } else if constexpr (op == UnaryOp::ArcCosh) {
    return std::acosh(v);
  } else if constexpr (op == UnaryOp::ArcTanh) {
    return std::atanh(v);
  } else if constexpr (op == UnaryOp::Floor) {
    if constexpr (flt) return std::floor(v);
    else return v;
  } else if constexpr (op == UnaryOp::Ceil) {
    if constexpr (flt) return std::ceil(v);
    else return v;
  } else if constexpr (op == UnaryOp::Round) {
    if constexpr (flt) return round_half_even(v);
    else if constexpr (cplx) return C(round_half_even(v.real()), round_half_even(v.imag()));
    else return v;
  } else if constexpr (op == UnaryOp::Sigmoid) {
    // Both branches avoid overflow of exp for large |v|.
    if (v >= C(0)) return C(C(1) / (C(1) + std::exp(-v)));
    C e = std::exp(v);
    return C(e / (C(1) + e));
  } else if constexpr (op == UnaryOp::Erf) {
    return std::erf(v);
  } else if constexpr (op == UnaryOp::ErfInv) {
    return erfinv_v(v);
  } else if constexpr (op == UnaryOp::IsNan) {
    return isnan_v(v);
  } else if constexpr (op == UnaryOp::IsInf) {
    if constexpr (flt) return std::isinf(v);
    else if constexpr (cplx) return std::isinf(v.real()) || std::isinf(v.imag());
    else return false;
  } else if constexpr (op == UnaryOp::IsPosInf) {
    if constexpr (flt) return std::isinf(v) && v > 0;
    else return false;
  } else if constexpr (op == UnaryOp::IsNegInf) {
    if constexpr (flt) return std::isinf(v) && v < 0;
    else return false;
  } else if constexpr (op == UnaryOp::IsFinite) {
    if constexpr (flt) return std::isfinite(v);
    else if constexpr (cplx) return std::isfinite(v.real()) && std::isfinite(v.imag());
    else return true;
  } else if constexpr (op == UnaryOp::Real) {
    return v.real();
  } else if constexpr (op == UnaryOp::Imag) {
    return v.imag();
  } else if constexpr (op == UnaryOp::Conjugate) {
    return std::conj(v);
  } else if constexpr (op == UnaryOp::BitwiseInvert) {
    if constexpr (std::is_same_v<C, bool>) return !v;
    else return C(~v);
  } else {
    static_assert(op == UnaryOp::StopGradient);
    return v;
  }
}

template <typename T>
inline T int_pow(T base, T exp) {
  if constexpr (std::is_signed_v<T>) {
    if (exp < 0) return base == 1 ? T(1) : (base == -1 ? T((exp & 1) ? -1 : 1) : T(0));
  }
  T result = 1;
  while (exp) {
    if (exp & 1) result = T(result * base);
    exp >>= 1;
    base = T(base * base);
  }
  return result;
}

template <BinaryOp op, typename T>
inline auto binary(T x, T y) {
  using C = compute_t<T>;
  C a = static_cast<C>(x), b = static_cast<C>(y);
  constexpr bool cplx = is_complex_v<C>;
  constexpr bool flt = std::is_floating_point_v<C>;
  constexpr bool is_bool = std::is_same_v<C, bool>;
  if constexpr (op == BinaryOp::Add) {
    if constexpr (is_bool) return bool(a || b);
    else return C(a + b);
  } else if constexpr (op == BinaryOp::Subtract) {
    return C(a - b);
  } else if constexpr (op == BinaryOp::Multiply) {
    if constexpr (is_bool) return bool(a && b);
    else return C(a * b);
  } else if constexpr (op == BinaryOp::Divide) {
    return C(a / b);
  } else if constexpr (op == BinaryOp::FloorDivide) {
    if constexpr (flt) {
      return std::floor(a / b);
    } else {
      if (b == 0) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (b == C(-1)) return C(-a);  // avoids the INT_MIN / -1 trap; wraps like NumPy
        C q = C(a / b);
        if ((a % b != 0) && ((a < 0) != (b < 0))) q = C(q - 1);
        return q;
      } else {
        return C(a / b);
      }
    }
  } else if constexpr (op == BinaryOp::Remainder) {
    if constexpr (flt) {
      C r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return r;
    } else {
      if (b == 0) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (b == C(-1)) return C(0);
        C r = C(a % b);
        if (r != 0 && ((r < 0) != (b < 0))) r = C(r + b);
        return r;
      } else {
        return C(a % b);
      }
    }
  } else if constexpr (op == BinaryOp::Power) {
    if constexpr (flt || cplx) return C(std::pow(a, b));
    else return int_pow(a, b);
  } else if constexpr (op == BinaryOp::Maximum) {
    if constexpr (flt) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
    }
    if constexpr (cplx) return (a.real() > b.real() || (a.real() == b.real() && a.imag() >= b.imag())) ? a : b;
    else return a > b ? a : b;
  } else if constexpr (op == BinaryOp::Minimum) {
    if constexpr (flt) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
    }
    if constexpr (cplx) return (a.real() < b.real() || (a.real() == b.real() && a.imag() <= b.imag())) ? a : b;
    else return a < b ? a : b;
  } else if constexpr (op == BinaryOp::ArcTan2) {
    return std::atan2(a, b);
  } else if constexpr (op == BinaryOp::LogAddExp) {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<C>::quiet_NaN();
    C m = a > b ? a : b;
    if (std::isinf(m) && m < 0) return m;
    if (std::isinf(m)) return m;
    return C(m + std::log1p(std::exp(-std::abs(a - b))));
  } else if constexpr (op == BinaryOp::Equal) {
    return a == b;
  } else if constexpr (op == BinaryOp::NotEqual) {
    return a != b;
  } else if constexpr (op == BinaryOp::EqualNaN) {
    return a == b || (isnan_v(a) && isnan_v(b));
  } else if constexpr (op == BinaryOp::Less) {
    if constexpr (cplx) return a.real() < b.real() || (a.real() == b.real() && a.imag() < b.imag());
    else return a < b;
  } else if constexpr (op == BinaryOp::LessEqual) {
    if constexpr (cplx) return a.real() < b.real() || (a.real() == b.real() && a.imag() <= b.imag());
    else return a <= b;
  } else if constexpr (op == BinaryOp::Greater) {
    if constexpr (cplx) return a.real() > b.real() || (a.real() == b.real() && a.imag() > b.imag());
    else return a > b;
  } else if constexpr (op == BinaryOp::GreaterEqual) {
    if constexpr (cplx) return a.real() > b.real() || (a.real() == b.real() && a.imag() >= b.imag());
    else return a >= b;
  } else if constexpr (op == BinaryOp::LogicalAnd) {
    if constexpr (cplx) return a != C(0) && b != C(0);
    else return static_cast<bool>(a) && static_cast<bool>(b);
  } else if constexpr (op == BinaryOp::LogicalOr) {
    if constexpr (cplx) return a != C(0) || b != C(0);
    else return static_cast<bool>(a) || static_cast<bool>(b);
  } else if constexpr (op == BinaryOp::BitwiseAnd) {
    return C(a & b);
  } else if constexpr (op == BinaryOp::BitwiseOr) {
    return C(a | b);
  } else if constexpr (op == BinaryOp::BitwiseXor) {
    return C(a ^ b);
  } else if constexpr (op == BinaryOp::LeftShift) {
    if constexpr (is_bool) return C(a && !b);
    else {
      using U = std::make_unsigned_t<C>;
      if (b < 0 || uint64_t(b) >= sizeof(C) * 8) return C(0);
      return C(U(a) << b);
    }
  } else {
    static_assert(op == BinaryOp::RightShift);
    if constexpr (is_bool) return C(a && !b);
    else {
      if (b < 0 || uint64_t(b) >= sizeof(C) * 8) return C(a < 0 ? -1 : 0);
      return C(a >> b);
    }
  }
}

}  // namespace tessera::scalar
