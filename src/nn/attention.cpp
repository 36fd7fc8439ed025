// MultiHeadAttention over fast::scaled_dot_product_attention.
#include "tessera/nn/attention.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "tessera/fast.h"
#include "tessera/ops.h"

namespace tessera::nn {

MultiHeadAttention::MultiHeadAttention(int dims, int num_heads, bool bias)
    : MultiHeadAttention(dims, num_heads, Options{0, 0, 0, 0, 0, bias}) {}

MultiHeadAttention::MultiHeadAttention(int dims, int num_heads, const Options& o) : num_heads_(num_heads) {
  auto or_dims = [](int v, int fallback) { return v > 0 ? v : fallback; };
  int q_in = or_dims(o.query_input_dims, dims), k_in = or_dims(o.key_input_dims, dims);
  int v_in = or_dims(o.value_input_dims, k_in), v_dims = or_dims(o.value_dims, dims);
  int out_dims = or_dims(o.value_output_dims, dims);
  if (num_heads <= 0 || dims % num_heads != 0 || v_dims % num_heads != 0) {
    throw std::invalid_argument("[MultiHeadAttention] dims (" + std::to_string(dims) + ") and value_dims (" +
                                std::to_string(v_dims) + ") must be multiples of num_heads (" +
                                std::to_string(num_heads) + ").");
  }
  register_module("query_proj", std::make_shared<Linear>(q_in, dims, o.bias));
  register_module("key_proj", std::make_shared<Linear>(k_in, dims, o.bias));
  register_module("value_proj", std::make_shared<Linear>(v_in, v_dims, o.bias));
  register_module("out_proj", std::make_shared<Linear>(v_dims, out_dims, o.bias));
}

array MultiHeadAttention::attend(const array& queries, const array& keys, const array& values,
                                 const std::string& mask_mode, const std::optional<array>& mask) {
  if (queries.ndim() != 3 || keys.ndim() != 3 || values.ndim() != 3) {
    throw std::invalid_argument("[MultiHeadAttention] queries, keys and values must be [batch, length, features].");
  }
  // Children are called through the registry so that nn::quantize can swap them.
  array q = child("query_proj")(queries);
  array k = child("key_proj")(keys);
  array v = child("value_proj")(values);
  int b = q.shape(0), l = q.shape(1), s = k.shape(1), h = num_heads_;
  auto heads = [&](const array& z, int len) { return transpose(reshape(z, {b, len, h, -1}), {0, 2, 1, 3}); };
  q = heads(q, l);
  k = heads(k, s);
  v = heads(v, s);
  float scale = 1.0f / std::sqrt(float(q.shape(-1)));
  array out = q;
  if (q.shape(-1) == v.shape(-1)) {
    out = fast::scaled_dot_product_attention(q, k, v, scale, mask ? "array" : mask_mode, mask);
  } else {
    // The fused kernel needs one head size for queries and values; value_dims may differ.
    array scores = multiply(matmul(q, swapaxes(k, -1, -2)), array(scale, q.dtype()));
    if (mask_mode == "causal") {
      array keep = greater_equal(add(expand_dims(arange(l), 1), array(s - l)), expand_dims(arange(s), 0));
      scores = where(keep, scores, array(-std::numeric_limits<float>::infinity(), scores.dtype()));
    } else if (mask) {
      scores = mask->dtype() == bool_ ? where(*mask, scores, array(-std::numeric_limits<float>::infinity(), scores.dtype()))
                                      : add(scores, *mask);
    }
    out = matmul(softmax(scores, -1, true), v);
  }
  out = reshape(transpose(out, {0, 2, 1, 3}), {b, l, -1});
  return child("out_proj")(out);
}

array MultiHeadAttention::operator()(const array& queries, const array& keys, const array& values,
                                     const std::optional<array>& mask) {
  return attend(queries, keys, values, "", mask);
}

array MultiHeadAttention::operator()(const array& queries, const array& keys, const array& values,
                                     const std::string& mask_mode) {
  if (mask_mode != "causal" && !mask_mode.empty()) {
    throw std::invalid_argument("[MultiHeadAttention] mask_mode must be 'causal' or empty, got '" + mask_mode + "'.");
  }
  return attend(queries, keys, values, mask_mode, std::nullopt);
}

std::vector<array> MultiHeadAttention::forward(const std::vector<array>& inputs) {
  if (inputs.size() == 3) return {attend(inputs[0], inputs[1], inputs[2], "", std::nullopt)};
  if (inputs.size() == 4) return {attend(inputs[0], inputs[1], inputs[2], "", inputs[3])};
  throw std::invalid_argument("[MultiHeadAttention] Expected {queries, keys, values[, mask]}, got " +
                              std::to_string(inputs.size()) + " inputs.");
}

array MultiHeadAttention::create_additive_causal_mask(int n, Dtype dtype) {
  // The most negative finite value of the mask's own dtype: float32's would round to -inf in the
  // narrower types, and -inf rows turn fully masked softmaxes into NaN.
  float lowest = dtype == float16    ? -65504.0f
                 : dtype == bfloat16 ? -3.3895313892515355e38f
                                     : std::numeric_limits<float>::lowest();
  array idx = arange(n);
  array above = less(expand_dims(idx, 1), expand_dims(idx, 0));
  return multiply(astype(above, dtype), array(lowest, dtype));
}

}  // namespace tessera::nn
