// tessera::fast: rms_norm, layer_norm, rope and scaled_dot_product_attention as fused
// primitives, with their composites (decompose) from plain ops.
#include <cmath>
#include <limits>

#include "ops/op_utils.h"
#include "primitives/fast.h"
#include "tessera/fast.h"

namespace tessera {

namespace {

// x[..., a:b] along the last axis.
array slice_last(const array& x, int a, int b, StreamOrDevice s) {
  Shape start(x.ndim(), 0), stop = x.shape();
  start.back() = a;
  stop.back() = b;
  return slice(x, start, stop, s);
}

bool is_float_dtype(Dtype d) { return d == float32 || d == float16 || d == bfloat16 || d == float64; }

}  // namespace

// ------------------------------------------------------------------ decompositions

std::vector<array> RMSNorm::decompose(const std::vector<array>& in) const {
  StreamOrDevice s = stream();
  const array& x = in[0];
  array x32 = astype(x, float32, s);
  array n = rsqrt(add(mean(square(x32, s), -1, true, s), array(eps_, float32), s), s);
  return {multiply(astype(multiply(x32, n, s), x.dtype(), s), in[1], s)};
}

std::vector<array> LayerNorm::decompose(const std::vector<array>& in) const {
  StreamOrDevice s = stream();
  const array& x = in[0];
  array x32 = astype(x, float32, s);
  array mu = mean(x32, -1, true, s);
  array c = subtract(x32, mu, s);
  array v = mean(square(c, s), -1, true, s);
  array y = astype(multiply(c, rsqrt(add(v, array(eps_, float32), s), s), s), x.dtype(), s);
  return {add(multiply(y, in[1], s), in[2], s)};
}

std::vector<array> RoPE::decompose(const std::vector<array>& in) const {
  StreamOrDevice s = stream();
  const array& x = in[0];
  int nd = int(x.ndim());
  int L = x.shape(nd - 2), D = x.shape(nd - 1), h = dims_ / 2;
  array pos = add(arange(0.0, double(L), 1.0, float32, s), astype(in[1], float32, s), s);
  array theta = multiply(outer(pos, in[2], s), array(scale_, float32), s);  // [L, h]
  array c = cos(theta, s), sn = sin(theta, s);
  array x32 = astype(x, float32, s);
  auto rotate = [&]() {
  if (traditional_) {
    Shape ps = x.shape();
    ps.back() = h;
    ps.push_back(2);
    array xr = reshape(slice_last(x32, 0, dims_, s), ps, s);
    array x1 = squeeze(slice_last(xr, 0, 1, s), -1, s), x2 = squeeze(slice_last(xr, 1, 2, s), -1, s);
    array o1 = subtract(multiply(x1, c, s), multiply(x2, sn, s), s);
    array o2 = add(multiply(x1, sn, s), multiply(x2, c, s), s);
    Shape rs = x.shape();
    rs.back() = dims_;
    return reshape(stack({o1, o2}, -1, s), rs, s);
  } else {
    array x1 = slice_last(x32, 0, h, s), x2 = slice_last(x32, h, dims_, s);
    array o1 = subtract(multiply(x1, c, s), multiply(x2, sn, s), s);
    array o2 = add(multiply(x1, sn, s), multiply(x2, c, s), s);
    return concatenate({o1, o2}, -1, s);
  }
  };
  array rot = astype(rotate(), x.dtype(), s);
  if (dims_ < D) rot = concatenate({rot, slice_last(x, dims_, D, s)}, -1, s);
  return {rot};
}

namespace {

// What attention's composite and its gradient share: the operands in the dtype the products
// run in, the key/value heads repeated to the query heads, and the scaled, masked scores.
struct AttentionScores {
  Dtype mm;        // dtype of the products: bfloat16 for bfloat16 inputs, else float32
  array qm, km, vm;  // [B, Hq, L, D] each (keys and values repeated per query group)
  array scores;    // float32 [B, Hq, Lq, Lk]; with `raw`, the products q k^T in dtype mm
};

// raw: return the products unscaled and unmasked (for an AttentionWeights node).
AttentionScores attention_scores(const std::vector<array>& in, float scale, bool has_mask, bool causal, bool raw,
                                 StreamOrDevice s) {
  const array &q = in[0], &k = in[1], &v = in[2];
  int B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), Hkv = k.shape(1), Lk = k.shape(2);
  int rep = Hq / Hkv;
  // bfloat16 attention runs its two products in bfloat16 (the GEMMs accumulate in float32) and
  // the scaling, masking and softmax in float32, as mixed-precision training does; the gradient
  // then runs its products on the bfloat16 units as well, instead of float32 GEMMs over widened
  // copies.
  const Dtype mm = q.dtype() == bfloat16 ? bfloat16 : float32;
  auto expand_heads = [&](const array& t) {
    if (rep == 1) return astype(t, mm, s);
    Shape bs = {B, Hkv, rep, t.shape(2), t.shape(3)};
    array e = broadcast_to(expand_dims(t, 2, s), bs, s);
    return astype(reshape(e, {B, Hq, t.shape(2), t.shape(3)}, s), mm, s);
  };
  AttentionScores r{mm, astype(q, mm, s), expand_heads(k), expand_heads(v), array(0.0f)};
  r.scores = matmul(r.qm, swapaxes(r.km, -1, -2, s), s);
  if (raw) return r;
  r.scores = multiply(astype(r.scores, float32, s), array(scale, float32), s);
  const float ninf = -std::numeric_limits<float>::infinity();
  if (has_mask) {
    const array& m = in[3];
    if (m.dtype() == bool_) r.scores = where(m, r.scores, array(ninf, float32), s);
    else r.scores = add(r.scores, astype(m, float32, s), s);
  }
  if (causal) {
    array qi = add(reshape(arange(0, Lq, s), {Lq, 1}, s), array(Lk - Lq, int32), s);
    array kj = reshape(arange(0, Lk, s), {1, Lk}, s);
    r.scores = where(less_equal(kj, qi, s), r.scores, array(ninf, float32), s);
  }
  return r;
}

}  // namespace

std::vector<array> ScaledDotProductAttention::decompose(const std::vector<array>& in) const {
  StreamOrDevice s = stream();
  const array& q = in[0];
  int B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), Lk = in[1].shape(2);
  // Without a mask array or sinks the weights are one AttentionWeights node on the raw products.
  const bool weights_node = !has_mask_ && !has_sinks_;
  AttentionScores a = attention_scores(in, scale_, has_mask_, causal_, weights_node, s);
  if (has_sinks_) {
    array sk = broadcast_to(reshape(astype(in[has_mask_ ? 4 : 3], float32, s), {1, Hq, 1, 1}, s), {B, Hq, Lq, 1}, s);
    array p = softmax(concatenate({sk, a.scores}, -1, s), -1, true, s);
    p = slice_last(p, 1, Lk + 1, s);
    return {astype(matmul(astype(p, a.mm, s), a.vm, s), q.dtype(), s)};
  }
  if (weights_node) {
    array p = make_node<AttentionWeights>(a.scores.shape(), a.mm, {a.scores}, to_stream(s), scale_, causal_, a.mm);
    return {astype(matmul(p, a.vm, s), q.dtype(), s)};
  }
  array p = softmax(a.scores, -1, true, s);
  return {astype(matmul(astype(p, a.mm, s), a.vm, s), q.dtype(), s)};
}

std::vector<array> ScaledDotProductAttention::vjp(const std::vector<array>& primals,
                                                  const std::vector<array>& cotangents,
                                                  const std::vector<int>& argnums,
                                                  const std::vector<array>& outputs) const {
  const array &q = primals[0], &k = primals[1], &v = primals[2];
  // float32 only: bfloat16's composite gradient runs its products on the bfloat16 GEMM units,
  // which beat the fused float32 kernel there (measured: [16, 4, 256, 64] causal).
  bool fused = !has_mask_ && !has_sinks_ && outputs.size() == 1 && cotangents.size() == 1 && q.dtype() == float32;
  for (int i : argnums) fused = fused && i < 3;
  if (!fused) return Primitive::vjp(primals, cotangents, argnums, outputs);
  std::vector<array> grads =
      array::make_arrays({q.shape(), k.shape(), v.shape()}, {q.dtype(), k.dtype(), v.dtype()},
                         std::make_shared<ScaledDotProductAttentionVjp>(stream(), scale_, causal_),
                         {q, k, v, outputs[0], cotangents[0]});
  std::vector<array> out;
  for (int i : argnums) out.push_back(grads[size_t(i)]);
  return out;
}

std::vector<array> AttentionWeights::decompose(const std::vector<array>& in) const {
  StreamOrDevice s = stream();
  const array& x = in[0];
  const int Lq = x.shape(-2), Lk = x.shape(-1);
  array scores = multiply(astype(x, float32, s), array(scale_, float32), s);
  if (causal_) {
    array qi = add(reshape(arange(0, Lq, s), {Lq, 1}, s), array(Lk - Lq, int32), s);
    array kj = reshape(arange(0, Lk, s), {1, Lk}, s);
    scores = where(less_equal(kj, qi, s), scores, array(-std::numeric_limits<float>::infinity(), float32), s);
  }
  return {astype(softmax(scores, -1, true, s), out_, s)};
}

std::vector<array> AttentionWeights::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)argnums;
  const array& x = primals[0];
  const array& p = outputs[0];
  return {array(x.shape(), x.dtype(), std::make_shared<AttentionWeightsVjp>(stream(), scale_, x.dtype()),
                {p, astype(cotangents[0], p.dtype(), stream())})};
}

std::vector<array> AttentionWeightsVjp::decompose(const std::vector<array>& in) const {
  StreamOrDevice s = stream();
  array p = astype(in[0], float32, s), g = astype(in[1], float32, s);
  array ds = multiply(multiply(p, subtract(g, sum(multiply(g, p, s), -1, true, s), s), s), array(scale_, float32), s);
  return {astype(ds, out_, s)};
}

std::vector<array> ScaledDotProductAttentionVjp::decompose(const std::vector<array>& in) const {
  ScaledDotProductAttention forward(stream(), scale_, causal_, false, false);
  return forward.Primitive::vjp({in[0], in[1], in[2]}, {in[4]}, {0, 1, 2}, {in[3]});
}

namespace fast {

namespace {

void check_vector(const char* op, const char* what, const array& w, const array& x) {
  if (w.ndim() != 1) throw_invalid(op, what, " must have 1 dimension, got shape ", shape_str(w.shape()), ".");
  if (w.shape(0) != x.shape(-1))
    throw_invalid(op, what, " size ", w.shape(0), " does not match the last axis of x (", x.shape(-1), ").");
}

Dtype norm_dtype(const char* op, const array& x, const std::optional<array>& w, const std::optional<array>& b) {
  if (x.ndim() == 0) throw_invalid(op, "Input must have at least 1 dimension.");
  Dtype d = x.dtype();
  if (w) d = promote_types(d, w->dtype());
  if (b) d = promote_types(d, b->dtype());
  if (!is_float_dtype(d)) throw_invalid(op, "Received unsupported type ", dtype_name(d), "; expected a float type.");
  return d;
}

}  // namespace

array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s) {
  Dtype d = norm_dtype("rms_norm", x, weight, std::nullopt);
  if (weight) check_vector("rms_norm", "weight", *weight, x);
  array w = weight ? astype(*weight, d, s) : ones({x.shape(-1)}, d, s);
  return make_node<RMSNorm>(x.shape(), d, {astype(x, d, s), w}, to_stream(s), eps);
}

array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s) {
  Dtype d = norm_dtype("layer_norm", x, weight, bias);
  if (weight) check_vector("layer_norm", "weight", *weight, x);
  if (bias) check_vector("layer_norm", "bias", *bias, x);
  array w = weight ? astype(*weight, d, s) : ones({x.shape(-1)}, d, s);
  array b = bias ? astype(*bias, d, s) : zeros({x.shape(-1)}, d, s);
  return make_node<LayerNorm>(x.shape(), d, {astype(x, d, s), w, b}, to_stream(s), eps);
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const std::optional<array>& freqs, StreamOrDevice s) {
  if (x.ndim() < 2) throw_invalid("rope", "Input must have at least 2 dimensions, got shape ", shape_str(x.shape()), ".");
  if (!is_float_dtype(x.dtype())) throw_invalid("rope", "Input must be a float type, got ", dtype_name(x.dtype()), ".");
  int D = x.shape(-1);
  if (dims <= 0 || dims > D || dims % 2 != 0)
    throw_invalid("rope", "dims must be even and in (0, ", D, "], got ", dims, ".");
  if (base.has_value() == freqs.has_value()) throw_invalid("rope", "Exactly one of base or freqs must be given.");
  if (offset.size() != 1) throw_invalid("rope", "offset must be a scalar, got shape ", shape_str(offset.shape()), ".");
  if (offset.dtype() == bool_ || is_float_dtype(offset.dtype()) || offset.dtype() == complex64)
    throw_invalid("rope", "offset must be an integer, got ", dtype_name(offset.dtype()), ".");
  int h = dims / 2;
  if (freqs && (freqs->ndim() != 1 || freqs->shape(0) != h))
    throw_invalid("rope", "freqs must have shape [", h, "], got ", shape_str(freqs->shape()), ".");
  // 1 / freqs, or base^(-2i/dims)
  array inv = freqs ? reciprocal(astype(*freqs, float32, s), s)
                    : power(array(*base, float32),
                            multiply(arange(0.0, double(h), 1.0, float32, s), array(-2.0f / float(dims), float32), s), s);
  array off = astype(reshape(offset, {}, s), int32, s);
  return make_node<RoPE>(x.shape(), x.dtype(), {x, off, inv}, to_stream(s), dims, traditional, scale);
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, int offset,
           const std::optional<array>& freqs, StreamOrDevice s) {
  return rope(x, dims, traditional, base, scale, array(offset, int32), freqs, s);
}

array scaled_dot_product_attention(const array& queries, const array& keys, const array& values, const float scale,
                                   const std::string& mask_mode, const std::optional<array>& mask_arr,
                                   const std::optional<array>& sinks, StreamOrDevice s) {
  const char* op = "scaled_dot_product_attention";
  if (queries.ndim() != 4 || keys.ndim() != 4 || values.ndim() != 4)
    throw_invalid(op, "queries, keys and values must be 4-D, got ", shape_str(queries.shape()), ", ",
                  shape_str(keys.shape()), ", ", shape_str(values.shape()), ".");
  int B = queries.shape(0), Hq = queries.shape(1), Lq = queries.shape(2), D = queries.shape(3);
  int Hkv = keys.shape(1), Lk = keys.shape(2);
  if (keys.shape(0) != B || values.shape(0) != B) throw_invalid(op, "Batch sizes differ.");
  if (values.shape(1) != Hkv || values.shape(2) != Lk) throw_invalid(op, "keys and values shapes do not match.");
  if (keys.shape(3) != D) throw_invalid(op, "queries and keys head dims differ (", D, " vs ", keys.shape(3), ").");
  if (Hkv == 0 || Hq % Hkv != 0)
    throw_invalid(op, "The number of query heads (", Hq, ") must be a multiple of the key/value heads (", Hkv, ").");
  Dtype d = queries.dtype();
  if (!is_float_dtype(d)) throw_invalid(op, "queries must be a float type, got ", dtype_name(d), ".");
  bool causal = false, has_mask = false;
  if (mask_mode == "causal") {
    causal = true;
    if (mask_arr) throw_invalid(op, "A mask array is not allowed with mask_mode \"causal\".");
  } else if (mask_mode == "array") {
    if (!mask_arr) throw_invalid(op, "mask_mode \"array\" needs a mask array.");
    has_mask = true;
  } else if (mask_mode.empty()) {
    has_mask = mask_arr.has_value();
  } else {
    throw_invalid(op, "Invalid mask_mode \"", mask_mode, "\"; expected \"\", \"causal\" or \"array\".");
  }
  std::vector<array> inputs = {queries, astype(keys, d, s), astype(values, d, s)};
  Shape full = {B, Hq, Lq, Lk};
  if (has_mask) {
    const array& m = *mask_arr;
    if (m.dtype() == complex64) throw_invalid(op, "Unsupported mask dtype complex64.");
    Shape bs = broadcast_shapes(m.shape(), full, op);
    if (bs != full)
      throw_invalid(op, "Mask of shape ", shape_str(m.shape()), " does not broadcast to ", shape_str(full), ".");
    array mm = m.dtype() == bool_ ? m : astype(astype(m, d, s), float32, s);
    inputs.push_back(broadcast_to(mm, full, s));
  }
  if (sinks) {
    if (sinks->ndim() != 1 || sinks->shape(0) != Hq)
      throw_invalid(op, "sinks must have shape [", Hq, "], got ", shape_str(sinks->shape()), ".");
    inputs.push_back(astype(*sinks, float32, s));
  }
  Shape out = {B, Hq, Lq, values.shape(3)};
  return make_node<ScaledDotProductAttention>(out, d, std::move(inputs), to_stream(s), scale, causal, has_mask,
                                              sinks.has_value());
}

}  // namespace fast
}  // namespace tessera
