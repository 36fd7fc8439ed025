// Hyperparameters enter the update graphs as scalars of the gradient's dtype, so a bfloat16
// parameter keeps bfloat16 state (float32 scalars would promote it, unlike MLX's weak scalars).
#pragma once

#include "tessera/array.h"

namespace tessera::optimizers::detail {

inline array scalar(double value, Dtype dtype) { return array(float(value), dtype); }
inline array scalar(double value, const array& like) { return array(float(value), like.dtype()); }

}  // namespace tessera::optimizers::detail
