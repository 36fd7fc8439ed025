// Tessera data types and type promotion (follows MLX's dtype.h).
#pragma once

#include <complex>
#include <cstdint>
#include <ostream>
#include <string>

#include "tessera/half_types.h"

namespace tessera {

struct Dtype {
  enum class Val : uint8_t {
    bool_,
    uint8,
    uint16,
    uint32,
    uint64,
    int8,
    int16,
    int32,
    int64,
    float16,
    float32,
    float64,
    bfloat16,
    complex64,
  };
  enum class Kind : char {
    b = 'b',  // bool
    u = 'u',  // unsigned int
    i = 'i',  // signed int
    f = 'f',  // float
    c = 'c',  // complex
    V = 'V',  // bfloat16 (numpy's "void" kind, as MLX reports)
  };
  enum class Category {
    complexfloating,
    floating,
    inexact,
    signedinteger,
    unsignedinteger,
    integer,
    number,
    generic,
  };

  Val val;
  uint8_t size;
  constexpr explicit Dtype(Val v, uint8_t s) : val(v), size(s) {}
  constexpr operator Val() const { return val; }
};

inline constexpr Dtype bool_{Dtype::Val::bool_, sizeof(bool)};
inline constexpr Dtype uint8{Dtype::Val::uint8, 1};
inline constexpr Dtype uint16{Dtype::Val::uint16, 2};
inline constexpr Dtype uint32{Dtype::Val::uint32, 4};
inline constexpr Dtype uint64{Dtype::Val::uint64, 8};
inline constexpr Dtype int8{Dtype::Val::int8, 1};
inline constexpr Dtype int16{Dtype::Val::int16, 2};
inline constexpr Dtype int32{Dtype::Val::int32, 4};
inline constexpr Dtype int64{Dtype::Val::int64, 8};
inline constexpr Dtype float16{Dtype::Val::float16, 2};
inline constexpr Dtype float32{Dtype::Val::float32, 4};
inline constexpr Dtype float64{Dtype::Val::float64, 8};
inline constexpr Dtype bfloat16{Dtype::Val::bfloat16, 2};
inline constexpr Dtype complex64{Dtype::Val::complex64, 8};

inline constexpr Dtype::Category complexfloating = Dtype::Category::complexfloating;
inline constexpr Dtype::Category floating = Dtype::Category::floating;
inline constexpr Dtype::Category inexact = Dtype::Category::inexact;
inline constexpr Dtype::Category signedinteger = Dtype::Category::signedinteger;
inline constexpr Dtype::Category unsignedinteger = Dtype::Category::unsignedinteger;
inline constexpr Dtype::Category integer = Dtype::Category::integer;
inline constexpr Dtype::Category number = Dtype::Category::number;
inline constexpr Dtype::Category generic = Dtype::Category::generic;

inline constexpr int num_dtypes = 14;

using complex64_t = std::complex<float>;

constexpr bool operator==(const Dtype& a, const Dtype& b) { return a.val == b.val; }
constexpr bool operator!=(const Dtype& a, const Dtype& b) { return a.val != b.val; }
constexpr bool operator==(const Dtype& a, Dtype::Val b) { return a.val == b; }

// The dtype both operands are converted to by binary ops (MLX's table).
Dtype promote_types(const Dtype& t1, const Dtype& t2);

inline uint8_t size_of(const Dtype& t) { return t.size; }
Dtype::Kind kindof(const Dtype& t);

bool issubdtype(const Dtype& a, const Dtype& b);
bool issubdtype(const Dtype::Category& a, const Dtype& b);
bool issubdtype(const Dtype& a, const Dtype::Category& b);
bool issubdtype(const Dtype::Category& a, const Dtype::Category& b);

// NumPy-style type strings: "<f4", "|b1", "<c8"; bfloat16 has none in NumPy and uses "<V2".
std::string dtype_to_array_protocol(const Dtype& t);
Dtype dtype_from_array_protocol(std::string_view s);

// Short names: "float32", "bfloat16", ...
const char* dtype_name(const Dtype& t);
Dtype dtype_from_name(std::string_view name);

std::ostream& operator<<(std::ostream& os, const Dtype& d);

// Compile-time mapping from C++ types to dtypes.
template <typename T>
struct TypeToDtype;
template <> struct TypeToDtype<bool> { static constexpr Dtype value = bool_; };
template <> struct TypeToDtype<uint8_t> { static constexpr Dtype value = uint8; };
template <> struct TypeToDtype<uint16_t> { static constexpr Dtype value = uint16; };
template <> struct TypeToDtype<uint32_t> { static constexpr Dtype value = uint32; };
template <> struct TypeToDtype<uint64_t> { static constexpr Dtype value = uint64; };
template <> struct TypeToDtype<int8_t> { static constexpr Dtype value = int8; };
template <> struct TypeToDtype<int16_t> { static constexpr Dtype value = int16; };
template <> struct TypeToDtype<int32_t> { static constexpr Dtype value = int32; };
template <> struct TypeToDtype<int64_t> { static constexpr Dtype value = int64; };
template <> struct TypeToDtype<float16_t> { static constexpr Dtype value = float16; };
template <> struct TypeToDtype<float> { static constexpr Dtype value = float32; };
template <> struct TypeToDtype<double> { static constexpr Dtype value = float64; };
template <> struct TypeToDtype<bfloat16_t> { static constexpr Dtype value = bfloat16; };
template <> struct TypeToDtype<complex64_t> { static constexpr Dtype value = complex64; };
// `long long` and `unsigned long long` are distinct from int64_t/uint64_t on LP64 Linux.
template <> struct TypeToDtype<long long> { static constexpr Dtype value = int64; };
template <> struct TypeToDtype<unsigned long long> { static constexpr Dtype value = uint64; };

template <typename T>
inline constexpr Dtype dtype_of() {
  return TypeToDtype<std::remove_cv_t<T>>::value;
}

}  // namespace tessera
