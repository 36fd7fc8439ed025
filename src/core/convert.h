// Dtype conversion of dense runs of elements, shared by astype kernels, constructors and io.
#pragma once

#include <cstddef>

#include "tessera/dtype.h"

namespace tessera {

// Converts `n` contiguous elements. Same-type copies are memcpy; float32 <-> 16-bit floats use SIMD.
void copy_convert(const void* src, Dtype src_type, void* dst, Dtype dst_type, size_t n);

}  // namespace tessera
