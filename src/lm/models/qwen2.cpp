// Qwen 2 / Qwen 2.5: Llama's graph and tensor names with biases on the query, key and value
// projections (not on the output projection). Sliding-window layers, when a config turns them on
// (use_sliding_window), are the layers from max_window_layers up; hf_config.cpp marks them.
#include <memory>

#include "lm/models/decoder.h"
#include "lm/models/registry.h"

namespace tessera::lm {

std::shared_ptr<Model> make_qwen2(const ModelConfig& config, WeightStore& weights) {
  ModelConfig c = config;
  c.attention_bias = true;
  c.attention_out_bias = false;
  return std::make_shared<Decoder>(c, weights, load_llama_blocks(c, weights));
}

}  // namespace tessera::lm
