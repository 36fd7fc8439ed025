#include "lm/layers/attention.h"

#include <cmath>

#include "tessera/fast.h"
#include "tessera/ops.h"

namespace tessera::lm {

Attention::Attention(const ModelConfig& cfg, const Linear& q, const Linear& k, const Linear& v, Linear o)
    : qkv_(Linear::concat({q, k, v})),
      o_(std::move(o)),
      heads_(cfg.num_heads),
      kv_heads_(cfg.num_kv_heads),
      head_dim_(cfg.head_dim),
      scale_(1.0f / std::sqrt(float(cfg.head_dim))),
      rope_{cfg.rope_dims, cfg.rope_traditional, cfg.rope_theta, cfg.rope_scale} {}

array Attention::operator()(const array& x, KVCache& cache, int layer, int offset) const {
  const int B = x.shape(0), L = x.shape(1), D = head_dim_;
  const int hq = heads_ * D, hkv = kv_heads_ * D;
  array qkv = qkv_(x);  // [B, L, (Hq + 2 Hkv) D]
  // Heads to [B, H, L, D]. With one token the head axis can be split off by a reshape of the
  // slice, which is a view; longer inputs need the transpose.
  auto heads = [&](int begin, int width, int n) {
    array part = slice(qkv, Shape{0, 0, begin}, Shape{B, L, begin + width});
    if (L == 1) return reshape(part, {B, n, 1, D});
    return transpose(reshape(part, {B, L, n, D}), {0, 2, 1, 3});
  };
  array q = heads(0, hq, heads_);
  array k = heads(hq, hkv, kv_heads_);
  array v = heads(hq + hkv, hkv, kv_heads_);
  q = fast::rope(q, rope_.dims, rope_.traditional, rope_.base, rope_.scale, offset);
  k = fast::rope(k, rope_.dims, rope_.traditional, rope_.base, rope_.scale, offset);
  auto [keys, values] = cache.update(layer, k, v);
  array out = fast::scaled_dot_product_attention(q, keys, values, scale_, L > 1 ? "causal" : "");
  out = L == 1 ? reshape(out, {B, 1, hq}) : reshape(transpose(out, {0, 2, 1, 3}), {B, L, hq});
  return o_(out);
}

}  // namespace tessera::lm
