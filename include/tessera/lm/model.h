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

// What a model file needs to build its graph. Defaults describe Llama; the other architectures
// set the fields they use (hf_config.cpp from config.json, gguf_loader.cpp from GGUF metadata).
struct ModelConfig {
  std::string architecture;  // "llama", "qwen2", "qwen3", "gemma2", "gemma3_text", "phi3", ...
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

  // Rope frequency rules beyond the plain base^(2i / rope_dims) (transformers' rope_type):
  //   "default" or "linear" (rope_scale above);
  //   "llama3": frequencies with wavelength above rope_original_context / rope_low_freq_factor
  //     are divided by rope_factor, those below rope_original_context / rope_high_freq_factor
  //     kept, those between interpolated (Llama 3.1 / 3.2);
  //   "longrope": per-frequency divisors rope_short_factors, replaced by rope_long_factors once
  //     a sequence grows past rope_original_context; the rotated features of queries and keys are
  //     scaled by rope_attention_factor (Phi-3 128k, Phi-3.5, Phi-4-mini). GGUF files carry the
  //     factors as tensors rope_factors_short / rope_factors_long instead.
  std::string rope_type = "default";
  float rope_factor = 1.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  int rope_original_context = 0;
  float rope_attention_factor = 1.0f;
  std::vector<float> rope_short_factors, rope_long_factors;  // rope_dims / 2 each
  // Rope base of the sliding-window layers, which also skip rope scaling (Gemma 3's
  // rope_local_base_freq); 0: rope_theta.
  float rope_local_theta = 0.0f;

  // Attention.
  bool attention_bias = false;      // q, k and v projections carry biases (Qwen2; attention_bias)
  bool attention_out_bias = false;  // so does the output projection (attention_bias outside Qwen2)
  bool qk_norm = false;             // RMSNorm over each head's queries and keys before rope (Qwen3, Gemma 3)
  float query_scale = 0.0f;         // multiplies q.k; 0: 1 / sqrt(head_dim) (Gemma: query_pre_attn_scalar^-1/2)
  float attn_logit_softcap = 0.0f;  // scores -> cap * tanh(scores / cap) before masking (Gemma 2); 0: off
  // Sliding-window layers see the last `sliding_window` positions, their own included
  // (transformers' "sliding_attention"); which layers slide is `sliding_layers` (num_layers flags;
  // empty: none).
  int sliding_window = 0;
  std::vector<bool> sliding_layers;

  // Blocks.
  std::string hidden_act = "silu";  // the gated MLP's activation: "silu", "gelu_pytorch_tanh" or "gelu"
  // Gemma 2/3's sandwich norms: attention and MLP outputs are normalized before the residual adds
  // (post_attention_layernorm, post_feedforward_layernorm), and the MLP's input norm is
  // pre_feedforward_layernorm.
  bool sandwich_norms = false;
  // Added to every RMSNorm weight: 1 for Gemma's Hugging Face checkpoints, which store w - 1
  // (GGUF converters already added it).
  float norm_offset = 0.0f;
  float embed_scale = 1.0f;           // multiplies token embeddings (Gemma: sqrt(hidden_size))
  float final_logit_softcap = 0.0f;   // logits -> cap * tanh(logits / cap) (Gemma 2); 0: off
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;
  // tokens: int32 [B, L]. Returns logits [B, L, vocab] (float32), or [B, 1, vocab] for the last
  // position only when `last_only`. Appends the tokens' keys and values to `cache`.
  virtual array forward(const array& tokens, KVCache& cache, bool last_only = true) const = 0;
  // Static decode steps (lm/generate/decode_plan.h): whether forward() of one token per sequence
  // honours KVCache::begin_static_step (its graph then depends on the cache's capacity and
  // shapes only, not on the offset), and a number that changes whenever that graph would change
  // with the offset for another reason (Phi-3's long-context frequencies).
  virtual bool supports_static_steps() const { return false; }
  virtual int static_step_variant(int /*offset*/) const { return 0; }
  // A cache for this model: its sliding-window layers keep a ring of their window's positions
  // (src/lm/cache/kv_cache.cpp).
  KVCache make_cache(const KVCacheOptions& options) const;
  // max_size 0: unbounded; otherwise updates past max_size positions raise std::length_error.
  KVCache make_cache(int max_size = 0) const;
};

struct LoadOptions {
  // Keep Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 weights quantized (run by quantized_matmul); false dequantizes
  // them to float32 at load.
  bool keep_quantized = true;
  // Decoding (at most four rows per product) with 4- and 8-bit weights rounds the activations to
  // int8 per 32 values and runs int8 dot products (quantized_matmul_int8_activations): about twice
  // the decode speed of the exact float32 product on AVX512-VNNI CPUs, with activations at about
  // 8-bit precision (llama.cpp's scheme). Off by default: products then match MLX's.
  bool int8_activations = false;
};

struct ChatTemplateSource;  // tessera/lm/chat_template.h

struct LoadedModel {
  std::shared_ptr<Model> model;
  std::shared_ptr<TextTokenizer> tokenizer;
  std::string path;
  // The chat template the model ships, with the special tokens it may print; null when it has
  // none. A directory's chat_template.jinja wins over tokenizer_config.json's chat_template (as
  // in transformers), then a processor's chat_template.json; a GGUF file's is
  // tokenizer.chat_template.
  std::shared_ptr<const ChatTemplateSource> chat_template;
};

// A .gguf file (model and embedded tokenizer) or a Hugging Face / MLX model directory.
// std::invalid_argument / std::runtime_error naming
// the file and what is wrong (unknown architecture, missing or mis-shaped tensor, bad metadata).
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

// Architectures the registry knows.
std::vector<std::string> supported_architectures();

}  // namespace tessera::lm
