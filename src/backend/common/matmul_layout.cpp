#include "backend/common/matmul_layout.h"

#include "backend/common/layout.h"

namespace tessera {

MatrixView matrix_view(const array& a, std::optional<array>& copy, bool parallel) {
  int nd = int(a.ndim());
  int64_t rows = a.shape(-2), cols = a.shape(-1);
  int64_t sr = a.strides()[nd - 2], sc = a.strides()[nd - 1];
  Strides batch(a.strides().begin(), a.strides().end() - 2);
  if ((sc == 1 || cols == 1) && (sr >= std::max<int64_t>(cols, 1) || rows == 1)) {
    return {a.raw_data(), false, std::max<int64_t>(rows == 1 ? cols : sr, std::max<int64_t>(cols, 1)), batch};
  }
  if ((sr == 1 || rows == 1) && (sc >= std::max<int64_t>(rows, 1) || cols == 1)) {
    return {a.raw_data(), true, std::max<int64_t>(cols == 1 ? rows : sc, std::max<int64_t>(rows, 1)), batch};
  }
  copy.emplace(a.shape(), a.dtype(), nullptr, std::vector<array>{});
  copy_to_row_contiguous(a, *copy, parallel);
  return {copy->raw_data(), false, std::max<int64_t>(cols, 1), Strides(copy->strides().begin(), copy->strides().end() - 2)};
}

void for_each_batch(const Shape& batch, const Strides& sa, const Strides& sb,
                    FunctionRef<void(int64_t, int64_t, int64_t)> fn) {
  int64_t n = 1;
  for (auto d : batch) n *= d;
  // The odometer on the stack for the batch ranks programs use.
  constexpr size_t kStack = 16;
  int64_t stack_idx[kStack] = {};
  std::vector<int64_t> heap_idx;
  if (batch.size() > kStack) heap_idx.assign(batch.size(), 0);
  int64_t* idx = batch.size() > kStack ? heap_idx.data() : stack_idx;
  for (int64_t i = 0; i < n; ++i) {
    int64_t oa = 0, ob = 0;
    for (size_t d = 0; d < batch.size(); ++d) {
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    fn(i, oa, ob);
    for (int d = int(batch.size()) - 1; d >= 0; --d) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace tessera
