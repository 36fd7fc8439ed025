// Transform rules of the fused normalizations in closed form: a handful of reductions over the
// last axis instead of differentiating the composite node by node. 16-bit inputs compute in
// float32 (as the kernels do); float32 and float64 keep their own precision. RoPE's input
// gradient is the inverse rotation; its jvp and vmap, and scaled_dot_product_attention's rules
// outside its fused gradient, differentiate and batch the composites.
//
// With n = x * r the normalized rows (r = 1 / sqrt(mean(x^2) + eps) for RMSNorm, and x centered
// first for LayerNorm) and g the cotangent times the weight:
//   RMSNorm:   dx = r * (g - n * mean(g * n))
//   LayerNorm: dx = r * (g - mean(g) - n * mean(g * n))
// and the weight (bias) cotangent is the sum over the leading axes of cot * n (of cot).
#include <numeric>

#include "primitives/fast.h"
#include "tessera/fast.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

Dtype compute_dtype(Dtype d) { return d == float16 || d == bfloat16 ? float32 : d; }

array row_mean(const array& a, const Stream& s) { return mean(a, -1, true, s); }

// Sum over every axis but the last: the shape of a per-feature weight.
array sum_leading(const array& a, const Stream& s) {
  if (a.ndim() <= 1) return a;
  std::vector<int> axes(a.ndim() - 1);
  std::iota(axes.begin(), axes.end(), 0);
  return sum(a, axes, false, s);
}

struct Normalized {
  array n, r;
};

Normalized rms_rows(const array& x, float eps, const Stream& s) {
  array r = rsqrt(add(row_mean(square(x, s), s), array(eps, x.dtype()), s), s);
  return {multiply(x, r, s), r};
}

Normalized layer_rows(const array& x, float eps, const Stream& s) {
  array c = subtract(x, row_mean(x, s), s);
  array r = rsqrt(add(row_mean(square(c, s), s), array(eps, x.dtype()), s), s);
  return {multiply(c, r, s), r};
}

}  // namespace

array detail::keep_last_axis(const array& x, int& axis, const Stream& s) {
  if (axis < 0 || axis != int(x.ndim()) - 1) return x;
  axis = 0;
  return moveaxis(x, int(x.ndim()) - 1, 0, s);
}

// ------------------------------------------------------------------ RMSNorm

// One RMSNormVjp node gives both gradients (the weight's costs one more multiply-add per element
// in its pass); float64 keeps the composite.
std::vector<array> RMSNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const array& x = primals[0];
  const array& w = primals[1];
  std::vector<array> inputs = {x, w, astype(cotangents[0], x.dtype(), stream())};
  std::vector<array> grads =
      x.dtype() == float64
          ? RMSNormVjp(stream(), eps_).decompose(inputs)
          : array::make_arrays({x.shape(), w.shape()}, {x.dtype(), w.dtype()},
                               std::make_shared<RMSNormVjp>(stream(), eps_), std::move(inputs));
  std::vector<array> out;
  for (int arg : argnums) out.push_back(grads[size_t(arg == 0 ? 0 : 1)]);
  return out;
}

std::vector<array> RMSNormVjp::decompose(const std::vector<array>& inputs) const {
  const Stream& s = stream();
  Dtype ct = compute_dtype(inputs[0].dtype());
  array x = astype(inputs[0], ct, s), g = astype(inputs[2], ct, s);
  auto [n, r] = rms_rows(x, eps_, s);
  array gw = multiply(g, astype(inputs[1], ct, s), s);
  array dx = multiply(r, subtract(gw, multiply(n, row_mean(multiply(gw, n, s), s), s), s), s);
  array dw = sum_leading(multiply(g, n, s), s);
  return {astype(dx, inputs[0].dtype(), s), astype(dw, inputs[1].dtype(), s)};
}

std::vector<array> RMSNorm::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) const {
  const Stream& s = stream();
  Dtype ct = compute_dtype(primals[0].dtype());
  array x = astype(primals[0], ct, s);
  auto [n, r] = rms_rows(x, eps_, s);
  std::optional<array> t;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array tk = astype(tangents[k], ct, s);
    array term = argnums[k] == 0
                     ? multiply(multiply(r, subtract(tk, multiply(n, row_mean(multiply(n, tk, s), s), s), s), s),
                                astype(primals[1], ct, s), s)
                     : multiply(n, tk, s);
    t = t ? add(*t, term, s) : term;
  }
  return {astype(*t, primals[0].dtype(), s)};
}

std::pair<std::vector<array>, std::vector<int>> RMSNorm::vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes) const {
  if (axes[1] >= 0) return Primitive::vmap(inputs, axes);  // a weight per batch entry: the composite
  int axis = axes[0];
  array x = detail::keep_last_axis(inputs[0], axis, stream());
  return {{fast::rms_norm(x, inputs[1], eps_, stream())}, {axis}};
}

// ------------------------------------------------------------------ RoPE

std::vector<array> RoPE::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) {
      const array& x = primals[0];
      out.push_back(array(x.shape(), x.dtype(), std::make_shared<RoPE>(stream(), dims_, traditional_, -scale_),
                          {astype(cotangents[0], x.dtype(), stream()), primals[1], primals[2]}));
    } else {
      out.push_back(Primitive::vjp(primals, cotangents, {arg}, outputs)[0]);
    }
  }
  return out;
}

// ------------------------------------------------------------------ LayerNorm

std::vector<array> LayerNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const Stream& s = stream();
  Dtype ct = compute_dtype(primals[0].dtype());
  array x = astype(primals[0], ct, s), g = astype(cotangents[0], ct, s);
  auto [n, r] = layer_rows(x, eps_, s);
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) {
      array gw = multiply(g, astype(primals[1], ct, s), s);
      array inner = subtract(subtract(gw, row_mean(gw, s), s), multiply(n, row_mean(multiply(gw, n, s), s), s), s);
      out.push_back(astype(multiply(r, inner, s), primals[0].dtype(), s));
    } else if (arg == 1) {
      out.push_back(astype(sum_leading(multiply(g, n, s), s), primals[1].dtype(), s));
    } else {
      out.push_back(astype(sum_leading(g, s), primals[2].dtype(), s));
    }
  }
  return out;
}

std::vector<array> LayerNorm::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) const {
  const Stream& s = stream();
  Dtype ct = compute_dtype(primals[0].dtype());
  array x = astype(primals[0], ct, s);
  auto [n, r] = layer_rows(x, eps_, s);
  std::optional<array> t;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array tk = astype(tangents[k], ct, s);
    array term = tk;
    if (argnums[k] == 0) {
      array tc = subtract(tk, row_mean(tk, s), s);
      array dn = multiply(r, subtract(tc, multiply(n, row_mean(multiply(n, tc, s), s), s), s), s);
      term = multiply(dn, astype(primals[1], ct, s), s);
    } else if (argnums[k] == 1) {
      term = multiply(n, tk, s);
    }
    t = t ? add(*t, term, s) : term;
  }
  return {astype(broadcast_to(*t, primals[0].shape(), s), primals[0].dtype(), s)};
}

std::pair<std::vector<array>, std::vector<int>> LayerNorm::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes) const {
  if (axes[1] >= 0 || axes[2] >= 0) return Primitive::vmap(inputs, axes);
  int axis = axes[0];
  array x = detail::keep_last_axis(inputs[0], axis, stream());
  return {{fast::layer_norm(x, inputs[1], inputs[2], eps_, stream())}, {axis}};
}

}  // namespace tessera
