// A trainable decoder-only language model of the Llama architecture as an nn::Module: pre-norm
// blocks of grouped-query attention (rotary positions, causal) and a SwiGLU MLP, RMSNorm, an
// optionally tied head. Its parameter names are those of Hugging Face Llama checkpoints
// ("model.layers.0.self_attn.q_proj.weight", ...), so save_weights gives a model.safetensors that
// tessera::lm::load_model (and other engines) read as it is, with the rotation of each head's two
// halves (not interleaved pairs) that those checkpoints use.
#pragma once

#include <memory>

#include "tessera/lm/model.h"
#include "tessera/nn/module.h"

namespace tessera::lm {

class CausalLM : public nn::Module {
 public:
  // Uses vocab_size, hidden_size, num_layers, num_heads, num_kv_heads, head_dim,
  // intermediate_size, rms_norm_eps, rope_theta and tie_word_embeddings; std::invalid_argument for
  // sizes that do not fit together (heads * head_dim, kv heads dividing heads, ...). Weights are
  // drawn from normal(0, 0.02), with the output projections of each block scaled down by
  // 1/sqrt(2 * num_layers) so the residual stream starts near unit variance.
  explicit CausalLM(const ModelConfig& config);
  std::string type_name() const override { return "CausalLM"; }

  // tokens int32 [B, L] -> logits [B, L, vocab] (in the parameters' dtype).
  std::vector<array> forward(const std::vector<array>& inputs) override;
  using Module::operator();

  const ModelConfig& config() const { return config_; }
  // Parameters counted once (a tied head shares the embedding).
  int64_t num_parameters() const;

 private:
  ModelConfig config_;
};

}  // namespace tessera::lm
