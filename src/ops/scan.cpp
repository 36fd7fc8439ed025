// Scans: cumsum, cumprod, cummax, cummin, logcumsumexp. The axis-less overloads flatten first
// (as MLX does). Sums and products of small integers and bool accumulate in 32 bits.
#include "ops/op_utils.h"
#include "primitives/reduce.h"

namespace tessera {

namespace {

Dtype scan_dtype(ScanOp op, Dtype d) {
  if (op == ScanOp::LogAddExp) return at_least_float(d);
  if (op == ScanOp::Sum || op == ScanOp::Prod) return accumulation_dtype(d);
  return d;
}

array scan(const array& a, int axis, bool reverse, bool inclusive, ScanOp op, const char* name, StreamOrDevice s) {
  if (a.ndim() == 0) throw_invalid(name, "Scans need an array with at least one dimension.");
  int ax = normalize_axis(axis, int(a.ndim()), name);
  Dtype d = scan_dtype(op, a.dtype());
  if (d == complex64 && op != ScanOp::Sum && op != ScanOp::Prod) throw_invalid(name, "complex64 is not supported.");
  if (d == complex64) throw_invalid(name, "complex64 is not supported.");
  array in = astype(a, d, s);
  return make_node<Scan>(a.shape(), d, {in}, to_stream(s), op, ax, reverse, inclusive);
}

}  // namespace

#define TESSERA_SCAN(NAME, OP)                                                                   \
  array NAME(const array& a, int axis, bool reverse, bool inclusive, StreamOrDevice s) {         \
    return scan(a, axis, reverse, inclusive, OP, #NAME, s);                                      \
  }                                                                                              \
  array NAME(const array& a, bool reverse, bool inclusive, StreamOrDevice s) {                   \
    return scan(reshape(a, {int(a.size())}, s), 0, reverse, inclusive, OP, #NAME, s);            \
  }

TESSERA_SCAN(cumsum, ScanOp::Sum)
TESSERA_SCAN(cumprod, ScanOp::Prod)
TESSERA_SCAN(cummax, ScanOp::Max)
TESSERA_SCAN(cummin, ScanOp::Min)
TESSERA_SCAN(logcumsumexp, ScanOp::LogAddExp)

}  // namespace tessera
