// Qwen 3 (dense): Llama's graph and tensor names with an RMSNorm over each head's queries and keys
// (self_attn.q_norm / k_norm, before rope) and a head size set apart from hidden / heads. Biases
// only when the config's attention_bias says so.
#include <memory>

#include "lm/models/decoder.h"
#include "lm/models/registry.h"

namespace tessera::lm {

std::shared_ptr<Model> make_qwen3(const ModelConfig& config, WeightStore& weights) {
  ModelConfig c = config;
  c.qk_norm = true;
  return std::make_shared<Decoder>(c, weights, load_llama_blocks(c, weights));
}

}  // namespace tessera::lm
