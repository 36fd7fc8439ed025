#include "primitives/elementwise.h"

#include <array>
#include <cmath>
#include <optional>

#include "ops/op_utils.h"
#include "tessera/ops.h"

namespace tessera {

const UnaryInfo& unary_info(UnaryOp op) { return elementwise_tables::kUnary[static_cast<int>(op)]; }
const BinaryInfo& binary_info(BinaryOp op) { return elementwise_tables::kBinary[static_cast<int>(op)]; }

bool op_accepts(OpTypes types, Dtype d) {
  using T = OpTypes;
  auto k = kindof(d);
  bool is_int = k == Dtype::Kind::u || k == Dtype::Kind::i;
  bool is_float = k == Dtype::Kind::f || k == Dtype::Kind::V;
  bool is_complex = k == Dtype::Kind::c;
  switch (types) {
    case T::Any:
      return true;
    case T::Numeric:
      return d != bool_;
    case T::Real:
      return is_int || is_float;
    case T::Inexact:
      return is_float || is_complex;
    case T::Floating:
      return is_float;
    case T::Integral:
      return is_int || d == bool_;
    case T::Complex:
      return is_complex;
  }
  return false;
}

const char* primitive_kind_name(PrimitiveKind k) {
  static const char* names[] = {
#define TESSERA_KIND_NAME(name) #name,
      TESSERA_PRIMITIVE_KINDS(TESSERA_KIND_NAME)
#undef TESSERA_KIND_NAME
  };
  return names[static_cast<int>(k)];
}

// ---- Transform rules ----
//
// The ops layer casts and broadcasts before it builds a Unary, Binary or Select node, so all
// inputs of such a node have the output's shape (and, but for Select's condition, its compute
// dtype). The derivative rules therefore never reduce over broadcast axes (the Broadcast
// primitive's own vjp does), and the batching rules only line up batch axes. Every rule is
// built from public ops, so grad of grad and vmap of grad go through the same rules again.

namespace {

// A constant in the dtype of `like`, so that rules keep float16/bfloat16/float64 intact. Ops
// broadcast it as a view, so where(mask, t, scalar(0, t)) allocates no array of zeros.
array scalar(double v, const array& like) { return array(v, like.dtype()); }

// A zero derivative of the given shape: a broadcast view of one zero, never a filled buffer.
array zero_view(const Shape& shape, Dtype dtype) { return broadcast_to(array(0, dtype), shape); }

bool is_complex(const array& a) { return a.dtype() == complex64; }

// Unary rules. `jvp` maps the input's tangent t to the output's, given the input x and the
// output y; it is linear in t. `vjp` is its transpose, given only where it is not the same
// function of the cotangent (the ops that mix real and complex parts; every other derivative
// is multiplication by a scalar, which is its own transpose). A null `jvp` means the
// derivative is zero: piecewise-constant ops, predicates, integer ops and stop_gradient.
//
// Complex ops follow MLX's (and JAX's) convention: the vjp is the transpose of the jvp without
// conjugation, so real's is complex(c, 0) and imag's is -i c.
struct UnaryRule {
  array (*jvp)(const array& x, const array& y, const array& t);
  array (*vjp)(const array& x, const array& y, const array& c);
};

constexpr auto make_unary_rules() {
  using U = UnaryOp;
  std::array<UnaryRule, static_cast<size_t>(U::Count)> r{};
  auto set = [&r](U op, UnaryRule rule) { r[static_cast<size_t>(op)] = rule; };
  // |x| has slope sign(x), 0 at 0 (MLX's choice). For complex x, d|x| = Re(conj(sign x) dx).
  set(U::Abs, {[](const array& x, const array&, const array& t) {
                 return is_complex(x) ? real(multiply(t, conjugate(sign(x)))) : multiply(t, sign(x));
               },
               [](const array& x, const array&, const array& c) {
                 return is_complex(x) ? multiply(astype(c, complex64), conjugate(sign(x))) : multiply(c, sign(x));
               }});
  set(U::Negative, {[](const array&, const array&, const array& t) { return negative(t); }, nullptr});
  set(U::Square, {[](const array& x, const array&, const array& t) { return multiply(t, multiply(scalar(2, x), x)); },
                  nullptr});
  set(U::Sqrt, {[](const array&, const array& y, const array& t) { return divide(t, multiply(scalar(2, y), y)); },
                nullptr});
  // d x^-1/2 = -1/2 x^-3/2 = -1/2 y / x.
  set(U::Rsqrt, {[](const array& x, const array& y, const array& t) {
                   return multiply(t, multiply(scalar(-0.5, y), divide(y, x)));
                 },
                 nullptr});
  set(U::Reciprocal, {[](const array&, const array& y, const array& t) { return negative(multiply(t, square(y))); },
                      nullptr});
  set(U::Exp, {[](const array&, const array& y, const array& t) { return multiply(t, y); }, nullptr});
  set(U::Expm1, {[](const array&, const array& y, const array& t) { return multiply(t, add(y, scalar(1, y))); },
                 nullptr});
  set(U::Log, {[](const array& x, const array&, const array& t) { return divide(t, x); }, nullptr});
  set(U::Log2, {[](const array& x, const array&, const array& t) {
                  return divide(t, multiply(x, scalar(M_LN2, x)));
                },
                nullptr});
  set(U::Log10, {[](const array& x, const array&, const array& t) {
                   return divide(t, multiply(x, scalar(M_LN10, x)));
                 },
                 nullptr});
  set(U::Log1p, {[](const array& x, const array&, const array& t) { return divide(t, add(x, scalar(1, x))); },
                 nullptr});
  set(U::Sin, {[](const array& x, const array&, const array& t) { return multiply(t, cos(x)); }, nullptr});
  set(U::Cos, {[](const array& x, const array&, const array& t) { return negative(multiply(t, sin(x))); }, nullptr});
  set(U::Tan, {[](const array&, const array& y, const array& t) {
                 return multiply(t, add(scalar(1, y), square(y)));
               },
               nullptr});
  set(U::ArcSin, {[](const array& x, const array&, const array& t) {
                    return multiply(t, rsqrt(subtract(scalar(1, x), square(x))));
                  },
                  nullptr});
  set(U::ArcCos, {[](const array& x, const array&, const array& t) {
                    return negative(multiply(t, rsqrt(subtract(scalar(1, x), square(x)))));
                  },
                  nullptr});
  set(U::ArcTan, {[](const array& x, const array&, const array& t) {
                    return divide(t, add(scalar(1, x), square(x)));
                  },
                  nullptr});
  set(U::Sinh, {[](const array& x, const array&, const array& t) { return multiply(t, cosh(x)); }, nullptr});
  set(U::Cosh, {[](const array& x, const array&, const array& t) { return multiply(t, sinh(x)); }, nullptr});
  set(U::Tanh, {[](const array&, const array& y, const array& t) {
                  return multiply(t, subtract(scalar(1, y), square(y)));
                },
                nullptr});
  set(U::ArcSinh, {[](const array& x, const array&, const array& t) {
                     return multiply(t, rsqrt(add(square(x), scalar(1, x))));
                   },
                   nullptr});
  set(U::ArcCosh, {[](const array& x, const array&, const array& t) {
                     return multiply(t, rsqrt(subtract(square(x), scalar(1, x))));
                   },
                   nullptr});
  set(U::ArcTanh, {[](const array& x, const array&, const array& t) {
                     return divide(t, subtract(scalar(1, x), square(x)));
                   },
                   nullptr});
  set(U::Sigmoid, {[](const array&, const array& y, const array& t) {
                     return multiply(t, multiply(y, subtract(scalar(1, y), y)));
                   },
                   nullptr});
  // erf'(x) = 2/sqrt(pi) exp(-x^2); erfinv'(x) = sqrt(pi)/2 exp(erfinv(x)^2).
  set(U::Erf, {[](const array& x, const array&, const array& t) {
                 return multiply(t, multiply(scalar(M_2_SQRTPI, x), exp(negative(square(x)))));
               },
               nullptr});
  set(U::ErfInv, {[](const array&, const array& y, const array& t) {
                    return multiply(t, multiply(scalar(1.0 / M_2_SQRTPI, y), exp(square(y))));
                  },
                  nullptr});
  set(U::Real, {[](const array&, const array&, const array& t) { return real(t); },
                [](const array&, const array&, const array& c) { return astype(c, complex64); }});
  set(U::Imag, {[](const array&, const array&, const array& t) { return imag(t); },
                [](const array&, const array&, const array& c) {
                  return multiply(array(complex64_t(0.f, -1.f)), astype(c, complex64));
                }});
  set(U::Conjugate, {[](const array&, const array&, const array& t) { return conjugate(t); },
                     [](const array&, const array&, const array& c) { return conjugate(c); }});
  return r;
}

constexpr auto kUnaryRules = make_unary_rules();

// Binary rules: for each argument, the output's tangent due to that argument's tangent t, given
// the inputs a, b and the output y. Each is multiplication by a partial derivative, so it is
// also the vjp (with t the cotangent). Null: zero derivative (comparisons, logical, bitwise,
// integer division).
//
// maximum/minimum follow MLX at ties (a == b): the whole derivative goes to the second
// argument b. power guards the points where the textbook partials give 0 * inf: d/da is 0
// wherever b == 0, and d/db uses log(1) = 0 where a == 0 (so x^2 at x = 0 has slope 0, not NaN).
using BinaryPartial = array (*)(const array& a, const array& b, const array& y, const array& t);
struct BinaryRule {
  BinaryPartial partial[2];
};

constexpr auto make_binary_rules() {
  using B = BinaryOp;
  std::array<BinaryRule, static_cast<size_t>(B::Count)> r{};
  auto set = [&r](B op, BinaryPartial da, BinaryPartial db) { r[static_cast<size_t>(op)] = {{da, db}}; };
  auto identity = [](const array&, const array&, const array&, const array& t) { return t; };
  set(B::Add, identity, identity);
  set(B::Subtract, identity, [](const array&, const array&, const array&, const array& t) { return negative(t); });
  set(B::Multiply, [](const array&, const array& b, const array&, const array& t) { return multiply(t, b); },
      [](const array& a, const array&, const array&, const array& t) { return multiply(t, a); });
  set(B::Divide, [](const array&, const array& b, const array&, const array& t) { return divide(t, b); },
      [](const array&, const array& b, const array& y, const array& t) { return negative(divide(multiply(t, y), b)); });
  // a - b * floor(a / b): slope 1 in a and -floor(a / b) in b between the jumps.
  set(B::Remainder, identity, [](const array& a, const array& b, const array&, const array& t) {
    return negative(multiply(t, floor(divide(a, b))));
  });
  set(B::Power,
      [](const array& a, const array& b, const array&, const array& t) {
        array d = multiply(b, power(a, subtract(b, scalar(1, b))));
        return multiply(t, where(equal(b, scalar(0, b)), scalar(0, d), d));
      },
      [](const array& a, const array&, const array& y, const array& t) {
        array safe_a = where(equal(a, scalar(0, a)), scalar(1, a), a);
        return multiply(t, multiply(y, log(safe_a)));
      });
  set(B::Maximum, [](const array& a, const array& b, const array&, const array& t) {
        return where(greater(a, b), t, scalar(0, t));
      },
      [](const array& a, const array& b, const array&, const array& t) {
        return where(less_equal(a, b), t, scalar(0, t));
      });
  set(B::Minimum, [](const array& a, const array& b, const array&, const array& t) {
        return where(less(a, b), t, scalar(0, t));
      },
      [](const array& a, const array& b, const array&, const array& t) {
        return where(greater_equal(a, b), t, scalar(0, t));
      });
  // atan2(a, b) is the angle of the point (b, a).
  set(B::ArcTan2, [](const array& a, const array& b, const array&, const array& t) {
        return divide(multiply(t, b), add(square(a), square(b)));
      },
      [](const array& a, const array& b, const array&, const array& t) {
        return negative(divide(multiply(t, a), add(square(a), square(b))));
      });
  set(B::LogAddExp, [](const array& a, const array& b, const array&, const array& t) {
        return multiply(t, sigmoid(subtract(a, b)));
      },
      [](const array& a, const array& b, const array&, const array& t) {
        return multiply(t, sigmoid(subtract(b, a)));
      });
  return r;
}

constexpr auto kBinaryRules = make_binary_rules();

Dtype unary_output_dtype(UnaryOp op, Dtype in) {
  if (unary_info(op).bool_output) return bool_;
  if (in == complex64 && (op == UnaryOp::Abs || op == UnaryOp::Real || op == UnaryOp::Imag)) return float32;
  return in;
}

// Lines up the batch axes of an elementwise node's inputs (of one shape before batching): each
// batched input gets its batch axis at the first batched input's axis (so the common case moves
// nothing), and unbatched inputs are broadcast along it, as a view (a size-1 axis is inserted
// first unless the batch axis leads, where broadcasting adds it). Returns the common axis.
int align_batch_axes(std::vector<array>& in, const std::vector<int>& axes) {
  int to = -1;
  for (int ax : axes) {
    if (ax >= 0) {
      to = ax;
      break;
    }
  }
  const array* batched = nullptr;
  for (size_t i = 0; i < in.size(); ++i) {
    if (axes[i] < 0) continue;
    if (axes[i] != to) in[i] = moveaxis(in[i], axes[i], to);
    batched = &in[i];
  }
  Shape shape = batched->shape();
  for (size_t i = 0; i < in.size(); ++i) {
    if (axes[i] >= 0) continue;
    in[i] = broadcast_to(to == 0 ? in[i] : expand_dims(in[i], to), shape);
  }
  return to;
}

}  // namespace

array Unary::apply(const array& x) const {
  return make_node<Unary>(x.shape(), unary_output_dtype(op_, x.dtype()), {x}, stream(), op_);
}

std::vector<array> Unary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>&) const {
  const array& x = primals[0];
  const UnaryRule& rule = kUnaryRules[static_cast<size_t>(op_)];
  if (!rule.jvp) return {zero_view(x.shape(), unary_output_dtype(op_, x.dtype()))};
  return {rule.jvp(x, apply(x), tangents[0])};
}

std::vector<array> Unary::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>&, const std::vector<array>& outputs) const {
  const array& x = primals[0];
  const UnaryRule& rule = kUnaryRules[static_cast<size_t>(op_)];
  if (!rule.jvp) return {zero_view(x.shape(), x.dtype())};
  auto f = rule.vjp ? rule.vjp : rule.jvp;
  return {f(x, outputs[0], cotangents[0])};
}

std::pair<std::vector<array>, std::vector<int>> Unary::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes) const {
  return {{apply(inputs[0])}, {axes[0]}};
}

array Binary::apply(const array& a, const array& b) const {
  Dtype out = binary_info(op_).bool_output ? bool_ : a.dtype();
  return make_node<Binary>(a.shape(), out, {a, b}, stream(), op_);
}

std::vector<array> Binary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) const {
  const array &a = primals[0], &b = primals[1];
  const BinaryRule& rule = kBinaryRules[static_cast<size_t>(op_)];
  if (!rule.partial[0]) return {zero_view(a.shape(), binary_info(op_).bool_output ? bool_ : a.dtype())};
  array y = apply(a, b);
  std::optional<array> out;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array part = rule.partial[argnums[k]](a, b, y, tangents[k]);
    out = out ? add(*out, part) : part;
  }
  return {*out};
}

std::vector<array> Binary::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  const array &a = primals[0], &b = primals[1];
  const BinaryRule& rule = kBinaryRules[static_cast<size_t>(op_)];
  std::vector<array> out;
  for (int arg : argnums) {
    out.push_back(rule.partial[arg] ? rule.partial[arg](a, b, outputs[0], cotangents[0]) : zero_view(primals[arg].shape(), primals[arg].dtype()));
  }
  return out;
}

std::pair<std::vector<array>, std::vector<int>> Binary::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) const {
  std::vector<array> in = inputs;
  int to = align_batch_axes(in, axes);
  return {{apply(in[0], in[1])}, {to}};
}

// where(c, x, y): the derivative flows to x where c holds and to y elsewhere; c is bool.
std::vector<array> Select::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) const {
  const array& cond = primals[0];
  std::optional<array> tx, ty;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 1) tx = tangents[k];
    if (argnums[k] == 2) ty = tangents[k];
  }
  if (!tx && !ty) return {zero_view(primals[1].shape(), primals[1].dtype())};
  array zero = scalar(0, tx ? *tx : *ty);
  return {where(cond, tx ? *tx : zero, ty ? *ty : zero)};
}

std::vector<array> Select::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) const {
  const array& cond = primals[0];
  const array& c = cotangents[0];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) out.push_back(zero_view(cond.shape(), cond.dtype()));
    else if (arg == 1) out.push_back(where(cond, c, scalar(0, c)));
    else out.push_back(where(cond, scalar(0, c), c));
  }
  return out;
}

std::pair<std::vector<array>, std::vector<int>> Select::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) const {
  std::vector<array> in = inputs;
  int to = align_batch_axes(in, axes);
  Shape shape = in[1].shape();
  Dtype d = in[1].dtype();
  return {{make_node<Select>(std::move(shape), d, std::move(in), stream())}, {to}};
}

// A cast is linear: tangents and cotangents are cast the same way (complex to real keeps the
// real part, real to complex adds a zero imaginary part, both as astype does). Casts to or from
// integers and bool carry no derivative.
std::vector<array> AsType::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>&) const {
  if (!issubdtype(dtype_, inexact)) return {zero_view(primals[0].shape(), dtype_)};
  return {astype(tangents[0], dtype_)};
}

std::vector<array> AsType::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>&) const {
  if (!issubdtype(dtype_, inexact)) return {zero_view(primals[0].shape(), primals[0].dtype())};
  return {astype(cotangents[0], primals[0].dtype())};
}

std::pair<std::vector<array>, std::vector<int>> AsType::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) const {
  return {{astype(inputs[0], dtype_)}, {axes[0]}};
}

std::vector<array> Copy::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                             const std::vector<int>&) const {
  return {tangents[0]};
}

std::vector<array> Copy::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) const {
  return {cotangents[0]};
}

std::pair<std::vector<array>, std::vector<int>> Copy::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes) const {
  return {{copy(inputs[0])}, {axes[0]}};
}

}  // namespace tessera
