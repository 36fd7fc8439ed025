// The floating types the CPU's streaming kernels read in place, as the small integer the
// per-target (Highway) entry points take: 0 float32, 1 bfloat16, 2 float16, -1 any other type.
#pragma once

#include "tessera/dtype.h"

namespace tessera {

inline int float_type_code(Dtype d) {
  if (d == float32) return 0;
  if (d == bfloat16) return 1;
  if (d == float16) return 2;
  return -1;
}

}  // namespace tessera
