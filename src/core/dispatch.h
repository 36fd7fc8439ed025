// Maps a runtime dtype to its C++ storage type. Kernels call these to instantiate only the types
// they support; the rest reach the `unsupported` callback, which names the op.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "tessera/dtype.h"

namespace tessera {

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename F>
decltype(auto) dispatch_all_types(Dtype d, F&& f) {
  switch (d.val) {
    case Dtype::Val::bool_:
      return f(TypeTag<bool>{});
    case Dtype::Val::uint8:
      return f(TypeTag<uint8_t>{});
    case Dtype::Val::uint16:
      return f(TypeTag<uint16_t>{});
    case Dtype::Val::uint32:
      return f(TypeTag<uint32_t>{});
    case Dtype::Val::uint64:
      return f(TypeTag<uint64_t>{});
    case Dtype::Val::int8:
      return f(TypeTag<int8_t>{});
    case Dtype::Val::int16:
      return f(TypeTag<int16_t>{});
    case Dtype::Val::int32:
      return f(TypeTag<int32_t>{});
    case Dtype::Val::int64:
      return f(TypeTag<int64_t>{});
    case Dtype::Val::float16:
      return f(TypeTag<float16_t>{});
    case Dtype::Val::float32:
      return f(TypeTag<float>{});
    case Dtype::Val::float64:
      return f(TypeTag<double>{});
    case Dtype::Val::bfloat16:
      return f(TypeTag<bfloat16_t>{});
    case Dtype::Val::complex64:
      return f(TypeTag<complex64_t>{});
  }
  throw std::logic_error("[dispatch] corrupt dtype");
}

// Dispatches on the unsigned integer type of the given byte width (for pure data movement).
template <typename F>
decltype(auto) dispatch_by_size(size_t itemsize, F&& f) {
  switch (itemsize) {
    case 1:
      return f(TypeTag<uint8_t>{});
    case 2:
      return f(TypeTag<uint16_t>{});
    case 4:
      return f(TypeTag<uint32_t>{});
    case 8:
      return f(TypeTag<uint64_t>{});
  }
  throw std::logic_error("[dispatch] unsupported item size " + std::to_string(itemsize));
}

template <typename T>
inline constexpr bool is_half_v = std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>;
template <typename T>
inline constexpr bool is_complex_v = std::is_same_v<T, complex64_t>;
template <typename T>
inline constexpr bool is_float_v = std::is_floating_point_v<T> || is_half_v<T>;

// Converts one value with NumPy's rules (complex -> real drops the imaginary part).
template <typename To, typename From>
inline To convert_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (is_complex_v<From>) {
    if constexpr (std::is_same_v<To, bool>) return v.real() != 0.f || v.imag() != 0.f;
    else return convert_value<To>(v.real());
  } else if constexpr (is_complex_v<To>) {
    return To(static_cast<float>(convert_value<float>(v)), 0.f);
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (is_half_v<From>) return static_cast<float>(v) != 0.f;
    else return v != From(0);
  } else if constexpr (is_half_v<From>) {
    return convert_value<To>(static_cast<float>(v));
  } else if constexpr (is_half_v<To>) {
    return To(static_cast<float>(v));
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    // Out-of-range and NaN conversions are undefined in C++; pin them like x86 does so results
    // are deterministic on every platform.
    if (!(v >= static_cast<From>(std::numeric_limits<To>::min()) &&
          v < static_cast<From>(std::numeric_limits<To>::max()))) {
      if (v != v) return To(0);
      if constexpr (std::is_signed_v<To>) return v < 0 ? std::numeric_limits<To>::min() : std::numeric_limits<To>::max();
      else {
        if (v < 0) return static_cast<To>(static_cast<int64_t>(v > -9.2e18 ? v : From(0)));
        return std::numeric_limits<To>::max();
      }
    }
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace tessera
