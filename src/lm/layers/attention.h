// Multi-head attention with grouped-query heads, rotary positions and a KV cache: the shared
// builder the decoder-only models use. Per layer it may add biases (in the projections), RMSNorm
// over each head's queries and keys, a sliding window, soft-capped scores and a custom query
// scale; rope may rotate only the leading features of each head.
#pragma once

#include <optional>

#include "lm/layers/linear.h"
#include "lm/layers/norm.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

struct Rope {
  int dims = 0;              // leading features of each head that rotate
  bool traditional = false;  // interleaved pairs instead of the two halves
  float scale = 1.0f;        // position multiplier (linear scaling)
  array freqs = array(0.0f);  // [dims / 2]: fast::rope's periods, base^(2i / dims) after scaling rules
  // LongRoPE: once a sequence reaches past `long_after` positions, `long_freqs` replace `freqs`;
  // the rotated features of queries and keys are multiplied by `mscale`.
  std::optional<array> long_freqs;
  int long_after = 0;
  float mscale = 1.0f;
};

struct AttentionOptions {
  int heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 0.0f;    // multiplies q.k
  int window = 0;        // keys a query sees, its own included; 0: all earlier ones
  float softcap = 0.0f;  // scores -> softcap * tanh(scores / softcap); 0: off
  Rope rope;
};

// Layer `layer`'s options from the config: its window and rope (sliding layers may have their own
// base), the query scale and soft cap. GGUF files keep some rope factors as tensors
// (rope_freqs for Llama 3.1 scaling, rope_factors_short / rope_factors_long for LongRoPE); they are
// taken from `weights` when there.
AttentionOptions attention_options(const ModelConfig& config, int layer, WeightStore& weights);

class Attention {
 public:
  // qkv: [(Hq + 2 Hkv) D, hidden], the query, key and value projections fused (Linear::concat
  // of q, k, v, or a checkpoint's own qkv_proj); o: [hidden, Hq D]. q_norm / k_norm: RMSNorm over
  // the D features of each query / key head, both or neither.
  Attention(AttentionOptions options, Linear qkv, Linear o, std::optional<RMSNorm> q_norm = std::nullopt,
            std::optional<RMSNorm> k_norm = std::nullopt);

  // x: [B * L, hidden] (the rows of B sequences of L tokens); `offset` is the position of each
  // sequence's first token. Returns [B * L, hidden].
  array operator()(const array& x, int B, int L, KVCache& cache, int layer, int offset) const;

 private:
  // Queries [B, Hq, L, D] against the view's keys and values with scores built op by op: soft
  // caps, and packed keys/values through quantized_matmul. mask: bool [L, n] (true: attend) or none.
  array explicit_attention(const array& q, const KVView& kv, const std::optional<array>& mask) const;

  AttentionOptions opt_;
  Linear qkv_, o_;
  std::optional<array> qk_norm_weight_;  // [Hq + Hkv, D]: each head's norm weight
  float qk_norm_eps_ = 0.0f;
  std::optional<array> rope_mscale_;     // [D]: mscale on the rotated features, 1 elsewhere
};

}  // namespace tessera::lm
