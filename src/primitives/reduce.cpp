#include "primitives/reduce.h"

namespace tessera {

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "prod", "max", "min", "all", "any"};
  return names[static_cast<int>(op)];
}

const char* Scan::name() const {
  static const char* names[] = {"cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"};
  return names[static_cast<int>(op_)];
}

}  // namespace tessera
