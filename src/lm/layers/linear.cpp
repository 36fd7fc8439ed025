#include "lm/layers/linear.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::lm {

Linear::Linear(const Weight& w, std::optional<array> bias) : bias_(std::move(bias)) {
  if (w.shape.size() != 2) throw std::invalid_argument("[Linear] weight '" + w.source + "' must be 2-D");
  out_ = w.shape[0];
  in_ = w.shape[1];
  if (w.dense) {
    array t = transpose(*w.dense);
    t.eval();
    wt_ = t;
  } else {
    quant_ = *w.quant;
  }
}

Linear Linear::concat(const std::vector<Linear>& parts) {
  if (parts.empty()) throw std::invalid_argument("[Linear::concat] no parts");
  Linear out;
  out.in_ = parts[0].in_;
  bool q = parts[0].quantized(), fusable = true;
  for (auto& p : parts) {
    if (p.in_ != out.in_) throw std::invalid_argument("[Linear::concat] parts differ in input size");
    out.out_ += p.out_;
    fusable = fusable && p.parts_.empty() && p.quantized() == q && p.bias_.has_value() == parts[0].bias_.has_value() &&
              (!q || (p.quant_->bits == parts[0].quant_->bits && p.quant_->group_size == parts[0].quant_->group_size));
  }
  if (!fusable) {
    out.parts_ = parts;
    return out;
  }
  std::vector<array> w, s, b, bias;
  for (auto& p : parts) {
    if (q) {
      w.push_back(p.quant_->wq);
      s.push_back(p.quant_->scales);
      b.push_back(p.quant_->biases);
    } else {
      w.push_back(transpose(*p.wt_));  // the [out, in] weight as stored
    }
    if (p.bias_) bias.push_back(*p.bias_);
  }
  if (q) {
    array wq = concatenate(w, 0), sc = concatenate(s, 0), bi = concatenate(b, 0);
    eval(wq, sc, bi);
    out.quant_ = QuantizedWeight{wq, sc, bi, parts[0].quant_->group_size, parts[0].quant_->bits,
                                 parts[0].quant_->int8_activations};
  } else {
    // Concatenated as [out_total, in], like each part, and used through a transposed view: the
    // product then reads every output's weights as one contiguous row (a decode step streams
    // each row once, with no stride between the rows of a tile).
    array wc = concatenate(w, 0);
    wc.eval();
    out.wt_ = transpose(wc);
  }
  if (!bias.empty()) {
    array bb = concatenate(bias, 0);
    bb.eval();
    out.bias_ = bb;
  }
  return out;
}

array Linear::dense_product(const array& x) const {
  // A bfloat16 weight multiplies bfloat16 activations (the CPU's BF16 dot products, float32
  // accumulation) and the product comes back in the activations' type: promoting instead would
  // widen the whole weight to float32 on every call. A float16 weight is promoted: float16 GEMM
  // widens the weight anyway, and rounding the activations to float16 could overflow.
  if (wt_->dtype() == bfloat16 && x.dtype() != bfloat16 && issubdtype(x.dtype(), floating)) {
    return astype(matmul(astype(x, bfloat16), *wt_), x.dtype());
  }
  return matmul(x, *wt_);
}

array Linear::quantized_product(const array& x) const {
  const QuantizedWeight& q = *quant_;
  // Many rows (a prompt): the product is compute-bound, and bfloat16 activations let it run on
  // the CPU's bfloat16 matrix units (dequantized tiles of W in bfloat16, float32 accumulation),
  // the precision a bfloat16 model computes in everywhere. Few rows (decoding) stay in the
  // activations' type: that product is bound by reading W, not by arithmetic.
  int64_t rows = x.ndim() >= 1 && x.shape(-1) > 0 ? int64_t(x.size()) / x.shape(-1) : 0;
  if (x.dtype() == float32 && rows >= kBf16ProductRows) {
    // The product's type follows the scales too: float32 scales (GGUF's exact conversion) are
    // rounded for this product only, as its dequantized tiles are rounded to bfloat16 anyway.
    return astype(quantized_matmul(astype(x, bfloat16), q.wq, astype(q.scales, bfloat16), astype(q.biases, bfloat16),
                                   true, q.group_size, q.bits),
                  float32);
  }
  if (q.int8_activations && rows <= kInt8ActivationRows) {
    return quantized_matmul_int8_activations(x, q.wq, q.scales, q.biases, true, q.group_size, q.bits);
  }
  return quantized_matmul(x, q.wq, q.scales, q.biases, true, q.group_size, q.bits);
}

array Linear::operator()(const array& x) const {
  if (!parts_.empty()) {
    std::vector<array> ys;
    for (auto& p : parts_) ys.push_back(p(x));
    return concatenate(ys, -1);
  }
  array y = quant_ ? quantized_product(x) : dense_product(x);
  return bias_ ? add(y, *bias_) : y;
}

}  // namespace tessera::lm
