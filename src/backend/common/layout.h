// Strided layouts: contiguity flags, dimension collapsing and row-wise iteration. Shared by
// every backend; only pointer arithmetic, no math.
#pragma once

#include <cstdint>
#include <vector>

#include "core/function_ref.h"
#include "tessera/array.h"

namespace tessera {

struct Layout {
  array::Flags flags;
  size_t data_size;  // elements spanned, for dense layouts
};

// Flags of a view with these strides over a buffer (dense if it covers exactly size elements).
Layout layout_of(const Shape& shape, const Strides& strides);

Strides row_strides(const Shape& shape);

// Merges adjacent dims that are contiguous for every operand; drops size-1 dims.
void collapse_dims(Shape& shape, std::vector<Strides>& strides);

// Row callbacks are called before for_each_row returns: a reference, not a std::function.
using RowFn = FunctionRef<void(const int64_t* offsets, int64_t n)>;

// Calls fn(offsets, n) for each innermost row of a (collapsed) N-d iteration over `shape`;
// offsets[k] is the element offset of operand k at the row start, and the row has n elements
// stepping by strides[k].back(). Rows [row_begin, row_end) only (for splitting across threads).
int64_t num_rows(const Shape& shape);
void for_each_row(const Shape& shape, const std::vector<Strides>& strides, int64_t row_begin, int64_t row_end,
                  RowFn fn);

// Elementwise strided copy of `src` (any layout) into `dst` (given strides), same dtype.
void copy_strided(const array& src, void* dst, const Strides& dst_strides, bool parallel);
// Row-contiguous copy into a fresh buffer of `out`.
void copy_to_row_contiguous(const array& src, array& out, bool parallel);

// True when the array is a dense row-major run starting at data().
inline bool is_row_contiguous(const array& a) { return a.flags().row_contiguous; }

}  // namespace tessera
