#include "primitives/elementwise.h"

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

}  // namespace tessera
