// An array's elements as float64, in row-major order of its shape (for references computed in
// double precision).
#pragma once

#include <vector>

#include "tessera/tessera.h"

namespace tessera::testing {

inline std::vector<double> values_f64(const array& a) {
  array f = astype(contiguous(a), float64);
  f.eval();
  return std::vector<double>(f.data<double>(), f.data<double>() + f.size());
}

}  // namespace tessera::testing
