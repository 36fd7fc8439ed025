#include "lm/models/decoder.h"

#include <stdexcept>

#include "lm/models/registry.h"
#include "tessera/ops.h"

namespace tessera::lm {

std::string layer_prefix(const std::string& prefix, int i) { return prefix + "layers." + std::to_string(i) + "."; }

RMSNorm load_norm(const ModelConfig& c, WeightStore& w, const std::string& name, int size) {
  return RMSNorm(w.dense(name, {size}), c.rms_norm_eps, c.norm_offset);
}

Linear load_linear(WeightStore& w, const std::string& name, int out, int in, bool bias) {
  const Weight& weight = w.get(name + ".weight", {out, in});
  if (!bias) return Linear(weight);
  return Linear(weight, w.dense(name + ".bias", {out}));
}

Attention load_attention(const ModelConfig& c, WeightStore& w, int layer, const std::string& prefix) {
  const int D = c.head_dim, H = c.hidden_size;
  Linear qkv = Linear::concat({load_linear(w, prefix + "q_proj", c.num_heads * D, H, c.attention_bias),
                               load_linear(w, prefix + "k_proj", c.num_kv_heads * D, H, c.attention_bias),
                               load_linear(w, prefix + "v_proj", c.num_kv_heads * D, H, c.attention_bias)});
  Linear o = load_linear(w, prefix + "o_proj", H, c.num_heads * D, c.attention_out_bias);
  std::optional<RMSNorm> q_norm, k_norm;
  if (c.qk_norm) {
    q_norm = load_norm(c, w, prefix + "q_norm.weight", D);
    k_norm = load_norm(c, w, prefix + "k_norm.weight", D);
  }
  return Attention(attention_options(c, layer, w), std::move(qkv), std::move(o), q_norm, k_norm);
}

GatedMLP load_mlp(const ModelConfig& c, WeightStore& w, const std::string& prefix) {
  const int F = c.intermediate_size, H = c.hidden_size;
  return GatedMLP(load_linear(w, prefix + "gate_proj", F, H), load_linear(w, prefix + "up_proj", F, H),
                  load_linear(w, prefix + "down_proj", H, F), activation_from_name(c.hidden_act));
}

array DecoderBlock::operator()(const array& x, int B, int L, KVCache& cache, int layer, int offset) const {
  array a = attn(attn_norm(x), B, L, cache, layer, offset);
  if (attn_out_norm) a = (*attn_out_norm)(a);
  array h = add(x, a);
  array m = mlp(mlp_norm(h));
  if (mlp_out_norm) m = (*mlp_out_norm)(m);
  return add(h, m);
}

Decoder::Decoder(const ModelConfig& c, WeightStore& w, std::vector<DecoderBlock> blocks, const std::string& prefix,
                 const std::string& head)
    : cfg_(c),
      embed_(w.get(prefix + "embed_tokens.weight", {c.vocab_size, c.hidden_size})),
      norm_(load_norm(c, w, prefix + "norm.weight", c.hidden_size)),
      blocks_(std::move(blocks)) {
  if (int(blocks_.size()) != c.num_layers) {
    throw std::invalid_argument("[" + c.architecture + "] " + std::to_string(blocks_.size()) + " blocks for " +
                                std::to_string(c.num_layers) + " layers");
  }
  cfg_.tie_word_embeddings = c.tie_word_embeddings || !w.has(head + ".weight");
  if (!cfg_.tie_word_embeddings) {
    head_ = load_linear(w, head, c.vocab_size, c.hidden_size);
  } else {
    head_ = embed_.as_linear();
  }
}

bool Decoder::supports_static_steps() const {
  // Sliding-window layers keep rings, whose views change with the offset.
  for (size_t i = 0; i < cfg_.sliding_layers.size(); ++i) {
    if (cfg_.sliding_window > 0 && cfg_.sliding_layers[i]) return false;
  }
  return true;
}

int Decoder::static_step_variant(int offset) const {
  // Attention switches to the long frequencies once a query sits past the original context.
  return cfg_.rope_type == "longrope" && offset + 1 > cfg_.rope_original_context ? 1 : 0;
}

array Decoder::forward(const array& tokens, KVCache& cache, bool last_only) const {
  check_tokens(tokens, cfg_);
  const int B = tokens.shape(0), L = tokens.shape(1), H = cfg_.hidden_size;
  const int offset = cache.offset();
  // The residual stream is kept 2-D, [B * L, hidden]: products with the weights then need no
  // batch broadcast.
  array x = embed_(reshape(tokens, {B * L}));
  if (cfg_.embed_scale != 1.0f) x = multiply(x, array(cfg_.embed_scale));
  for (int i = 0; i < int(blocks_.size()); ++i) x = blocks_[i](x, B, L, cache, i, offset);
  int rows = L;
  if (last_only && L > 1) {
    x = reshape(slice(reshape(x, {B, L, H}), Shape{0, L - 1, 0}, Shape{B, L, H}), {B, H});
    rows = 1;
  }
  array logits = (*head_)(norm_(x));
  if (cfg_.final_logit_softcap > 0) {
    const float cap = cfg_.final_logit_softcap;
    logits = multiply(tanh(multiply(logits, array(1.0f / cap))), array(cap));
  }
  return reshape(logits, {B, rows, cfg_.vocab_size});
}

}  // namespace tessera::lm
