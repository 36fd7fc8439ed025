// Matrix products: matmul (NumPy broadcasting of batch dims, 1-D promotion), addmm and the
// products composed from them.
#include <algorithm>
#include <numeric>

#include "ops/op_utils.h"
#include "primitives/linalg.h"

namespace tessera {

namespace {

Dtype matmul_dtype(const array& a, const array& b, const char* op) {
  Dtype d = promote_types(a.dtype(), b.dtype());
  if (!issubdtype(d, floating)) {
    throw_invalid(op, "Only real floating point types are supported but ", dtype_name(a.dtype()), " and ",
                  dtype_name(b.dtype()), " were provided which results in ", dtype_name(d), ".");
  }
  return d;
}

}  // namespace

array matmul(const array& in_a, const array& in_b, StreamOrDevice s) {
  if (in_a.ndim() == 0 || in_b.ndim() == 0) throw_invalid("matmul", "Got 0 dimension input. Inputs must have at least one dimension.");
  Dtype d = matmul_dtype(in_a, in_b, "matmul");
  array a = astype(in_a, d, s), b = astype(in_b, d, s);
  bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  if (a_vec) a = reshape(a, {1, a.shape(0)}, s);
  if (b_vec) b = reshape(b, {b.shape(0), 1}, s);
  if (a.shape(-1) != b.shape(-2)) {
    throw_invalid("matmul", "Last dimension of first input with shape ", shape_str(in_a.shape()),
                  " must match second to last dimension of second input with shape ", shape_str(in_b.shape()), ".");
  }
  // Plain 2-D products (every decode-step projection) build no batch shapes at all.
  Shape batch;
  if (a.ndim() > 2 || b.ndim() > 2) {
    Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
    batch = broadcast_shapes(ba, bb, "matmul");
  }
  // batch followed by (rows, cols).
  auto batched = [&batch](int rows, int cols) {
    Shape sh;
    sh.reserve(batch.size() + 2);
    sh.assign(batch.begin(), batch.end());
    sh.push_back(rows);
    sh.push_back(cols);
    return sh;
  };
  auto has_batch = [&batch](const array& x) {
    return x.ndim() == batch.size() + 2 && std::equal(batch.begin(), batch.end(), x.shape().begin());
  };
  if (!has_batch(a)) a = broadcast_to(a, batched(a.shape(-2), a.shape(-1)), s);
  if (!has_batch(b)) b = broadcast_to(b, batched(b.shape(-2), b.shape(-1)), s);
  array r = make_node<Matmul>(batched(a.shape(-2), b.shape(-1)), d, {a, b}, to_stream(s));
  if (a_vec && b_vec) return reshape(r, batch, s);
  if (a_vec) {
    Shape o = batch;
    o.push_back(b.shape(-1));
    return reshape(r, o, s);
  }
  if (b_vec) {
    Shape o = batch;
    o.push_back(a.shape(-2));
    return reshape(r, o, s);
  }
  return r;
}

array addmm(array c, array a, array b, const float& alpha, const float& beta, StreamOrDevice s) {
  if (a.ndim() < 2 || b.ndim() < 2) {
    // Vector cases follow matmul's promotion, then add.
    return add(multiply(array(alpha), matmul(a, b, s), s), multiply(array(beta), c, s), s);
  }
  array prod = matmul(a, b, s);
  Dtype d = promote_types(prod.dtype(), c.dtype());
  array cc = broadcast_to(astype(c, d, s), prod.shape(), s);
  array aa = broadcast_to(astype(a, d, s), [&] {
    Shape sh(prod.shape().begin(), prod.shape().end() - 2);
    sh.push_back(a.shape(-2));
    sh.push_back(a.shape(-1));
    return sh;
  }(), s);
  array bb = broadcast_to(astype(b, d, s), [&] {
    Shape sh(prod.shape().begin(), prod.shape().end() - 2);
    sh.push_back(b.shape(-2));
    sh.push_back(b.shape(-1));
    return sh;
  }(), s);
  return make_node<AddMM>(prod.shape(), d, {aa, bb, cc}, to_stream(s), alpha, beta);
}

array inner(const array& a, const array& b, StreamOrDevice s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  if (a.shape(-1) != b.shape(-1)) {
    throw_invalid("inner", "Last dimensions of inputs ", shape_str(a.shape()), " and ", shape_str(b.shape()), " differ.");
  }
  return tensordot(a, b, {-1}, {-1}, s);
}

array outer(const array& a, const array& b, StreamOrDevice s) {
  return multiply(reshape(a, {-1, 1}, s), flatten(b, s), s);
}

array tensordot(const array& a, const array& b, const int axis, StreamOrDevice s) {
  if (axis < 0) throw_invalid("tensordot", "axis must be non-negative, got ", axis, ".");
  if (axis > int(a.ndim()) || axis > int(b.ndim())) throw_invalid("tensordot", "axis ", axis, " exceeds the inputs' dimensions.");
  std::vector<int> aa, ab;
  for (int i = 0; i < axis; ++i) {
    aa.push_back(int(a.ndim()) - axis + i);
    ab.push_back(i);
  }
  return tensordot(a, b, aa, ab, s);
}

array tensordot(const array& a, const array& b, const std::vector<int>& axes_a, const std::vector<int>& axes_b,
                StreamOrDevice s) {
  if (axes_a.size() != axes_b.size()) throw_invalid("tensordot", "Axes lists must have the same length.");
  std::vector<int> xa, xb;
  for (int x : axes_a) xa.push_back(normalize_axis(x, int(a.ndim()), "tensordot"));
  for (int x : axes_b) xb.push_back(normalize_axis(x, int(b.ndim()), "tensordot"));
  int64_t k = 1;
  for (size_t i = 0; i < xa.size(); ++i) {
    if (a.shape(xa[i]) != b.shape(xb[i])) {
      throw_invalid("tensordot", "Contracted axes have different sizes: ", a.shape(xa[i]), " vs ", b.shape(xb[i]), ".");
    }
    k *= a.shape(xa[i]);
  }
  std::vector<int> fa, fb;
  Shape out;
  for (int i = 0; i < int(a.ndim()); ++i)
    if (std::find(xa.begin(), xa.end(), i) == xa.end()) {
      fa.push_back(i);
      out.push_back(a.shape(i));
    }
  for (int i = 0; i < int(b.ndim()); ++i)
    if (std::find(xb.begin(), xb.end(), i) == xb.end()) {
      fb.push_back(i);
      out.push_back(b.shape(i));
    }
  int64_t m = 1, n = 1;
  for (int i : fa) m *= a.shape(i);
  for (int i : fb) n *= b.shape(i);
  std::vector<int> pa = fa, pb = xb;
  pa.insert(pa.end(), xa.begin(), xa.end());
  pb.insert(pb.end(), fb.begin(), fb.end());
  array am = reshape(transpose(a, pa, s), {int(m), int(k)}, s);
  array bm = reshape(transpose(b, pb, s), {int(k), int(n)}, s);
  return reshape(matmul(am, bm, s), out, s);
}

array kron(const array& a, const array& b, StreamOrDevice s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  size_t nd = std::max(a.ndim(), b.ndim());
  Shape sa(nd - a.ndim(), 1), sb(nd - b.ndim(), 1);
  sa.insert(sa.end(), a.shape().begin(), a.shape().end());
  sb.insert(sb.end(), b.shape().begin(), b.shape().end());
  Shape ea, eb, out;
  for (size_t i = 0; i < nd; ++i) {
    ea.push_back(sa[i]);
    ea.push_back(1);
    eb.push_back(1);
    eb.push_back(sb[i]);
    out.push_back(sa[i] * sb[i]);
  }
  return reshape(multiply(reshape(a, ea, s), reshape(b, eb, s), s), out, s);
}

}  // namespace tessera
