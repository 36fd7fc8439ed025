// Elementwise primitives. The op enums are data: each op's name and dtype class live in one
// table (elementwise.cpp); the scalar math lives in scalar_ops.h and is shared by all backends.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "primitives/primitive.h"

namespace tessera {

enum class UnaryOp : uint8_t {
  Abs, Negative, Sign, LogicalNot, Square, Sqrt, Rsqrt, Reciprocal,
  Exp, Expm1, Log, Log2, Log10, Log1p,
  Sin, Cos, Tan, ArcSin, ArcCos, ArcTan, Sinh, Cosh, Tanh, ArcSinh, ArcCosh, ArcTanh,
  Floor, Ceil, Round, Sigmoid, Erf, ErfInv,
  IsNan, IsInf, IsPosInf, IsNegInf, IsFinite,
  Real, Imag, Conjugate, BitwiseInvert, StopGradient,
  Count
};

enum class BinaryOp : uint8_t {
  Add, Subtract, Multiply, Divide, FloorDivide, Remainder, Power, Maximum, Minimum, ArcTan2, LogAddExp,
  Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, EqualNaN,
  LogicalAnd, LogicalOr, BitwiseAnd, BitwiseOr, BitwiseXor, LeftShift, RightShift,
  Count
};

// Which input dtypes an op accepts (the ops layer casts to one of them first).
enum class OpTypes : uint8_t {
  Any,       // every dtype
  Numeric,   // every dtype but bool
  Real,      // integers and floats (no bool, no complex)
  Inexact,   // floats and complex
  Floating,  // floats only
  Integral,  // integers and bool
  Complex,   // complex only
};

struct UnaryInfo {
  const char* name;
  OpTypes types;
  bool bool_output;
};
struct BinaryInfo {
  const char* name;
  OpTypes types;
  bool bool_output;
};

namespace elementwise_tables {

using T = OpTypes;

inline constexpr UnaryInfo kUnary[static_cast<int>(UnaryOp::Count)] = {
    {"abs", T::Numeric, false},        {"negative", T::Numeric, false}, {"sign", T::Numeric, false},
    {"logical_not", T::Any, true},     {"square", T::Numeric, false},   {"sqrt", T::Inexact, false},
    {"rsqrt", T::Inexact, false},      {"reciprocal", T::Inexact, false},
    {"exp", T::Inexact, false},        {"expm1", T::Floating, false},   {"log", T::Inexact, false},
    {"log2", T::Inexact, false},       {"log10", T::Inexact, false},    {"log1p", T::Floating, false},
    {"sin", T::Inexact, false},        {"cos", T::Inexact, false},      {"tan", T::Inexact, false},
    {"arcsin", T::Floating, false},    {"arccos", T::Floating, false},  {"arctan", T::Floating, false},
    {"sinh", T::Inexact, false},       {"cosh", T::Inexact, false},     {"tanh", T::Inexact, false},
    {"arcsinh", T::Floating, false},   {"arccosh", T::Floating, false}, {"arctanh", T::Floating, false},
    {"floor", T::Real, false},         {"ceil", T::Real, false},        {"round", T::Numeric, false},
    {"sigmoid", T::Floating, false},   {"erf", T::Floating, false},     {"erfinv", T::Floating, false},
    {"isnan", T::Any, true},           {"isinf", T::Any, true},         {"isposinf", T::Any, true},
    {"isneginf", T::Any, true},        {"isfinite", T::Any, true},
    {"real", T::Complex, false},       {"imag", T::Complex, false},     {"conjugate", T::Complex, false},
    {"bitwise_invert", T::Integral, false}, {"stop_gradient", T::Any, false},
};

inline constexpr BinaryInfo kBinary[static_cast<int>(BinaryOp::Count)] = {
    {"add", T::Any, false},          {"subtract", T::Numeric, false},   {"multiply", T::Any, false},
    {"divide", T::Inexact, false},   {"floor_divide", T::Real, false},  {"remainder", T::Real, false},
    {"power", T::Numeric, false},    {"maximum", T::Any, false},        {"minimum", T::Any, false},
    {"arctan2", T::Floating, false}, {"logaddexp", T::Floating, false},
    {"equal", T::Any, true},         {"not_equal", T::Any, true},       {"less", T::Any, true},
    {"less_equal", T::Any, true},    {"greater", T::Any, true},         {"greater_equal", T::Any, true},
    {"equal_nan", T::Any, true},
    {"logical_and", T::Any, true},   {"logical_or", T::Any, true},
    {"bitwise_and", T::Integral, false}, {"bitwise_or", T::Integral, false}, {"bitwise_xor", T::Integral, false},
    {"left_shift", T::Integral, false},  {"right_shift", T::Integral, false},
};

}  // namespace elementwise_tables

const UnaryInfo& unary_info(UnaryOp op);
const BinaryInfo& binary_info(BinaryOp op);
bool op_accepts(OpTypes types, Dtype dtype);

// Compile-time form of op_accepts for kernels that instantiate per C++ type.
template <typename V>
constexpr bool type_accepts(OpTypes types) {
  constexpr bool is_bool = std::is_same_v<V, bool>;
  constexpr bool is_cplx = std::is_same_v<V, complex64_t>;
  constexpr bool is_flt = std::is_floating_point_v<V> || std::is_same_v<V, float16_t> || std::is_same_v<V, bfloat16_t>;
  constexpr bool is_int = std::is_integral_v<V> && !is_bool;
  switch (types) {
    case OpTypes::Any: return true;
    case OpTypes::Numeric: return !is_bool;
    case OpTypes::Real: return is_int || is_flt;
    case OpTypes::Inexact: return is_flt || is_cplx;
    case OpTypes::Floating: return is_flt;
    case OpTypes::Integral: return is_int || is_bool;
    case OpTypes::Complex: return is_cplx;
  }
  return false;
}
template <typename V>
constexpr bool unary_accepts(UnaryOp op) { return type_accepts<V>(elementwise_tables::kUnary[static_cast<int>(op)].types); }
template <typename V>
constexpr bool binary_accepts(BinaryOp op) { return type_accepts<V>(elementwise_tables::kBinary[static_cast<int>(op)].types); }

class Unary : public Primitive {
 public:
  Unary(Stream s, UnaryOp op) : Primitive(s), op_(op) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Unary; }
  const char* name() const override { return unary_info(op_).name; }
  bool is_equivalent(const Primitive& other) const override {
    return other.kind() == kind() && static_cast<const Unary&>(other).op_ == op_;
  }
  UnaryOp op() const { return op_; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  // The same op on another input (of a dtype the op accepts), as a new node.
  array apply(const array& x) const;

 private:
  UnaryOp op_;
};

class Binary : public Primitive {
 public:
  Binary(Stream s, BinaryOp op) : Primitive(s), op_(op) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Binary; }
  const char* name() const override { return binary_info(op_).name; }
  bool is_equivalent(const Primitive& other) const override {
    return other.kind() == kind() && static_cast<const Binary&>(other).op_ == op_;
  }
  BinaryOp op() const { return op_; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  // The same op on two inputs of one shape and dtype, as a new node.
  array apply(const array& a, const array& b) const;

 private:
  BinaryOp op_;
};

// where(condition, x, y); condition is bool, x and y share the output dtype.
class Select : public Primitive {
 public:
  using Primitive::Primitive;
  PrimitiveKind kind() const override { return PrimitiveKind::Select; }
  const char* name() const override { return "where"; }
  bool is_equivalent(const Primitive& other) const override { return other.kind() == kind(); }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
};

class AsType : public Primitive {
 public:
  AsType(Stream s, Dtype dtype) : Primitive(s), dtype_(dtype) {}
  PrimitiveKind kind() const override { return PrimitiveKind::AsType; }
  const char* name() const override { return "astype"; }
  bool is_equivalent(const Primitive& other) const override {
    return other.kind() == kind() && static_cast<const AsType&>(other).dtype_ == dtype_;
  }
  Dtype dtype() const { return dtype_; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  Dtype dtype_;
};

// A row-contiguous copy.
class Copy : public Primitive {
 public:
  using Primitive::Primitive;
  PrimitiveKind kind() const override { return PrimitiveKind::Copy; }
  const char* name() const override { return "copy"; }
  bool is_equivalent(const Primitive& other) const override { return other.kind() == kind(); }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
};

}  // namespace tessera
