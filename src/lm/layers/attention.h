// Multi-head attention with grouped-query heads, rotary positions and a KV cache: the shared
// builder the decoder-only models use.
#pragma once

#include <optional>

#include "lm/layers/linear.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

struct RopeParams {
  int dims;
  bool traditional;
  float base;
  float scale;
};

class Attention {
 public:
  // q/k/v/o: [Hq*D, hidden], [Hkv*D, hidden], [Hkv*D, hidden], [hidden, Hq*D]. q, k and v are
  // fused into one product.
  Attention(const ModelConfig& cfg, const Linear& q, const Linear& k, const Linear& v, Linear o);

  // x: [B * L, hidden] (the rows of B sequences of L tokens); `offset` is the position of each
  // sequence's first token. Returns [B * L, hidden].
  array operator()(const array& x, int B, int L, KVCache& cache, int layer, int offset) const;

 private:
  Linear qkv_, o_;
  int heads_, kv_heads_, head_dim_;
  float scale_;
  RopeParams rope_;
  array rope_freqs_;  // base^(2i / dims): fast::rope's `freqs`, computed once
};

}  // namespace tessera::lm
