// Unary, binary, select and astype kernels over any layout. Backends choose, at run time,
// whether to split across threads and whether to use the SIMD float32 paths; the scalar path
// (simd = false, threads = false) is the reference backend's oracle.
#pragma once

#include <vector>

#include "tessera/array.h"

namespace tessera {

class Primitive;

struct ElementwiseConfig {
  bool threads;
  bool simd;
};

void unary_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                  const ElementwiseConfig& cfg);
void binary_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg);
void select_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg);
void astype_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg);

}  // namespace tessera
