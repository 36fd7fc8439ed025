// Elementwise ops: dtype rules and broadcasting in front of the Unary/Binary/Select primitives.
#include <cmath>

#include "ops/op_utils.h"
#include "primitives/elementwise.h"

namespace tessera {

namespace {

array unary(const array& a, UnaryOp op, StreamOrDevice s) {
  const auto& info = unary_info(op);
  Dtype in = a.dtype();
  if (info.types == OpTypes::Inexact || info.types == OpTypes::Floating) in = at_least_float(in);
  if (!op_accepts(info.types, in)) {
    throw_invalid(info.name, "Unsupported dtype ", dtype_name(a.dtype()), ".");
  }
  Dtype out = info.bool_output ? bool_ : in;
  if (op == UnaryOp::Abs && in == complex64) out = float32;
  if (op == UnaryOp::Real || op == UnaryOp::Imag) out = float32;
  return make_node<Unary>(a.shape(), out, {astype(a, in, s)}, to_stream(s), op);
}

struct BinaryPlan {
  array a, b;
  Shape shape;
};

BinaryPlan broadcast_pair(const array& a, const array& b, Dtype d, const char* name, StreamOrDevice s) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  return {broadcast_to(astype(a, d, s), shape, s), broadcast_to(astype(b, d, s), shape, s), shape};
}

array binary(const array& a, const array& b, BinaryOp op, Dtype compute, StreamOrDevice s) {
  const auto& info = binary_info(op);
  if (!op_accepts(info.types, compute)) {
    throw_invalid(info.name, "Unsupported dtype ", dtype_name(compute), " (inputs ", dtype_name(a.dtype()), " and ",
                  dtype_name(b.dtype()), ").");
  }
  Dtype out = info.bool_output ? bool_ : compute;
  std::vector<array> inputs;
  inputs.reserve(2);
  Shape shape;
  if (a.shape() == b.shape() && a.dtype() == compute && b.dtype() == compute) {
    // The common case: no casts or broadcasts, so no intermediate array copies.
    shape = a.shape();
    inputs.push_back(a);
    inputs.push_back(b);
  } else {
    auto p = broadcast_pair(a, b, compute, info.name, s);
    shape = std::move(p.shape);
    inputs.push_back(std::move(p.a));
    inputs.push_back(std::move(p.b));
  }
  return make_node<Binary>(std::move(shape), out, std::move(inputs), to_stream(s), op);
}

array binary_promoted(const array& a, const array& b, BinaryOp op, StreamOrDevice s) {
  return binary(a, b, op, promote_types(a.dtype(), b.dtype()), s);
}

}  // namespace

array abs(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_ || kindof(a.dtype()) == Dtype::Kind::u) return a;
  return unary(a, UnaryOp::Abs, s);
}
array negative(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) throw_invalid("negative", "Not supported for bool, use logical_not instead.");
  return unary(a, UnaryOp::Negative, s);
}
array operator-(const array& a) { return negative(a); }
array sign(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) return a;
  return unary(a, UnaryOp::Sign, s);
}
array logical_not(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::LogicalNot, s); }
array operator!(const array& a) { return logical_not(a); }
array reciprocal(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Reciprocal, s); }
array square(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) return a;
  return unary(a, UnaryOp::Square, s);
}
array sqrt(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Sqrt, s); }
array rsqrt(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Rsqrt, s); }
array exp(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Exp, s); }
array expm1(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Expm1, s); }
array log(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Log, s); }
array log2(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Log2, s); }
array log10(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Log10, s); }
array log1p(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Log1p, s); }
array sin(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Sin, s); }
array cos(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Cos, s); }
array tan(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Tan, s); }
array arcsin(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::ArcSin, s); }
array arccos(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::ArcCos, s); }
array arctan(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::ArcTan, s); }
array sinh(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Sinh, s); }
array cosh(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Cosh, s); }
array tanh(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Tanh, s); }
array arcsinh(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::ArcSinh, s); }
array arccosh(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::ArcCosh, s); }
array arctanh(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::ArcTanh, s); }
array degrees(const array& a, StreamOrDevice s) {
  Dtype d = at_least_float(a.dtype());
  return multiply(astype(a, d, s), array(180.0 / M_PI, d), s);
}
array radians(const array& a, StreamOrDevice s) {
  Dtype d = at_least_float(a.dtype());
  return multiply(astype(a, d, s), array(M_PI / 180.0, d), s);
}
array floor(const array& a, StreamOrDevice s) {
  if (kindof(a.dtype()) == Dtype::Kind::c) throw_invalid("floor", "Not supported for complex64.");
  if (!issubdtype(a.dtype(), inexact)) return a;
  return unary(a, UnaryOp::Floor, s);
}
array ceil(const array& a, StreamOrDevice s) {
  if (kindof(a.dtype()) == Dtype::Kind::c) throw_invalid("ceil", "Not supported for complex64.");
  if (!issubdtype(a.dtype(), inexact)) return a;
  return unary(a, UnaryOp::Ceil, s);
}
array round(const array& a, int decimals, StreamOrDevice s) {
  if (!issubdtype(a.dtype(), inexact)) {
    if (decimals >= 0) return a;
    // Integers round to tens, hundreds, ... through float64 and back.
    return astype(round(astype(a, float64, s), decimals, s), a.dtype(), s);
  }
  if (decimals == 0) return unary(a, UnaryOp::Round, s);
  array scale(std::pow(10.0, double(decimals)), a.dtype() == complex64 ? float32 : a.dtype());
  return divide(unary(multiply(a, scale, s), UnaryOp::Round, s), scale, s);
}
array sigmoid(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Sigmoid, s); }
array erf(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::Erf, s); }
array erfinv(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::ErfInv, s); }
array stop_gradient(const array& a, StreamOrDevice s) {
  return make_node<Unary>(a.shape(), a.dtype(), {a}, to_stream(s), UnaryOp::StopGradient);
}
array isnan(const array& a, StreamOrDevice s) {
  if (!issubdtype(a.dtype(), inexact)) return full(a.shape(), false, bool_, s);
  return unary(a, UnaryOp::IsNan, s);
}
array isinf(const array& a, StreamOrDevice s) {
  if (!issubdtype(a.dtype(), inexact)) return full(a.shape(), false, bool_, s);
  return unary(a, UnaryOp::IsInf, s);
}
array isfinite(const array& a, StreamOrDevice s) {
  if (!issubdtype(a.dtype(), inexact)) return full(a.shape(), true, bool_, s);
  return unary(a, UnaryOp::IsFinite, s);
}
array isposinf(const array& a, StreamOrDevice s) {
  if (!issubdtype(a.dtype(), floating)) return full(a.shape(), false, bool_, s);
  return unary(a, UnaryOp::IsPosInf, s);
}
array isneginf(const array& a, StreamOrDevice s) {
  if (!issubdtype(a.dtype(), floating)) return full(a.shape(), false, bool_, s);
  return unary(a, UnaryOp::IsNegInf, s);
}
array real(const array& a, StreamOrDevice s) {
  if (a.dtype() != complex64) return a;
  return unary(a, UnaryOp::Real, s);
}
array imag(const array& a, StreamOrDevice s) {
  if (a.dtype() != complex64) return zeros_like(a, s);
  return unary(a, UnaryOp::Imag, s);
}
array conjugate(const array& a, StreamOrDevice s) {
  if (a.dtype() != complex64) return a;
  return unary(a, UnaryOp::Conjugate, s);
}
array bitwise_invert(const array& a, StreamOrDevice s) { return unary(a, UnaryOp::BitwiseInvert, s); }
array operator~(const array& a) { return bitwise_invert(a); }

array add(const array& a, const array& b, StreamOrDevice s) { return binary_promoted(a, b, BinaryOp::Add, s); }
array subtract(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::Subtract, s);
}
array multiply(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::Multiply, s);
}
array divide(const array& a, const array& b, StreamOrDevice s) {
  return binary(a, b, BinaryOp::Divide, at_least_float(promote_types(a.dtype(), b.dtype())), s);
}
array floor_divide(const array& a, const array& b, StreamOrDevice s) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  if (d == complex64) throw_invalid("floor_divide", "Not supported for complex64.");
  if (issubdtype(d, inexact)) return floor(divide(a, b, s), s);
  return binary(a, b, BinaryOp::FloorDivide, d == bool_ ? int8 : d, s);
}
array remainder(const array& a, const array& b, StreamOrDevice s) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  return binary(a, b, BinaryOp::Remainder, d == bool_ ? int8 : d, s);
}
std::vector<array> divmod(const array& a, const array& b, StreamOrDevice s) {
  return {floor_divide(a, b, s), remainder(a, b, s)};
}
array power(const array& a, const array& b, StreamOrDevice s) { return binary_promoted(a, b, BinaryOp::Power, s); }
array maximum(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::Maximum, s);
}
array minimum(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::Minimum, s);
}
array arctan2(const array& a, const array& b, StreamOrDevice s) {
  return binary(a, b, BinaryOp::ArcTan2, at_least_float(promote_types(a.dtype(), b.dtype())), s);
}
array logaddexp(const array& a, const array& b, StreamOrDevice s) {
  return binary(a, b, BinaryOp::LogAddExp, at_least_float(promote_types(a.dtype(), b.dtype())), s);
}
array equal(const array& a, const array& b, StreamOrDevice s) { return binary_promoted(a, b, BinaryOp::Equal, s); }
array not_equal(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::NotEqual, s);
}
array greater(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::Greater, s);
}
array greater_equal(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::GreaterEqual, s);
}
array less(const array& a, const array& b, StreamOrDevice s) { return binary_promoted(a, b, BinaryOp::Less, s); }
array less_equal(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::LessEqual, s);
}
array logical_and(const array& a, const array& b, StreamOrDevice s) {
  return binary(a, b, BinaryOp::LogicalAnd, bool_, s);
}
array logical_or(const array& a, const array& b, StreamOrDevice s) {
  return binary(a, b, BinaryOp::LogicalOr, bool_, s);
}
array bitwise_and(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::BitwiseAnd, s);
}
array bitwise_or(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::BitwiseOr, s);
}
array bitwise_xor(const array& a, const array& b, StreamOrDevice s) {
  return binary_promoted(a, b, BinaryOp::BitwiseXor, s);
}
array left_shift(const array& a, const array& b, StreamOrDevice s) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  return binary(a, b, BinaryOp::LeftShift, d == bool_ ? uint8 : d, s);
}
array right_shift(const array& a, const array& b, StreamOrDevice s) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  return binary(a, b, BinaryOp::RightShift, d == bool_ ? uint8 : d, s);
}

array array_equal(const array& a, const array& b, bool equal_nan, StreamOrDevice s) {
  if (a.shape() != b.shape()) return array(false);
  if (a.size() == 0) return array(true);
  Dtype d = promote_types(a.dtype(), b.dtype());
  return all(binary(a, b, equal_nan ? BinaryOp::EqualNaN : BinaryOp::Equal, d, s), false, s);
}

array isclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, StreamOrDevice s) {
  // |a - b| <= atol + rtol * |b|, with infinities equal only to themselves (NumPy's rule).
  Dtype d = at_least_float(promote_types(a.dtype(), b.dtype()));
  array fa = astype(a, d, s), fb = astype(b, d, s);
  array diff = abs(subtract(fa, fb, s), s);
  array tol = add(array(atol, float32), multiply(array(rtol, float32), abs(fb, s), s), s);
  array close = less_equal(diff, tol, s);
  array both_inf = logical_and(equal(fa, fb, s), logical_or(isinf(fa, s), isinf(fb, s), s), s);
  close = logical_or(logical_and(close, logical_and(isfinite(fa, s), isfinite(fb, s), s), s), both_inf, s);
  if (equal_nan) close = logical_or(close, logical_and(isnan(fa, s), isnan(fb, s), s), s);
  return close;
}

array allclose(const array& a, const array& b, double rtol, double atol, bool equal_nan, StreamOrDevice s) {
  return all(isclose(a, b, rtol, atol, equal_nan, s), false, s);
}

array where(const array& condition, const array& x, const array& y, StreamOrDevice s) {
  Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), x.shape(), "where"), y.shape(), "where");
  Dtype d = promote_types(x.dtype(), y.dtype());
  return make_node<Select>(shape, d,
                           {broadcast_to(astype(condition, bool_, s), shape, s), broadcast_to(astype(x, d, s), shape, s),
                            broadcast_to(astype(y, d, s), shape, s)},
                           to_stream(s));
}

array clip(const array& a, const std::optional<array>& a_min, const std::optional<array>& a_max, StreamOrDevice s) {
  if (!a_min && !a_max) throw_invalid("clip", "At most one of a_min and a_max may be None.");
  array out = a;
  if (a_min) out = maximum(out, *a_min, s);
  if (a_max) out = minimum(out, *a_max, s);
  return out;
}

array nan_to_num(const array& a, float nan, const std::optional<float> posinf, const std::optional<float> neginf,
                 StreamOrDevice s) {
  Dtype d = a.dtype();
  if (!issubdtype(d, floating)) return a;
  double big, small;
  switch (d.val) {
    case Dtype::Val::float16:
      big = 65504.0;
      break;
    case Dtype::Val::bfloat16:
      big = 3.3895313892515355e38;
      break;
    case Dtype::Val::float64:
      big = std::numeric_limits<double>::max();
      break;
    default:
      big = std::numeric_limits<float>::max();
  }
  small = -big;
  array out = where(isnan(a, s), array(nan, d), a, s);
  out = where(isposinf(a, s), array(posinf ? double(*posinf) : big, d), out, s);
  out = where(isneginf(a, s), array(neginf ? double(*neginf) : small, d), out, s);
  return out;
}

}  // namespace tessera
