// Gemma 2 and Gemma 3 (text): Llama-like blocks with sandwich norms (each sub-layer's output is
// normalized again before its residual add), embeddings scaled by sqrt(hidden_size), a GeGLU MLP
// (tanh-approximated gelu), and RMSNorm weights stored as w - 1 in Hugging Face checkpoints
// (ModelConfig::norm_offset). Layers alternate between sliding-window and global attention as
// the config marks them. Gemma 2 soft-caps attention scores and logits; Gemma 3 drops the
// attention cap, normalizes each head's queries and keys, and gives its local layers their own
// rope base. Follows mlx-lm's models/gemma2.py and gemma3_text.py.
#include <cmath>
#include <memory>
#include <string>

#include "lm/models/decoder.h"
#include "lm/models/registry.h"

namespace tessera::lm {

namespace {

// Where the language model's tensors live: under "model." in text checkpoints; Gemma 3's
// multimodal ones nest it ("language_model.model." in older transformers and MLX conversions,
// "model.language_model." in newer transformers).
std::string locate(WeightStore& w) {
  for (const char* p : {"model.", "language_model.model.", "model.language_model."}) {
    if (w.has(std::string(p) + "embed_tokens.weight")) return p;
  }
  return "model.";  // the missing tensor is then reported under its usual name
}

std::shared_ptr<Model> make_gemma(const ModelConfig& config, WeightStore& w, bool qk_norm) {
  ModelConfig c = config;
  c.sandwich_norms = true;
  c.qk_norm = qk_norm;
  c.embed_scale = float(std::sqrt(double(c.hidden_size)));
  const std::string prefix = locate(w);
  const int H = c.hidden_size;
  std::vector<DecoderBlock> blocks;
  blocks.reserve(size_t(c.num_layers));
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = layer_prefix(prefix, i);
    blocks.push_back(DecoderBlock{load_norm(c, w, p + "input_layernorm.weight", H),
                                  load_attention(c, w, i, p + "self_attn."),
                                  load_norm(c, w, p + "pre_feedforward_layernorm.weight", H),
                                  load_mlp(c, w, p + "mlp."),
                                  load_norm(c, w, p + "post_attention_layernorm.weight", H),
                                  load_norm(c, w, p + "post_feedforward_layernorm.weight", H)});
  }
  const std::string head = prefix == "language_model.model." ? "language_model.lm_head" : "lm_head";
  return std::make_shared<Decoder>(c, w, std::move(blocks), prefix, head);
}

}  // namespace

std::shared_ptr<Model> make_gemma2(const ModelConfig& config, WeightStore& weights) {
  return make_gemma(config, weights, false);
}

std::shared_ptr<Model> make_gemma3(const ModelConfig& config, WeightStore& weights) {
  return make_gemma(config, weights, true);
}

}  // namespace tessera::lm
