// Loading a model from a GGUF file: the config from "<arch>.*" metadata, tensors renamed from
// llama.cpp's names to the Hugging Face-style names the model files use, quantized tensors
// converted to the affine layout, and the embedded tokenizer.
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>

#include "lm/convert/tokenizer_convert.h"
#include "lm/models/gguf_names.h"
#include "lm/models/loaders.h"
#include "lm/models/model_chat_template.h"
#include "lm/models/registry.h"
#include "lm/models/weights.h"
#include "tessera/gguf.h"
#include "tessera/lm/model.h"
#include "tessera/lm/sentencepiece_gguf.h"
#include "tessera/lm/tokenizer.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

int positive(const gguf::Reader& r, const std::string& key, std::optional<int64_t> fallback = std::nullopt) {
  int64_t v = r.get_int(key, fallback);
  if (v <= 0 || v > (int64_t(1) << 30)) {
    throw std::invalid_argument("[load_model] " + r.path() + ": metadata '" + key + "' = " + std::to_string(v) +
                                " must be a positive integer");
  }
  return int(v);
}

}  // namespace

ModelConfig config_from_gguf(const gguf::Reader& r) {
  ModelConfig c;
  c.architecture = r.get_string("general.architecture");
  const std::string a = c.architecture + ".";
  c.hidden_size = positive(r, a + "embedding_length");
  c.num_layers = positive(r, a + "block_count");
  c.num_heads = positive(r, a + "attention.head_count");
  if (const gguf::Value* kv = r.find(a + "attention.head_count_kv"); kv && kv->is_array()) {
    throw std::invalid_argument("[load_model] " + r.path() + ": per-layer " + a +
                                "attention.head_count_kv is not supported");
  }
  c.num_kv_heads = positive(r, a + "attention.head_count_kv", c.num_heads);
  c.head_dim = positive(r, a + "attention.key_length", c.hidden_size / c.num_heads);
  c.intermediate_size = positive(r, a + "feed_forward_length");
  if (r.find(a + "context_length")) c.context_length = positive(r, a + "context_length");
  c.rms_norm_eps = float(r.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));
  c.rope_theta = float(r.get_float(a + "rope.freq_base", 10000.0));
  c.rope_dims = positive(r, a + "rope.dimension_count", c.head_dim);
  auto fail = [&](const std::string& what) { throw std::invalid_argument("[load_model] " + r.path() + ": " + what); };
  std::string scaling = r.get_string(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    double f = r.get_float(a + "rope.scaling.factor", 1.0);
    if (!(f > 0)) fail("rope.scaling.factor must be > 0");
    c.rope_scale = float(1.0 / f);
  } else if (scaling != "none") {
    fail("metadata '" + a + "rope.scaling.type' = '" + scaling +
         "' names a rope scaling Tessera does not implement (supported: none, linear)");
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    fail(std::to_string(c.num_heads) + " attention heads are not a multiple of " + std::to_string(c.num_kv_heads) +
         " key/value heads");
  }
  if (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0) {
    fail("rope dimension " + std::to_string(c.rope_dims) + " must be even and at most the head size " +
         std::to_string(c.head_dim));
  }
  // llama.cpp's converters permute the Q and K rows of Llama checkpoints so that its default
  // rope, which rotates adjacent pairs, applies (llama2.c weights already use it); the other
  // architectures keep Hugging Face's rows and rotate the two halves of each head.
  c.rope_traditional = c.architecture == "llama" || c.architecture == "mistral";
  // Biases are where the file has them (Qwen 2 always; others when trained with them).
  c.attention_bias = r.find_tensor("blk.0.attn_q.bias") != nullptr || r.find_tensor("blk.0.attn_qkv.bias") != nullptr;
  c.attention_out_bias = r.find_tensor("blk.0.attn_output.bias") != nullptr;

  auto sliding_every = [&](int period, bool last_is_global) {
    // Per-layer flags are sized by the block count: a count the file cannot back fails first.
    if (size_t(c.num_layers) > r.tensors().size()) {
      fail("metadata '" + a + "block_count' = " + std::to_string(c.num_layers) + " but the file holds only " +
           std::to_string(r.tensors().size()) + " tensors");
    }
    c.sliding_layers.assign(size_t(c.num_layers), false);
    for (int i = 0; i < c.num_layers; ++i) {
      c.sliding_layers[size_t(i)] = last_is_global ? (i + 1) % period != 0 : i % period == 0;
    }
  };
  auto non_negative = [&](const std::string& key) {
    double v = r.get_float(key, 0.0);
    if (!(v >= 0)) fail("metadata '" + key + "' must be >= 0");
    return float(v);
  };
  auto window = [&] {
    const std::string key = a + "attention.sliding_window";
    int64_t v = r.get_int(key, 0);
    if (v < 0 || v > (int64_t(1) << 30)) fail("metadata '" + key + "' = " + std::to_string(v) + " is out of range");
    return int(v);
  };
  const bool gemma2 = c.architecture == "gemma2", gemma3 = c.architecture == "gemma3";
  if (gemma2 || gemma3) {
    // llama.cpp's rules: even layers slide in Gemma 2, five of every six in Gemma 3 (whose local
    // layers rotate with base 10000); queries are scaled by 1/sqrt(head_dim) except in the 27B
    // models, whose query_pre_attn_scalar is hidden / heads; norms already hold 1 + w.
    c.hidden_act = "gelu_pytorch_tanh";
    c.sliding_window = window();
    if (c.sliding_window > 0) gemma2 ? sliding_every(2, false) : sliding_every(6, true);
    if (gemma3 && c.sliding_window > 0) c.rope_local_theta = 10000.0f;
    const bool big = c.num_layers == (gemma2 ? 46 : 62);
    c.query_scale = 1.0f / std::sqrt(float(big ? c.hidden_size / c.num_heads : c.head_dim));
    c.attn_logit_softcap = non_negative(a + "attn_logit_softcapping");
    c.final_logit_softcap = non_negative(a + "final_logit_softcapping");
  }
  if (c.architecture == "phi3") {
    c.sliding_window = window();
    if (c.sliding_window > 0) sliding_every(1, false);
    // LongRoPE keeps its per-frequency factors as tensors (read with the weights).
    if (r.find_tensor("rope_factors_long.weight") || r.find_tensor("rope_factors_short.weight")) {
      c.rope_type = "longrope";
      const int trained = c.context_length > 0 ? c.context_length : 4096;
      c.rope_original_context = positive(r, a + "rope.scaling.original_context_length", trained);
      c.rope_attention_factor = float(r.get_float(a + "rope.scaling.attn_factor", 1.0));
      if (!(c.rope_attention_factor > 0)) fail("metadata '" + a + "rope.scaling.attn_factor' must be > 0");
    }
  }
  return c;
}

LoadedModel load_gguf_model(const std::string& path, const LoadOptions& options) {
  gguf::Reader r(path);
  ModelFactory make = find_architecture(r.get_string("general.architecture"), path);
  ModelConfig cfg = config_from_gguf(r);

  WeightStore store(path);
  std::map<std::string, int> dequantized, widened;
  // Per file type: how many tensors, and the affine layout they became (k-quants differ).
  std::map<std::string, std::tuple<int, int, int>> converted;
  for (const auto& t : r.tensors()) {
    Weight w{std::nullopt, std::nullopt, t.shape(), t.name};
    const std::string name = hf_name(t.name, cfg.architecture);
    // The token table stays quantized too: an untied model gathers rows from it, a tied one
    // also multiplies by it as the output layer, where a float32 copy would be the largest
    // read of every decoded token.
    std::optional<gguf::QuantizedTensor> q;
    if (options.keep_quantized) q = r.load_quantized(t.name);
    if (q) {
      w.quant = QuantizedWeight{q->wq, q->scales, q->biases, q->group_size, q->bits, options.int8_activations};
      auto& [count, bits, group] = converted[gguf::tensor_type_name(t.type)];
      ++count;
      bits = q->bits;
      group = q->group_size;
    } else {
      array a = r.load(t.name);
      if (a.dtype() != float32) {
        // The graph computes in float32 for now; other storage is widened once here.
        bool quant = gguf::block_layout(t.type).first > 1;
        (quant ? dequantized : widened)[gguf::tensor_type_name(t.type)]++;
        a = astype(a, float32);
        a.eval();
      } else if (gguf::block_layout(t.type).first > 1) {
        dequantized[gguf::tensor_type_name(t.type)]++;
      }
      w.dense = a;
    }
    store.add(name, std::move(w));
  }
  auto summary = [](const std::map<std::string, int>& m) {
    std::string s;
    for (auto& [type, n] : m) s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + type;
    return s;
  };
  for (auto& [type, c] : converted) {
    auto& [count, bits, group] = c;
    gguf::log("[gguf] " + path + ": converted " + std::to_string(count) + " " + type +
              " tensors to the affine layout (" + std::to_string(bits) + "-bit, group " + std::to_string(group) +
              ") for quantized_matmul at load");
  }
  if (!dequantized.empty()) gguf::log("[gguf] " + path + ": dequantized " + summary(dequantized) + " tensors to float32 at load");
  if (!widened.empty()) gguf::log("[gguf] " + path + ": converted " + summary(widened) + " tensors to float32 at load");

  const gguf::TensorInfo* embd = r.find_tensor("token_embd.weight");
  if (!embd) throw std::invalid_argument("[load_model] " + path + ": missing tensor 'token_embd.weight'");
  if (embd->dims.size() != 2) throw std::invalid_argument("[load_model] " + path + ": token_embd.weight must be 2-D");
  cfg.vocab_size = int(embd->dims[1]);
  cfg.tie_word_embeddings = r.find_tensor("output.weight") == nullptr;

  // The block count sizes per-layer state before any weight is looked up, so it is checked
  // against the blocks the file holds: a corrupt count must fail here, not allocate.
  const std::string last_block = "blk." + std::to_string(cfg.num_layers - 1) + ".";
  bool has_last_block = false;
  for (const auto& t : r.tensors()) has_last_block = has_last_block || t.name.rfind(last_block, 0) == 0;
  if (size_t(cfg.num_layers) > r.tensors().size() || !has_last_block) {
    throw std::invalid_argument("[load_model] " + path + ": metadata '" + cfg.architecture + ".block_count' = " +
                                std::to_string(cfg.num_layers) + " but the file holds no tensors of block " +
                                std::to_string(cfg.num_layers - 1) + " (" + std::to_string(r.tensors().size()) +
                                " tensors in all)");
  }

  LoadedModel out;
  out.path = path;
  out.model = make(cfg, store);
  if (auto unused = store.unused(); !unused.empty()) {
    std::string names;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) names += (i ? ", " : "") + unused[i];
    gguf::log("[gguf] " + path + ": " + std::to_string(unused.size()) + " tensors are not used by the model (" + names +
              (unused.size() > 5 ? ", ..." : "") + ")");
  }
  if (const gguf::Value* m = r.find("tokenizer.ggml.model"); m && m->is_string() && m->str() == "llama") {
    auto tok = SentencePieceTokenizer::from_gguf(r);
    if (tok->vocab_size() > cfg.vocab_size) {
      throw std::invalid_argument("[load_model] " + path + ": the tokenizer has " + std::to_string(tok->vocab_size()) +
                                  " tokens but the embedding only " + std::to_string(cfg.vocab_size) + " rows");
    }
    out.tokenizer = tok;
  } else if (m && m->is_string() && m->str() == "gpt2") {
    // A byte-level BPE vocabulary (Llama 3, Qwen, GPT-2 files) runs through the Hugging Face
    // tokenizer, from the tokenizer.json its tokens, merges and pre-tokenizer name stand for.
    std::vector<std::string> notes;
    auto files = convert::tokenizer_from_gguf(r, notes);
    for (const auto& note : notes) gguf::log("[gguf] " + path + ": " + note);
    if (files) {
      Tokenizer tok = Tokenizer::from_json(files->tokenizer.dump(), files->tokenizer_config.dump(), path);
      if (tok.vocab_size() > cfg.vocab_size) {
        throw std::invalid_argument("[load_model] " + path + ": the tokenizer has " + std::to_string(tok.vocab_size()) +
                                    " tokens but the embedding only " + std::to_string(cfg.vocab_size) + " rows");
      }
      out.tokenizer = as_text_tokenizer(tok);
    }
  }
  out.chat_template = gguf_chat_template(r);
  return out;
}

}  // namespace tessera::lm
