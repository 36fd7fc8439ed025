// Language models: a config, a forward pass over token ids with a KV cache, and loading by
// architecture name (a registry maps GGUF's general.architecture / config.json's model_type to
// the file that builds the model; an unknown name gets an error listing the supported ones).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/array.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/text_tokenizer.h"

namespace tessera::lm {

struct ModelConfig {
  std::string architecture;  // "llama", ...
  int vocab_size = 0;
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int intermediate_size = 0;
  int context_length = 0;  // the length the model was trained for (0: unknown)
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  int rope_dims = 0;          // leading dims of each head that rotate
  float rope_scale = 1.0f;    // position multiplier (linear rope scaling: 1 / factor)
  // Rotate interleaved pairs (x0, x1), (x2, x3), ... (GGUF's Llama weights, llama2.c) rather than
  // the two halves of each head (Hugging Face weights). GGUF converters permute Q and K rows so
  // that the interleaved form applies.
  bool rope_traditional = false;
  bool tie_word_embeddings = false;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  // tokens: int32 [B, L]. Returns logits [B, L, vocab] (float32), or [B, 1, vocab] for the last
  // position only when `last_only`. Appends the tokens' keys and values to `cache`.
  virtual array forward(const array& tokens, KVCache& cache, bool last_only = true) const = 0;
  // A cache for this model (max_size 0: unbounded).
  virtual KVCache make_cache(int max_size = 0) const { return KVCache(config().num_layers, 256, max_size); }
};

struct LoadOptions {
  // Keep Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 weights quantized (run by quantized_matmul); false dequantizes
  // them to float32 at load.
  bool keep_quantized = true;
};

struct LoadedModel {
  std::shared_ptr<Model> model;
  std::shared_ptr<TextTokenizer> tokenizer;
  std::string path;
};

// A .gguf file (model and embedded tokenizer). std::invalid_argument / std::runtime_error naming
// the file and what is wrong (unknown architecture, missing or mis-shaped tensor, bad metadata).
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

// Architectures the registry knows.
std::vector<std::string> supported_architectures();

}  // namespace tessera::lm
