// Llama (and the models that share its graph: Llama 2/3/3.1/3.2, Mistral, TinyLlama, llama2.c):
// pre-norm decoder blocks of grouped-query attention with rotary positions and a SwiGLU MLP,
// RMSNorm, optionally tied input/output embeddings. Follows mlx-lm's models/llama.py. Qwen 2 and
// Qwen 3 keep these tensor names and differ only in options (see qwen2.cpp, qwen3.cpp).
#include <memory>
#include <string>

#include "lm/models/decoder.h"
#include "lm/models/registry.h"

namespace tessera::lm {

std::vector<DecoderBlock> load_llama_blocks(const ModelConfig& c, WeightStore& w) {
  std::vector<DecoderBlock> blocks;
  blocks.reserve(size_t(c.num_layers));
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix("model.", i);
    blocks.push_back(DecoderBlock{load_norm(c, w, p + "input_layernorm.weight", c.hidden_size),
                                  load_attention(c, w, i, p + "self_attn."),
                                  load_norm(c, w, p + "post_attention_layernorm.weight", c.hidden_size),
                                  load_mlp(c, w, p + "mlp."), std::nullopt, std::nullopt});
  }
  return blocks;
}

std::shared_ptr<Model> make_llama(const ModelConfig& config, WeightStore& weights) {
  return std::make_shared<Decoder>(config, weights, load_llama_blocks(config, weights));
}

}  // namespace tessera::lm
