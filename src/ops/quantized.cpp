// Affine quantization ops in MLX's layout (quantize, dequantize, quantized_matmul, gather_qmm)
// and the composites from plain ops that the primitives decompose into.
#include <cstring>

#include "core/convert.h"
#include "ops/op_utils.h"
#include "primitives/quantized.h"

namespace tessera {

namespace {

void check_params(const char* op, const std::string& mode, int group_size, int bits) {
  if (mode != "affine") throw_invalid(op, "Only the \"affine\" mode is supported, got \"", mode, "\".");
  if (group_size != 16 && group_size != 32 && group_size != 64 && group_size != 128) {
    throw_invalid(op, "The requested group size ", group_size,
                  " is not supported. The supported group sizes are 16, 32, 64 and 128.");
  }
  if (bits != 2 && bits != 3 && bits != 4 && bits != 5 && bits != 6 && bits != 8) {
    throw_invalid(op, "The requested number of bits ", bits, " is not supported. The supported bits are 2, 3, 4, 5, 6 and 8.");
  }
  // Group 16 (beyond MLX: the sub-blocks of GGUF's k-quants) holds whole packed words only for
  // these widths; the kernels address groups by word.
  if (group_size == 16 && bits != 2 && bits != 4 && bits != 6 && bits != 8) {
    throw_invalid(op, "Group size 16 supports 2, 4, 6 and 8 bits (16 values of ", bits,
                  " bits do not fill whole 32-bit words); got ", bits, " bits.");
  }
}

Shape with_last(Shape s, int last) {
  s.back() = last;
  return s;
}

// q: uint32 [..., K] values < 2^bits -> uint32 [..., K*bits/32], a little-endian bit stream.
array pack_composite(const array& q, int bits, Stream s) {
  int K = q.shape(-1);
  array b = bitwise_and(right_shift(expand_dims(q, -1, s), arange(0, bits, 1, uint32, s), s), array(1u, uint32), s);
  Shape sh = q.shape();
  sh.back() = K * bits / 32;
  sh.push_back(32);
  b = reshape(b, sh, s);
  return sum(left_shift(b, arange(0, 32, 1, uint32, s), s), std::vector<int>{-1}, false, s);
}

// wq: uint32 [..., W] -> uint32 [..., W*32/bits].
array unpack_composite(const array& wq, int bits, Stream s) {
  int W = wq.shape(-1);
  array b = bitwise_and(right_shift(expand_dims(wq, -1, s), arange(0, 32, 1, uint32, s), s), array(1u, uint32), s);
  Shape sh = wq.shape();
  sh.back() = W * 32 / bits;
  sh.push_back(bits);
  b = reshape(b, sh, s);
  return sum(left_shift(b, arange(0, bits, 1, uint32, s), s), std::vector<int>{-1}, false, s);
}

std::vector<array> quantize_composite(const array& w, int gs, int bits, Stream s) {
  int K = w.shape(-1), G = K / gs;
  Shape gshape = w.shape();
  gshape.back() = G;
  gshape.push_back(gs);
  array g = reshape(astype(w, float32, s), gshape, s);
  std::vector<int> last{-1};
  array wmax = max(g, last, true, s), wmin = min(g, last, true, s);
  array zero(0.f), n_bins(float((1 << bits) - 1)), eps(1e-7f);
  array mask = greater(abs(wmin, s), abs(wmax, s), s);
  array delta = maximum(divide(subtract(wmax, wmin, s), n_bins, s), eps, s);
  array scale = where(mask, delta, negative(delta, s), s);
  array edge = where(mask, wmin, wmax, s);
  array q0 = round(divide(edge, scale, s), 0, s);
  scale = where(not_equal(q0, zero, s), divide(edge, q0, s), scale, s);
  array bias = where(equal(q0, zero, s), zero, edge, s);
  array q = clip(round(divide(subtract(g, bias, s), scale, s), 0, s), zero, n_bins, s);
  q = reshape(astype(q, uint32, s), w.shape(), s);
  Shape sshape = with_last(w.shape(), G);
  return {pack_composite(q, bits, s), reshape(astype(scale, w.dtype(), s), sshape, s),
          reshape(astype(bias, w.dtype(), s), sshape, s)};
}

array dequantize_composite(const array& wq, const array& scales, const array& biases, int gs, int bits, Dtype dt,
                           Stream s) {
  array q = astype(unpack_composite(wq, bits, s), float32, s);
  int K = q.shape(-1), G = K / gs;
  Shape gshape = q.shape();
  gshape.back() = G;
  gshape.push_back(gs);
  q = reshape(q, gshape, s);
  array sc = expand_dims(astype(scales, float32, s), -1, s), bi = expand_dims(astype(biases, float32, s), -1, s);
  array w = add(multiply(q, sc, s), bi, s);
  return astype(reshape(w, with_last(wq.shape(), K), s), dt, s);
}

array qmm_composite(const array& x, const array& wq, const array& scales, const array& biases, int gs, int bits,
                    bool transpose, Stream s) {
  array w = dequantize_composite(wq, scales, biases, gs, bits, float32, s);
  if (transpose) w = swapaxes(w, -1, -2, s);
  return astype(matmul(astype(x, float32, s), w, s), x.dtype(), s);
}

// Shapes of a quantized matrix: returns {rows, cols} of the dequantized matrix and checks scales/biases.
std::pair<int, int> check_quantized_matrix(const char* op, const array& w, const array& scales,
                                           const std::optional<array>& biases, int gs, int bits) {
  if (w.dtype() != uint32) throw_invalid(op, "The weight matrix should be uint32 but received ", dtype_name(w.dtype()), ".");
  if (w.ndim() < 2) throw_invalid(op, "The weight matrix should be at least 2D but has shape ", shape_str(w.shape()), ".");
  if (!biases) throw_invalid(op, "Biases must be provided for the affine mode.");
  if (scales.shape() != biases->shape()) {
    throw_invalid(op, "Scales and biases should have the same shape but received scales with shape ",
                  shape_str(scales.shape()), " and biases with shape ", shape_str(biases->shape()), ".");
  }
  int cols = int(int64_t(w.shape(-1)) * 32 / bits);
  Shape want = w.shape();
  want.back() = cols / gs;
  if (scales.shape() != want || cols % gs != 0) {
    throw_invalid(op, "Shape of scales and biases does not match the matrix: w has shape ", shape_str(w.shape()),
                  " (", cols, " columns of ", bits, "-bit values) and scales has shape ", shape_str(scales.shape()),
                  ", expected ", shape_str(want), " for group_size=", gs, ".");
  }
  return {w.shape(-2), cols};
}

}  // namespace

// ---------------------------------------------------------------- decompositions

std::vector<array> AffineQuantize::decompose(const std::vector<array>& in) const {
  if (is_dequantize()) {
    // The output dtype is the node's; the composite computes in float32 and casts afterwards
    // (the evaluator checks the dtype, so the caller's node decides it through scales).
    return {dequantize_composite(in[0], in[1], in[2], group_size(), bits(), in[1].dtype(), stream())};
  }
  return quantize_composite(in[0], group_size(), bits(), stream());
}

std::vector<array> QuantizedMatmul::decompose(const std::vector<array>& in) const {
  return {qmm_composite(in[0], in[1], in[2], in[3], group_size(), bits(), transpose(), stream())};
}

std::vector<array> GatherQMM::decompose(const std::vector<array>& in) const {
  // Inputs: x [Bx, M, K], w [Bw, ...], scales, biases, lhs [B...], rhs [B...]. Gathering the
  // selected matrices keeps the composite lazy, so transforms and tracing can run through it.
  const array &x = in[0], &w = in[1], &sc = in[2], &bi = in[3];
  array lhs = reshape(in[4], {-1}, stream());
  array rhs = reshape(in[5], {-1}, stream());
  array r = qmm_composite(take(x, lhs, 0, stream()), take(w, rhs, 0, stream()), take(sc, rhs, 0, stream()),
                          take(bi, rhs, 0, stream()), group_size(), bits(), transpose(), stream());
  Shape oshape = in[4].shape();
  oshape.push_back(r.shape(-2));
  oshape.push_back(r.shape(-1));
  return {reshape(r, oshape, stream())};
}

// ---------------------------------------------------------------- ops

std::vector<array> quantize(const array& w, std::optional<int> group_size_, std::optional<int> bits_,
                            const std::string& mode, StreamOrDevice s) {
  int gs = group_size_.value_or(64), bits = bits_.value_or(4);
  check_params("quantize", mode, gs, bits);
  if (!issubdtype(w.dtype(), floating) || w.dtype() == float64) {
    throw_invalid("quantize", "Only float32, float16 and bfloat16 inputs can be quantized, got ", dtype_name(w.dtype()), ".");
  }
  if (w.ndim() < 1) throw_invalid("quantize", "The array to quantize must have at least one dimension, got a scalar.");
  if (w.shape(-1) % gs != 0) {
    throw_invalid("quantize", "The last dimension of the matrix needs to be divisible by the quantization group size ",
                  gs, ". However the provided matrix has shape ", shape_str(w.shape()), ".");
  }
  int K = w.shape(-1);
  Shape qs = with_last(w.shape(), int(int64_t(K) * bits / 32)), ss = with_last(w.shape(), K / gs);
  return array::make_arrays({qs, ss, ss}, {uint32, w.dtype(), w.dtype()},
                            std::make_shared<AffineQuantize>(to_stream(s), gs, bits, false), {w});
}

array dequantize(const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<int> group_size_, std::optional<int> bits_, const std::string& mode,
                 std::optional<Dtype> dtype, StreamOrDevice s) {
  int gs = group_size_.value_or(64), bits = bits_.value_or(4);
  check_params("dequantize", mode, gs, bits);
  if (w.dtype() != uint32) throw_invalid("dequantize", "The matrix should be uint32 but received ", dtype_name(w.dtype()), ".");
  if (w.ndim() < 1) throw_invalid("dequantize", "The matrix should have at least one dimension.");
  if (!biases) throw_invalid("dequantize", "Biases must be provided for the affine mode.");
  if (scales.shape() != biases->shape()) {
    throw_invalid("dequantize", "Shape of scales and biases does not match the matrix: scales ", shape_str(scales.shape()),
                  ", biases ", shape_str(biases->shape()), ".");
  }
  int64_t cols = int64_t(w.shape(-1)) * 32 / bits;
  Shape want = with_last(w.shape(), int(cols / gs));
  if (cols % gs != 0 || scales.shape() != want) {
    throw_invalid("dequantize", "Shape of scales and biases does not match the matrix: w has shape ", shape_str(w.shape()),
                  " and scales has shape ", shape_str(scales.shape()), ", expected ", shape_str(want), ".");
  }
  Dtype out = dtype.value_or(scales.dtype());
  if (!issubdtype(out, floating)) throw_invalid("dequantize", "The output dtype must be floating point, got ", dtype_name(out), ".");
  Stream st = to_stream(s);
  array sc = astype(scales, out, st), bi = astype(*biases, out, st);
  return make_node<AffineQuantize>(with_last(w.shape(), int(cols)), out, {w, sc, bi}, st, gs, bits, true);
}

namespace {

array quantized_matmul_impl(array x, array w, array scales, std::optional<array> biases, bool transpose,
                            std::optional<int> group_size_, std::optional<int> bits_, const std::string& mode,
                            StreamOrDevice s, bool int8_activations) {
  int gs = group_size_.value_or(64), bits = bits_.value_or(4);
  check_params("quantized_matmul", mode, gs, bits);
  auto [rows, cols] = check_quantized_matrix("quantized_matmul", w, scales, biases, gs, bits);
  if (x.ndim() < 1) throw_invalid("quantized_matmul", "x must have at least one dimension.");
  int K = transpose ? cols : rows, N = transpose ? rows : cols;
  if (x.shape(-1) != K) {
    throw_invalid("quantized_matmul", "The shapes of the weight and scales are incompatible with the input: x has shape ",
                  shape_str(x.shape()), ", w has shape ", shape_str(w.shape()), " (", transpose ? "transposed" : "not transposed",
                  ", inner dimension ", K, ").");
  }
  Dtype d = promote_types(x.dtype(), scales.dtype());
  if (!issubdtype(d, floating) || d == float64) {
    throw_invalid("quantized_matmul", "Only float32, float16 and bfloat16 activations are supported, got ", dtype_name(x.dtype()), ".");
  }
  Stream st = to_stream(s);
  x = astype(x, d, st);
  // Scales and biases keep their stored type: the kernels read float32, bfloat16 and float16
  // scales as they are, and casting them here would convert both arrays whole on every call.
  array sc = scales, bi = astype(*biases, scales.dtype(), st);
  bool vec = x.ndim() == 1;
  if (vec) x = reshape(x, {1, K}, st);
  Shape xb(x.shape().begin(), x.shape().end() - 2);
  Shape out;
  array r = x;
  if (w.ndim() == 2) {
    // Fold x's batch into M.
    Shape lead(x.shape().begin(), x.shape().end() - 1);
    array x2 = reshape(x, {-1, K}, st);
    r = make_node<QuantizedMatmul>(Shape{x2.shape(0), N}, d, {x2, w, sc, bi}, st, gs, bits, transpose,
                                   int8_activations);
    out = lead;
    out.push_back(N);
    r = reshape(r, out, st);
  } else {
    Shape wb(w.shape().begin(), w.shape().end() - 2);
    Shape batch = broadcast_shapes(xb, wb, "quantized_matmul");
    auto bc = [&](const array& a) {
      Shape sh = batch;
      sh.push_back(a.shape(-2));
      sh.push_back(a.shape(-1));
      return broadcast_to(a, sh, st);
    };
    x = bc(x);
    out = batch;
    out.push_back(x.shape(-2));
    out.push_back(N);
    r = make_node<QuantizedMatmul>(out, d, {x, bc(w), bc(sc), bc(bi)}, st, gs, bits, transpose, int8_activations);
  }
  if (vec) {
    Shape o(r.shape().begin(), r.shape().end() - 2);
    o.push_back(N);
    r = reshape(r, o, st);
  }
  return r;
}

}  // namespace

array quantized_matmul(array x, array w, array scales, std::optional<array> biases, bool transpose,
                       std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
                       StreamOrDevice s) {
  return quantized_matmul_impl(std::move(x), std::move(w), std::move(scales), std::move(biases), transpose, group_size,
                               bits, mode, s, false);
}

array quantized_matmul_int8_activations(array x, array w, array scales, std::optional<array> biases, bool transpose,
                                        std::optional<int> group_size, std::optional<int> bits, StreamOrDevice s) {
  return quantized_matmul_impl(std::move(x), std::move(w), std::move(scales), std::move(biases), transpose, group_size,
                               bits, "affine", s, true);
}

array gather_qmm(const array& x_in, const array& w, const array& scales, const std::optional<array>& biases,
                 std::optional<array> lhs_indices, std::optional<array> rhs_indices, bool transpose,
                 std::optional<int> group_size_, std::optional<int> bits_, const std::string& mode, bool,
                 StreamOrDevice s) {
  int gs = group_size_.value_or(64), bits = bits_.value_or(4);
  if (!lhs_indices && !rhs_indices) {
    return quantized_matmul(x_in, w, scales, biases, transpose, gs, bits, mode, s);
  }
  check_params("gather_qmm", mode, gs, bits);
  auto [rows, cols] = check_quantized_matrix("gather_qmm", w, scales, biases, gs, bits);
  int K = transpose ? cols : rows, N = transpose ? rows : cols;
  array x = x_in;
  if (x.ndim() < 2) throw_invalid("gather_qmm", "x must be at least 2D, got shape ", shape_str(x.shape()), ".");
  if (x.shape(-1) != K) {
    throw_invalid("gather_qmm", "x has shape ", shape_str(x.shape()), " but w has shape ", shape_str(w.shape()),
                  " (inner dimension ", K, ").");
  }
  Dtype d = promote_types(x.dtype(), scales.dtype());
  if (!issubdtype(d, floating) || d == float64) throw_invalid("gather_qmm", "Only float32, float16 and bfloat16 activations are supported.");
  Stream st = to_stream(s);
  int M = x.shape(-2);
  array xf = reshape(astype(x, d, st), {-1, M, K}, st);
  array wf = reshape(w, {-1, w.shape(-2), w.shape(-1)}, st);
  array sf = reshape(astype(scales, d, st), {-1, scales.shape(-2), scales.shape(-1)}, st);
  array bf = reshape(astype(*biases, d, st), {-1, scales.shape(-2), scales.shape(-1)}, st);
  auto default_idx = [&](const array& a) {
    Shape b(a.shape().begin(), a.shape().end() - 2);
    return reshape(arange(0, int(detail::shape_size(b, "gather_qmm")), 1, uint32, st), b, st);
  };
  array li = lhs_indices ? *lhs_indices : default_idx(x);
  array ri = rhs_indices ? *rhs_indices : default_idx(w);
  if (!issubdtype(li.dtype(), integer) || !issubdtype(ri.dtype(), integer)) {
    throw_invalid("gather_qmm", "Indices must be integers.");
  }
  Shape batch = broadcast_shapes(li.shape(), ri.shape(), "gather_qmm");
  li = astype(broadcast_to(li, batch, st), uint32, st);
  ri = astype(broadcast_to(ri, batch, st), uint32, st);
  Shape out = batch;
  out.push_back(M);
  out.push_back(N);
  return make_node<GatherQMM>(out, d, {xf, wf, sf, bf, li, ri}, st, gs, bits, transpose);
}

}  // namespace tessera
