#include "lm/layers/attention.h"

#include <cmath>
#include <vector>

#include "tessera/fast.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

array rope_frequencies(const RopeParams& r) {
  std::vector<float> f(size_t(r.dims / 2));
  for (size_t i = 0; i < f.size(); ++i) f[i] = std::pow(r.base, float(2 * i) / float(r.dims));
  return array(f.begin(), Shape{int(f.size())}, float32);
}

}  // namespace

Attention::Attention(const ModelConfig& cfg, const Linear& q, const Linear& k, const Linear& v, Linear o)
    : qkv_(Linear::concat({q, k, v})),
      o_(std::move(o)),
      heads_(cfg.num_heads),
      kv_heads_(cfg.num_kv_heads),
      head_dim_(cfg.head_dim),
      scale_(1.0f / std::sqrt(float(cfg.head_dim))),
      rope_{cfg.rope_dims, cfg.rope_traditional, cfg.rope_theta, cfg.rope_scale},
      rope_freqs_(rope_frequencies(rope_)) {}

array Attention::operator()(const array& x, int B, int L, KVCache& cache, int layer, int offset) const {
  const int D = head_dim_, Hq = heads_, Hkv = kv_heads_;
  array qkv = qkv_(x);  // [B * L, (Hq + 2 Hkv) D]
  // Columns [begin, begin + n D) as heads [B, n, L, D]. With one token per sequence a reshape
  // of the slice does it (a view when B = 1); longer inputs need the transpose.
  auto heads = [&](int begin, int n) {
    array part = slice(qkv, Shape{0, begin * D}, Shape{B * L, (begin + n) * D});
    if (L == 1) return reshape(part, {B, n, 1, D});
    return transpose(reshape(part, {B, L, n, D}), {0, 2, 1, 3});
  };
  // Queries and keys rotate together: one rope over their Hq + Hkv heads.
  array qk = fast::rope(heads(0, Hq + Hkv), rope_.dims, rope_.traditional, std::nullopt, rope_.scale, offset,
                        rope_freqs_);
  array q = slice(qk, Shape{0, 0, 0, 0}, Shape{B, Hq, L, D});
  array k = slice(qk, Shape{0, Hq, 0, 0}, Shape{B, Hq + Hkv, L, D});
  array v = heads(Hq + Hkv, Hkv);
  auto [keys, values] = cache.update(layer, k, v);
  array out = fast::scaled_dot_product_attention(q, keys, values, scale_, L > 1 ? "causal" : "");
  out = L == 1 ? reshape(out, {B, Hq * D}) : reshape(transpose(out, {0, 2, 1, 3}), {B * L, Hq * D});
  return o_(out);
}

}  // namespace tessera::lm
