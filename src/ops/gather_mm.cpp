// gather_mm and block_masked_mm with MLX semantics, composed from take / repeat / multiply and
// matmul (the batched GEMM does the work; no kernels of their own).
#include <numeric>

#include "ops/op_utils.h"

namespace tessera {

namespace {

Dtype float_result(const array& a, const array& b, const char* op) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  if (!issubdtype(d, floating)) {
    throw_invalid(op, "Only real floating point types are supported but ", dtype_name(a.dtype()), " and ",
                  dtype_name(b.dtype()), " were provided which results in ", dtype_name(d), ".");
  }
  return d;
}

// All batch entries of x (dims before the last two) in order: arange reshaped to the batch shape.
array batch_arange(const array& x, StreamOrDevice s) {
  Shape batch(x.shape().begin(), x.shape().end() - 2);
  int64_t n = 1;
  for (auto d : batch) n *= d;
  return reshape(arange(0, int(n), 1, s), batch, s);
}

// Expands a per-block mask (..., ceil(R/bs), ceil(C/bs)) to (..., R, C): boolean masks stay
// boolean, others are cast to d.
array expand_block_mask(const array& mask, int bs, int rows, int cols, Dtype d, const char* which,
                        StreamOrDevice s) {
  int tr = (rows + bs - 1) / bs, tc = (cols + bs - 1) / bs;
  if (mask.ndim() < 2 || mask.shape(-2) != tr || mask.shape(-1) != tc) {
    throw_invalid("block_masked_mm", "Expected ", which, " of shape (..., ", tr, ", ", tc, ") but got ",
                  shape_str(mask.shape()), ".");
  }
  if (mask.dtype() != bool_ && !issubdtype(mask.dtype(), floating)) {
    throw_invalid("block_masked_mm", "Masks must be boolean or floating point, got ", dtype_name(mask.dtype()), ".");
  }
  array m = mask.dtype() == bool_ ? mask : astype(mask, d, s);
  m = repeat(repeat(m, bs, -2, s), bs, -1, s);
  if (m.shape(-2) != rows || m.shape(-1) != cols) {
    Shape start(m.ndim(), 0), stop = m.shape();
    stop[stop.size() - 2] = rows;
    stop.back() = cols;
    m = slice(m, start, stop, s);
  }
  return m;
}

// Applies an expanded mask: boolean masks select (so masked blocks are exactly zero even where
// the other values are inf or nan, as when a kernel skips them), others scale.
array apply_mask(const array& x, const array& m, StreamOrDevice s) {
  if (m.dtype() == bool_) return where(m, x, zeros({}, x.dtype(), s), s);
  return multiply(x, m, s);
}

}  // namespace

array gather_mm(array a, array b, std::optional<array> lhs_indices, std::optional<array> rhs_indices,
                bool sorted_indices, StreamOrDevice s) {
  if (!lhs_indices && !rhs_indices) return matmul(a, b, s);
  if (a.ndim() == 0 || b.ndim() == 0) throw_invalid("gather_mm", "Got 0 dimension input. Inputs must have at least one dimension.");
  Dtype d = float_result(a, b, "gather_mm");
  bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  if (a_vec) a = reshape(a, {1, a.shape(0)}, s);
  if (b_vec) b = reshape(b, {b.shape(0), 1}, s);
  if (a.shape(-1) != b.shape(-2)) {
    throw_invalid("gather_mm", "Last dimension of first input with shape ", shape_str(a.shape()),
                  " must match second to last dimension of second input with shape ", shape_str(b.shape()), ".");
  }
  a = astype(a, d, s);
  b = astype(b, d, s);
  array li = lhs_indices ? *lhs_indices : batch_arange(a, s);
  array ri = rhs_indices ? *rhs_indices : batch_arange(b, s);
  if (!issubdtype(li.dtype(), integer)) {
    throw_invalid("gather_mm", "Got lhs_indices with invalid dtype ", dtype_name(li.dtype()), ". Indices must be integral.");
  }
  if (!issubdtype(ri.dtype(), integer)) {
    throw_invalid("gather_mm", "Got rhs_indices with invalid dtype ", dtype_name(ri.dtype()), ". Indices must be integral.");
  }
  Shape batch = broadcast_shapes(li.shape(), ri.shape(), "gather_mm");
  int M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  array af = reshape(a, {-1, M, K}, s), bf = reshape(b, {-1, K, N}, s);
  // Gather the selected matrices (take's layout: index shape, then the matrix dims), then one
  // batched GEMM. Indices shared by both sides are not deduplicated: the GEMM reads each
  // selected matrix where it lies.
  array ag = take(af, broadcast_to(li, batch, s), 0, s);
  array bg = take(bf, broadcast_to(ri, batch, s), 0, s);
  array r = matmul(ag, bg, s);
  if (a_vec || b_vec) {
    Shape o = batch;
    if (!a_vec) o.push_back(M);
    if (!b_vec) o.push_back(N);
    r = reshape(r, o, s);
  }
  (void)sorted_indices;  // an ordering hint for kernels that group by matrix; the result is the same
  return r;
}

array block_masked_mm(array a, array b, int block_size, std::optional<array> mask_out,
                      std::optional<array> mask_lhs, std::optional<array> mask_rhs, StreamOrDevice s) {
  if (!mask_out && !mask_lhs && !mask_rhs) return matmul(a, b, s);
  if (block_size != 32 && block_size != 64) {
    throw_invalid("block_masked_mm", "Only block_sizes 32, 64 are supported. Got block size ", block_size, ".");
  }
  if (a.ndim() < 2 || b.ndim() < 2) {
    throw_invalid("block_masked_mm", "Arrays must have at least two dimensions, got ", shape_str(a.shape()), " and ",
                  shape_str(b.shape()), ".");
  }
  Dtype d = float_result(a, b, "block_masked_mm");
  if (a.shape(-1) != b.shape(-2)) {
    throw_invalid("block_masked_mm", "Last dimension of first input with shape ", shape_str(a.shape()),
                  " must match second to last dimension of second input with shape ", shape_str(b.shape()), ".");
  }
  int M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  a = astype(a, d, s);
  b = astype(b, d, s);
  if (mask_lhs) a = apply_mask(a, expand_block_mask(*mask_lhs, block_size, M, K, d, "lhs mask", s), s);
  if (mask_rhs) b = apply_mask(b, expand_block_mask(*mask_rhs, block_size, K, N, d, "rhs mask", s), s);
  array r = matmul(a, b, s);
  if (mask_out) r = apply_mask(r, expand_block_mask(*mask_out, block_size, M, N, d, "output mask", s), s);
  return r;
}

}  // namespace tessera
