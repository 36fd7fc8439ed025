// Transform rules of the quantization primitives. With w = scale * q + bias per group, every
// product here is linear in x and jointly linear in (scales, biases): tangents are the same
// product with the tangent in place of the primal, and the cotangent of a group's scale
// (bias) is the sum over the group of the dense weight's cotangent times q (times 1). The
// packed words are integers: the drivers never ask for them, and a rule asked anyway throws.
// quantize differentiates its scales and biases (see quantize_scales_biases); MLX differentiates
// its composite the same way.
#include "primitives/quantized.h"

#include <stdexcept>
#include <string>

#include "tessera/ops.h"
#include "transforms/autodiff.h"

namespace tessera {

namespace {

[[noreturn]] void no_packed_derivative(const char* op) {
  throw std::invalid_argument(std::string("[") + op +
                              "] The packed weight is an integer array and has no derivative; "
                              "differentiate w.r.t. x, scales or biases.");
}

array mT(const array& a, const Stream& s) { return swapaxes(a, -1, -2, s); }

// [..., cols] -> [..., cols / gs, gs]
array by_group(const array& a, int gs, const Stream& s) {
  Shape sh(a.shape().begin(), a.shape().end() - 1);
  sh.push_back(a.shape(-1) / gs);
  sh.push_back(gs);
  return reshape(a, sh, s);
}

// Cotangents of scales and biases from the cotangent of the dense weight dequantize(wq, ...).
void scales_biases_cotangents(const array& dense_cot, const array& wq, const array& scales, const array& biases,
                              int gs, int bits, bool want_scales, bool want_biases, std::optional<array>& dscales,
                              std::optional<array>& dbiases, const Stream& s) {
  array g = by_group(dense_cot, gs, s);
  if (want_biases) dbiases = sum(g, -1, false, s);
  if (want_scales) {
    // q itself, in the cotangent's dtype: dequantize with unit scales and zero biases.
    array q = dequantize(wq, ones_like(scales, s), zeros_like(biases, s), gs, bits, "affine", dense_cot.dtype(), s);
    dscales = sum(multiply(g, by_group(q, gs, s), s), -1, false, s);
  }
}

// Tangent of the dense weight for tangents of scales and/or biases (zeros for the other).
array dense_tangent(const std::vector<array>& primals, const std::vector<array>& tangents,
                    const std::vector<int>& argnums, int gs, int bits, const Stream& s) {
  std::optional<array> ts, tb;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 2) ts = tangents[k];
    if (argnums[k] == 3) tb = tangents[k];
  }
  const array &sc = primals[2], &bi = primals[3];
  return dequantize(primals[1], ts ? *ts : zeros_like(sc, s), tb ? *tb : zeros_like(bi, s), gs, bits, "affine",
                    sc.dtype(), s);
}

// Batch axis to the front, or, for an unbatched input, a broadcast leading batch dim.
array front_or_broadcast(const array& a, int axis, int batch, const Stream& s) {
  if (axis >= 0) return moveaxis(a, axis, 0, s);
  Shape sh = a.shape();
  sh.insert(sh.begin(), batch);
  return broadcast_to(expand_dims(a, 0, s), sh, s);
}

// quantize's scales and biases as differentiable functions of w: the composite's formulas
// (src/ops/quantized.cpp) with the rounded edge level q0 held constant (it moves in jumps) and
// the division by it guarded, so the branch `where` discards contributes zeros, not 0 * inf.
std::vector<array> quantize_scales_biases(const array& w, int gs, int bits, const Stream& s) {
  array g = by_group(astype(w, float32, s), gs, s);
  array wmax = max(g, -1, true, s), wmin = min(g, -1, true, s);
  array zero(0.f), one(1.f), n_bins(float((1 << bits) - 1));
  array mask = greater(abs(wmin, s), abs(wmax, s), s);
  array delta = maximum(divide(subtract(wmax, wmin, s), n_bins, s), array(1e-7f), s);
  array scale0 = where(mask, delta, negative(delta, s), s);
  array edge = where(mask, wmin, wmax, s);
  array q0 = stop_gradient(round(divide(edge, scale0, s), 0, s), s);
  array nz = not_equal(q0, zero, s);
  array scale = where(nz, divide(edge, where(nz, q0, one, s), s), scale0, s);
  array bias = where(nz, edge, zero, s);
  return {astype(squeeze(scale, -1, s), w.dtype(), s), astype(squeeze(bias, -1, s), w.dtype(), s)};
}

int batch_size(const std::vector<array>& inputs, const std::vector<int>& axes) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (axes[i] >= 0) return inputs[i].shape(axes[i]);
  }
  throw std::logic_error("[vmap] batching rule called without a batched input.");
}

}  // namespace

// ------------------------------------------------------------------ AffineQuantize

std::vector<array> AffineQuantize::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                       const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const Stream& s = stream();
  if (!dequantize_) {
    // The packed words are piecewise constant in w; scales and biases carry the derivative.
    auto fn = [this, &s](const std::vector<array>& in) { return quantize_scales_biases(in[0], group_size_, bits_, s); };
    return detail::vjp_impl(fn, {primals[0]}, {cotangents[1], cotangents[2]}, argnums).second;
  }
  std::optional<array> dscales, dbiases;
  bool want_s = false, want_b = false;
  for (int arg : argnums) {
    if (arg == 0) no_packed_derivative("dequantize");
    want_s = want_s || arg == 1;
    want_b = want_b || arg == 2;
  }
  scales_biases_cotangents(cotangents[0], primals[0], primals[1], primals[2], group_size_, bits_, want_s, want_b,
                           dscales, dbiases, s);
  std::vector<array> out;
  for (int arg : argnums) out.push_back(arg == 1 ? *dscales : *dbiases);
  return out;
}

std::vector<array> AffineQuantize::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                       const std::vector<int>& argnums) const {
  const Stream& s = stream();
  if (!dequantize_) {
    auto fn = [this, &s](const std::vector<array>& in) { return quantize_scales_biases(in[0], group_size_, bits_, s); };
    std::vector<array> t = detail::jvp_impl(fn, {primals[0]}, tangents, argnums).second;
    Shape packed = primals[0].shape();
    packed.back() = int(int64_t(packed.back()) * bits_ / 32);
    return {zeros(packed, uint32, s), t[0], t[1]};
  }
  std::optional<array> ts, tb;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 0) no_packed_derivative("dequantize");
    if (argnums[k] == 1) ts = tangents[k];
    if (argnums[k] == 2) tb = tangents[k];
  }
  const array &sc = primals[1], &bi = primals[2];
  return {dequantize(primals[0], ts ? *ts : zeros_like(sc, s), tb ? *tb : zeros_like(bi, s), group_size_, bits_,
                     "affine", sc.dtype(), s)};
}

std::pair<std::vector<array>, std::vector<int>> AffineQuantize::vmap(const std::vector<array>& inputs,
                                                                     const std::vector<int>& axes) const {
  const Stream& s = stream();
  // Both directions work on the last axis only; leading dims are independent.
  if (!dequantize_) {
    std::vector<array> outs = quantize(moveaxis(inputs[0], axes[0], 0, s), group_size_, bits_, "affine", s);
    return {outs, std::vector<int>(outs.size(), 0)};
  }
  int n = batch_size(inputs, axes);
  array wq = front_or_broadcast(inputs[0], axes[0], n, s);
  array sc = front_or_broadcast(inputs[1], axes[1], n, s);
  array bi = front_or_broadcast(inputs[2], axes[2], n, s);
  return {{dequantize(wq, sc, bi, group_size_, bits_, "affine", sc.dtype(), s)}, {0}};
}

// ------------------------------------------------------------------ QuantizedMatmul

std::vector<array> QuantizedMatmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                        const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const Stream& s = stream();
  const array &x = primals[0], &w = primals[1], &sc = primals[2], &bi = primals[3];
  const array& cot = cotangents[0];
  bool want_s = false, want_b = false;
  for (int arg : argnums) {
    if (arg == 1) no_packed_derivative("quantized_matmul");
    want_s = want_s || arg == 2;
    want_b = want_b || arg == 3;
  }
  std::optional<array> dscales, dbiases;
  if (want_s || want_b) {
    // The dense weight's cotangent ([rows, cols] as stored: [N, K] transposed, [K, N] not).
    array dw = transpose_ ? matmul(mT(cot, s), x, s) : matmul(mT(x, s), cot, s);
    scales_biases_cotangents(dw, w, sc, bi, group_size_, bits_, want_s, want_b, dscales, dbiases, s);
  }
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) {
      out.push_back(quantized_matmul(cot, w, sc, bi, !transpose_, group_size_, bits_, "affine", s));
    } else {
      // In the primal's type: scales may be stored narrower than the product.
      out.push_back(astype(arg == 2 ? *dscales : *dbiases, (arg == 2 ? sc : bi).dtype(), s));
    }
  }
  return out;
}

std::vector<array> QuantizedMatmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                        const std::vector<int>& argnums) const {
  const Stream& s = stream();
  std::optional<array> t;
  bool dense = false;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 1) no_packed_derivative("quantized_matmul");
    if (argnums[k] == 0) {
      t = quantized_matmul(tangents[k], primals[1], primals[2], primals[3], transpose_, group_size_, bits_, "affine", s);
    } else {
      dense = true;
    }
  }
  if (dense) {
    array dw = dense_tangent(primals, tangents, argnums, group_size_, bits_, s);
    array term = astype(matmul(primals[0], transpose_ ? mT(dw, s) : dw, s), primals[0].dtype(), s);
    t = t ? add(*t, term, s) : term;
  }
  return {*t};
}

std::pair<std::vector<array>, std::vector<int>> QuantizedMatmul::vmap(const std::vector<array>& inputs,
                                                                      const std::vector<int>& axes) const {
  const Stream& s = stream();
  int n = batch_size(inputs, axes);
  array x = axes[0] >= 0 ? moveaxis(inputs[0], axes[0], 0, s) : inputs[0];
  array w = inputs[1], sc = inputs[2], bi = inputs[3];
  if (axes[1] >= 0 || axes[2] >= 0 || axes[3] >= 0) {
    // A batch of weights: the op broadcasts x's leading dims against the weights' batch.
    w = front_or_broadcast(w, axes[1], n, s);
    sc = front_or_broadcast(sc, axes[2], n, s);
    bi = front_or_broadcast(bi, axes[3], n, s);
  }
  return {{quantized_matmul(x, w, sc, bi, transpose_, group_size_, bits_, "affine", s)}, {0}};
}

// ------------------------------------------------------------------ GatherQMM

std::vector<array> GatherQMM::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const Stream& s = stream();
  const array &x = primals[0], &w = primals[1], &sc = primals[2], &bi = primals[3];
  const array &lhs = primals[4], &rhs = primals[5];
  const array& cot = cotangents[0];  // [batch..., M, N]
  int nb = int(lhs.ndim());
  bool want_s = false, want_b = false;
  for (int arg : argnums) {
    if (arg == 1) no_packed_derivative("gather_qmm");
    if (arg >= 4) throw std::invalid_argument("[gather_qmm] Indices have no derivative.");
    want_s = want_s || arg == 2;
    want_b = want_b || arg == 3;
  }
  std::optional<array> dscales, dbiases;
  if (want_s || want_b) {
    // Each product's dense weight cotangent, summed into the matrix its rhs index chose.
    array xg = take(x, lhs, 0, s);  // [batch..., M, K]
    array dw = transpose_ ? matmul(mT(cot, s), xg, s) : matmul(mT(xg, s), cot, s);
    Shape dense{w.shape(0), dw.shape(-2), dw.shape(-1)};
    array acc = scatter_add(zeros(dense, dw.dtype(), s), rhs, expand_dims(dw, nb, s), 0, s);
    scales_biases_cotangents(acc, w, sc, bi, group_size_, bits_, want_s, want_b, dscales, dbiases, s);
  }
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) {
      // Product b's x cotangent is cot[b] against the same weight the other way round; products
      // that read the same x matrix add up.
      array g = gather_qmm(cot, w, sc, bi, std::nullopt, rhs, !transpose_, group_size_, bits_, "affine", false, s);
      out.push_back(scatter_add(zeros_like(x, s), lhs, expand_dims(g, nb, s), 0, s));
    } else {
      out.push_back(arg == 2 ? *dscales : *dbiases);
    }
  }
  return out;
}

std::vector<array> GatherQMM::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) const {
  const Stream& s = stream();
  const array &lhs = primals[4], &rhs = primals[5];
  std::optional<array> t;
  bool dense = false;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 1) no_packed_derivative("gather_qmm");
    if (argnums[k] >= 4) continue;  // indices: no tangent contribution
    if (argnums[k] == 0) {
      t = gather_qmm(tangents[k], primals[1], primals[2], primals[3], lhs, rhs, transpose_, group_size_, bits_,
                     "affine", false, s);
    } else {
      dense = true;
    }
  }
  if (dense) {
    array dw = dense_tangent(primals, tangents, argnums, group_size_, bits_, s);
    array term = gather_mm(primals[0], transpose_ ? mT(dw, s) : dw, lhs, rhs, false, s);
    t = t ? add(*t, term, s) : term;
  }
  if (!t) {
    Shape sh = lhs.shape();
    sh.push_back(primals[0].shape(-2));
    sh.push_back(transpose_ ? primals[1].shape(-2) : int(int64_t(primals[1].shape(-1)) * 32 / bits_));
    t = zeros(sh, primals[0].dtype(), s);
  }
  return {*t};
}

std::pair<std::vector<array>, std::vector<int>> GatherQMM::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) const {
  const Stream& s = stream();
  int n = batch_size(inputs, axes);
  // Fold the batch into the stacks of x and weight matrices and offset the indices into them:
  // entry v of a batched stack of B matrices lives at v * B + i.
  auto offsets = [&](int stack) {
    return multiply(arange(0, n, 1, uint32, s), array(uint32_t(stack), uint32), s);
  };
  auto fold = [&](const array& a) {
    Shape sh(a.shape().begin() + 1, a.shape().end());
    sh[0] *= n;
    return reshape(a, sh, s);
  };
  auto index = [&](const array& idx, int axis, const std::optional<array>& off) {
    array i = axis >= 0 ? moveaxis(idx, axis, 0, s) : expand_dims(idx, 0, s);
    i = astype(i, uint32, s);
    if (off) {
      Shape sh(i.ndim(), 1);
      sh[0] = n;
      i = add(i, reshape(*off, sh, s), s);
    }
    return i;
  };
  array x = inputs[0], w = inputs[1], sc = inputs[2], bi = inputs[3];
  std::optional<array> xoff, woff;
  if (axes[0] >= 0) {
    x = moveaxis(x, axes[0], 0, s);
    xoff = offsets(x.shape(1));
    x = fold(x);
  }
  if (axes[1] >= 0 || axes[2] >= 0 || axes[3] >= 0) {
    w = front_or_broadcast(w, axes[1], n, s);
    woff = offsets(w.shape(1));
    w = fold(w);
    sc = fold(front_or_broadcast(sc, axes[2], n, s));
    bi = fold(front_or_broadcast(bi, axes[3], n, s));
  }
  array lhs = index(inputs[4], axes[4], xoff), rhs = index(inputs[5], axes[5], woff);
  return {{gather_qmm(x, w, sc, bi, lhs, rhs, transpose_, group_size_, bits_, "affine", false, s)}, {0}};
}

}  // namespace tessera
