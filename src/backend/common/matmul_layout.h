// How a batched matrix operand can be handed to a GEMM without copying.
#pragma once

#include <optional>

#include "core/function_ref.h"
#include "tessera/array.h"

namespace tessera {

struct MatrixView {
  const void* data;
  bool transposed;  // column-major within each matrix
  int64_t ld;       // leading dimension
  Strides batch_strides;
};

// Returns a view if the last two dims are row- or column-major with unit inner stride; the
// batch dims may have any strides (including 0 for broadcast). Otherwise `copy` receives a
// row-contiguous copy and the view points at it (left empty otherwise: no reference counting).
MatrixView matrix_view(const array& a, std::optional<array>& copy, bool parallel);

// Calls fn(batch_index, offset_a, offset_b) for every batch entry (element offsets).
void for_each_batch(const Shape& batch, const Strides& sa, const Strides& sb,
                    FunctionRef<void(int64_t index, int64_t offset_a, int64_t offset_b)> fn);

}  // namespace tessera
