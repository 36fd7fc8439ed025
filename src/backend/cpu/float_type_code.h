// The floating types the CPU's streaming kernels read in place, as the small integer the
// per-target (Highway) entry points take: 0 float32, 1 bfloat16, 2 float16, -1 any other type.
#pragma once

#include <type_traits>

#include "tessera/dtype.h"
#include "tessera/half_types.h"

namespace tessera {

inline int float_type_code(Dtype d) {
  if (d == float32) return 0;
  if (d == bfloat16) return 1;
  if (d == float16) return 2;
  return -1;
}

// The Dtype of the element type S (float, bfloat16_t or float16_t) the kernels are instantiated for.
template <typename S>
constexpr Dtype float_dtype_of() {
  if constexpr (std::is_same_v<S, float>) return float32;
  if constexpr (std::is_same_v<S, bfloat16_t>) return bfloat16;
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, bfloat16_t> || std::is_same_v<S, float16_t>);
  return float16;
}

}  // namespace tessera
