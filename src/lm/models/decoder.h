// The decoder-only graph the architectures share: token embedding, a stack of blocks (attention
// then gated MLP, each behind an RMSNorm and a residual add), a final norm and the LM head. Model
// files differ in their tensor names and in which of the blocks' options they use; they build the
// blocks with the loaders here and hand them to Decoder.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lm/layers/attention.h"
#include "lm/layers/embedding.h"
#include "lm/layers/mlp.h"
#include "lm/layers/norm.h"
#include "lm/models/weights.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

struct DecoderBlock {
  RMSNorm attn_norm;
  Attention attn;
  RMSNorm mlp_norm;
  GatedMLP mlp;
  // Sandwich norms (Gemma 2/3): the attention and MLP outputs normalized before the residual adds.
  std::optional<RMSNorm> attn_out_norm, mlp_out_norm;

  // x: [B * L, hidden].
  array operator()(const array& x, int B, int L, KVCache& cache, int layer, int offset) const;
};

// Loaders that check shapes against the config and name the tensor on failure.
RMSNorm load_norm(const ModelConfig& c, WeightStore& w, const std::string& name, int size);
// `name` without ".weight"; with `bias`, "<name>.bias" [out] is required too.
Linear load_linear(WeightStore& w, const std::string& name, int out, int in, bool bias = false);
// The attention of layer `layer` from separate q/k/v/o projections under `prefix`
// ("model.layers.3.self_attn."), with biases and q/k norms as the config says.
Attention load_attention(const ModelConfig& c, WeightStore& w, int layer, const std::string& prefix);
// gate_proj / up_proj / down_proj under `prefix` ("model.layers.3.mlp.").
GatedMLP load_mlp(const ModelConfig& c, WeightStore& w, const std::string& prefix);

class Decoder : public Model {
 public:
  // Embedding "<prefix>embed_tokens.weight", final norm "<prefix>norm.weight", and the LM head
  // "<head>.weight" unless the config ties it to the embedding (or the file has no head).
  Decoder(const ModelConfig& c, WeightStore& w, std::vector<DecoderBlock> blocks, const std::string& prefix = "model.",
          const std::string& head = "lm_head");

  const ModelConfig& config() const override { return cfg_; }
  array forward(const array& tokens, KVCache& cache, bool last_only) const override;
  bool supports_static_steps() const override;
  int static_step_variant(int offset) const override;

 private:
  ModelConfig cfg_;
  Embedding embed_;
  RMSNorm norm_;
  std::optional<Linear> head_;
  std::vector<DecoderBlock> blocks_;
};

// "model.layers.<i>." under `prefix` "model.".
std::string layer_prefix(const std::string& prefix, int i);

// Llama's blocks: model.layers.<i>.{input_layernorm, self_attn.{q,k,v,o}_proj,
// post_attention_layernorm, mlp.{gate,up,down}_proj}. Llama, Mistral and Qwen 2/3 share them
// (defined in llama.cpp).
std::vector<DecoderBlock> load_llama_blocks(const ModelConfig& c, WeightStore& w);

}  // namespace tessera::lm
