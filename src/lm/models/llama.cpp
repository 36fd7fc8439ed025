// Llama (and the models that share its graph: Llama 2/3, Mistral, TinyLlama, llama2.c):
// pre-norm decoder blocks of grouped-query attention with rotary positions and a SwiGLU MLP,
// RMSNorm, optionally tied input/output embeddings. Follows mlx-lm's models/llama.py.
#include <memory>
#include <string>

#include "lm/layers/attention.h"
#include "lm/layers/mlp.h"
#include "lm/layers/norm.h"
#include "lm/models/registry.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

class Block {
 public:
  Block(const ModelConfig& c, WeightStore& w, int i)
      : attn_norm_(norm(c, w, prefix(i) + "input_layernorm.weight")),
        mlp_norm_(norm(c, w, prefix(i) + "post_attention_layernorm.weight")),
        attn_(c, linear(w, i, "self_attn.q_proj", c.num_heads * c.head_dim, c.hidden_size),
              linear(w, i, "self_attn.k_proj", c.num_kv_heads * c.head_dim, c.hidden_size),
              linear(w, i, "self_attn.v_proj", c.num_kv_heads * c.head_dim, c.hidden_size),
              linear(w, i, "self_attn.o_proj", c.hidden_size, c.num_heads * c.head_dim)),
        mlp_(linear(w, i, "mlp.gate_proj", c.intermediate_size, c.hidden_size),
             linear(w, i, "mlp.up_proj", c.intermediate_size, c.hidden_size),
             linear(w, i, "mlp.down_proj", c.hidden_size, c.intermediate_size)) {}

  // x: [B * L, hidden].
  array operator()(const array& x, int B, int L, KVCache& cache, int layer, int offset) const {
    array h = add(x, attn_(attn_norm_(x), B, L, cache, layer, offset));
    return add(h, mlp_(mlp_norm_(h)));
  }

 private:
  static std::string prefix(int i) { return "model.layers." + std::to_string(i) + "."; }
  static RMSNorm norm(const ModelConfig& c, WeightStore& w, const std::string& name) {
    return RMSNorm(w.dense(name, {c.hidden_size}), c.rms_norm_eps);
  }
  static Linear linear(WeightStore& w, int i, const std::string& name, int out, int in) {
    return Linear(w.get(prefix(i) + name + ".weight", {out, in}));
  }

  RMSNorm attn_norm_, mlp_norm_;
  Attention attn_;
  GatedMLP mlp_;
};

class Llama : public Model {
 public:
  Llama(const ModelConfig& c, WeightStore& w)
      : cfg_(c),
        embed_(w.dense("model.embed_tokens.weight", {c.vocab_size, c.hidden_size})),
        norm_(w.dense("model.norm.weight", {c.hidden_size}), c.rms_norm_eps),
        head_(c.tie_word_embeddings || !w.has("lm_head.weight")
                  ? Linear(Weight{embed_, std::nullopt, {c.vocab_size, c.hidden_size}, "token_embd.weight"})
                  : Linear(w.get("lm_head.weight", {c.vocab_size, c.hidden_size}))) {
    cfg_.tie_word_embeddings = c.tie_word_embeddings || !w.has("lm_head.weight");
    blocks_.reserve(c.num_layers);
    for (int i = 0; i < c.num_layers; ++i) blocks_.emplace_back(c, w, i);
  }

  const ModelConfig& config() const override { return cfg_; }

  array forward(const array& tokens, KVCache& cache, bool last_only) const override {
    check_tokens(tokens, cfg_);
    const int B = tokens.shape(0), L = tokens.shape(1);
    const int offset = cache.offset();
    // The residual stream is kept 2-D, [B * L, hidden]: products with the weights then need no
    // batch broadcast.
    array x = take(embed_, reshape(tokens, {B * L}), 0);
    for (int i = 0; i < int(blocks_.size()); ++i) x = blocks_[i](x, B, L, cache, i, offset);
    int rows = L;
    if (last_only && L > 1) {
      x = reshape(slice(reshape(x, {B, L, cfg_.hidden_size}), Shape{0, L - 1, 0}, Shape{B, L, cfg_.hidden_size}),
                  {B, cfg_.hidden_size});
      rows = 1;
    }
    return reshape(head_(norm_(x)), {B, last_only ? 1 : rows, cfg_.vocab_size});
  }

 private:
  ModelConfig cfg_;
  array embed_;
  RMSNorm norm_;
  Linear head_;
  std::vector<Block> blocks_;
};

}  // namespace

std::shared_ptr<Model> make_llama(const ModelConfig& config, WeightStore& weights) {
  return std::make_shared<Llama>(config, weights);
}

}  // namespace tessera::lm
