#include "tessera/dtype.h"

#include <array>
#include <stdexcept>
#include <string>

namespace tessera {

namespace {

constexpr Dtype kAll[num_dtypes] = {bool_, uint8, uint16, uint32, uint64, int8,     int16,
                                    int32, int64, float16, float32, float64, bfloat16, complex64};

using V = Dtype::Val;
constexpr V b1 = V::bool_, u1 = V::uint8, u2 = V::uint16, u4 = V::uint32, u8 = V::uint64, s1 = V::int8,
            s2 = V::int16, s4 = V::int32, s8 = V::int64, f2 = V::float16, f4 = V::float32, f8 = V::float64,
            bf = V::bfloat16, c8 = V::complex64;

// MLX's promotion table: uint64 with a signed int gives float32, float16 with bfloat16 gives
// float32, any integer with a 16-bit float keeps the 16-bit float.
constexpr V kPromote[num_dtypes][num_dtypes] = {
    // b1  u1  u2  u4  u8  s1  s2  s4  s8  f2  f4  f8  bf  c8
    {b1, u1, u2, u4, u8, s1, s2, s4, s8, f2, f4, f8, bf, c8},  // b1
    {u1, u1, u2, u4, u8, s2, s2, s4, s8, f2, f4, f8, bf, c8},  // u1
    {u2, u2, u2, u4, u8, s4, s4, s4, s8, f2, f4, f8, bf, c8},  // u2
    {u4, u4, u4, u4, u8, s8, s8, s8, s8, f2, f4, f8, bf, c8},  // u4
    {u8, u8, u8, u8, u8, f4, f4, f4, f4, f2, f4, f8, bf, c8},  // u8
    {s1, s2, s4, s8, f4, s1, s2, s4, s8, f2, f4, f8, bf, c8},  // s1
    {s2, s2, s4, s8, f4, s2, s2, s4, s8, f2, f4, f8, bf, c8},  // s2
    {s4, s4, s4, s8, f4, s4, s4, s4, s8, f2, f4, f8, bf, c8},  // s4
    {s8, s8, s8, s8, f4, s8, s8, s8, s8, f2, f4, f8, bf, c8},  // s8
    {f2, f2, f2, f2, f2, f2, f2, f2, f2, f2, f4, f8, f4, c8},  // f2
    {f4, f4, f4, f4, f4, f4, f4, f4, f4, f4, f4, f8, f4, c8},  // f4
    {f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, f8, c8},  // f8
    {bf, bf, bf, bf, bf, bf, bf, bf, bf, f4, f4, f8, bf, c8},  // bf
    {c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8, c8},  // c8
};

struct DtypeInfo {
  const char* name;
  const char* protocol;
  Dtype::Kind kind;
};
constexpr DtypeInfo kInfo[num_dtypes] = {
    {"bool", "|b1", Dtype::Kind::b},        {"uint8", "|u1", Dtype::Kind::u},     {"uint16", "<u2", Dtype::Kind::u},
    {"uint32", "<u4", Dtype::Kind::u},      {"uint64", "<u8", Dtype::Kind::u},    {"int8", "|i1", Dtype::Kind::i},
    {"int16", "<i2", Dtype::Kind::i},       {"int32", "<i4", Dtype::Kind::i},     {"int64", "<i8", Dtype::Kind::i},
    {"float16", "<f2", Dtype::Kind::f},     {"float32", "<f4", Dtype::Kind::f},   {"float64", "<f8", Dtype::Kind::f},
    {"bfloat16", "<V2", Dtype::Kind::V},    {"complex64", "<c8", Dtype::Kind::c},
};

Dtype from_val(V v) { return kAll[static_cast<int>(v)]; }

}  // namespace

Dtype promote_types(const Dtype& t1, const Dtype& t2) {
  return from_val(kPromote[static_cast<int>(t1.val)][static_cast<int>(t2.val)]);
}

Dtype::Kind kindof(const Dtype& t) { return kInfo[static_cast<int>(t.val)].kind; }

const char* dtype_name(const Dtype& t) { return kInfo[static_cast<int>(t.val)].name; }

Dtype dtype_from_name(std::string_view name) {
  for (auto d : kAll) {
    if (name == kInfo[static_cast<int>(d.val)].name) return d;
  }
  if (name == "bool_") return bool_;
  throw std::invalid_argument("[dtype] Unknown dtype name '" + std::string(name) + "'.");
}

std::string dtype_to_array_protocol(const Dtype& t) { return kInfo[static_cast<int>(t.val)].protocol; }

Dtype dtype_from_array_protocol(std::string_view s) {
  if (s.size() >= 2) {
    char order = s[0];
    std::string_view rest = s.substr(1);
    if (order == '<' || order == '|' || order == '=') {
      for (auto d : kAll) {
        std::string_view p = kInfo[static_cast<int>(d.val)].protocol;
        if (p.substr(1) == rest) return d;
      }
      if (rest == "b1" || rest == "?") return bool_;
    }
  }
  throw std::invalid_argument("[dtype] Unsupported array protocol type string '" + std::string(s) + "'.");
}

bool issubdtype(const Dtype& a, const Dtype& b) { return a == b; }

bool issubdtype(const Dtype::Category& cat, const Dtype& type) {
  (void)cat;
  (void)type;
  return false;
}

bool issubdtype(const Dtype& type, const Dtype::Category& cat) {
  using C = Dtype::Category;
  switch (cat) {
    case C::generic:
      return true;
    case C::number:
      return type != bool_;
    case C::integer:
      return kindof(type) == Dtype::Kind::u || kindof(type) == Dtype::Kind::i;
    case C::unsignedinteger:
      return kindof(type) == Dtype::Kind::u;
    case C::signedinteger:
      return kindof(type) == Dtype::Kind::i;
    case C::inexact:
      return kindof(type) == Dtype::Kind::f || kindof(type) == Dtype::Kind::V || kindof(type) == Dtype::Kind::c;
    case C::floating:
      return kindof(type) == Dtype::Kind::f || kindof(type) == Dtype::Kind::V;
    case C::complexfloating:
      return kindof(type) == Dtype::Kind::c;
  }
  return false;
}

bool issubdtype(const Dtype::Category& a, const Dtype::Category& b) {
  using C = Dtype::Category;
  if (a == b || b == C::generic) return true;
  switch (b) {
    case C::number:
      return a != C::generic;
    case C::integer:
      return a == C::signedinteger || a == C::unsignedinteger;
    case C::inexact:
      return a == C::floating || a == C::complexfloating;
    default:
      return false;
  }
}

std::ostream& operator<<(std::ostream& os, const Dtype& d) { return os << dtype_name(d); }

}  // namespace tessera
