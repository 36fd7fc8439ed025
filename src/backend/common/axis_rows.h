// Iterates the 1-D rows of an array along one axis: a row-contiguous copy (if needed) plus the
// (outer, len, inner) split; element j of row r sits at row_base(r) + j * inner.
#pragma once

#include <optional>
#include <vector>

#include "backend/common/layout.h"
#include "tessera/array.h"

namespace tessera {

struct AxisRows {
  array in;
  int64_t outer = 1, len = 1, inner = 1;
  int64_t rows() const { return outer * inner; }
  int64_t base(int64_t r) const { return (r / inner) * len * inner + r % inner; }
};

inline array row_contiguous(const array& a, bool parallel) {
  if (a.flags().row_contiguous) return a;
  array c(a.shape(), a.dtype(), nullptr, {});
  copy_to_row_contiguous(a, c, parallel);
  return c;
}

// `a` itself where it already has the layout a kernel needs, else a row-contiguous copy held
// here. Unlike row_contiguous() it never copies the array handle: each copy is two locked
// reference-count updates, which a decode step's small kernels notice.
class RowContiguous {
 public:
  RowContiguous(const array& a, bool parallel) : RowContiguous(a, !a.flags().row_contiguous, parallel) {}
  RowContiguous(const array& a, bool copy, bool parallel) : p_(&a) {
    if (!copy) return;
    copy_.emplace(a.shape(), a.dtype(), nullptr, std::vector<array>{});
    copy_to_row_contiguous(a, *copy_, parallel);
    p_ = &*copy_;
  }
  RowContiguous(const RowContiguous&) = delete;
  RowContiguous& operator=(const RowContiguous&) = delete;
  const array& operator*() const { return *p_; }
  const array* operator->() const { return p_; }

 private:
  std::optional<array> copy_;
  const array* p_;
};

inline AxisRows axis_rows(const array& a, int axis, bool parallel) {
  AxisRows p{row_contiguous(a, parallel)};
  for (int d = 0; d < int(a.ndim()); ++d) {
    if (d < axis) p.outer *= a.shape(d);
    else if (d == axis) p.len = a.shape(d);
    else p.inner *= a.shape(d);
  }
  return p;
}

}  // namespace tessera
