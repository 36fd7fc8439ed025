// GGUF -> Hugging Face directory: the inverse of gguf_export.cpp. Tensor names and the Q/K row
// order go back to transformers' layout, the "<arch>.*" metadata becomes config.json (Llama 3.1's
// rope_freqs.weight becomes its rope_scaling), the embedded vocabulary becomes tokenizer.json and
// tokenizer_config.json, and its special ids generation_config.json.
#include <chrono>

#include "lm/convert/convert_common.h"
#include "lm/convert/gguf_arch.h"
#include "lm/convert/tokenizer_convert.h"
#include "lm/models/gguf_names.h"
#include "tessera/ops.h"

namespace tessera::lm {

using namespace convert;

namespace {

std::optional<Dtype> float_type(gguf::TensorType t) {
  if (t == gguf::TensorType::f32) return float32;
  if (t == gguf::TensorType::f16) return float16;
  if (t == gguf::TensorType::bf16) return bfloat16;
  return std::nullopt;
}

std::vector<float> host_floats(array a) {
  a = contiguous(astype(a, float32));
  a.eval();
  return std::vector<float>(a.data<float>(), a.data<float>() + a.size());
}

}  // namespace

ConvertSummary convert_gguf_to_hf(const std::string& gguf_file, const std::string& out_dir, const HfConvertOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.random_weights) fail("--random-weights", "draws weights for a Hugging Face input directory, not a GGUF file");
  if (o.dtype && *o.dtype != float32 && *o.dtype != float16 && *o.dtype != bfloat16) {
    fail("--dtype", std::string(dtype_name(*o.dtype)) + " is not a weight type (float16, bfloat16 or float32)");
  }
  gguf::Reader r(gguf_file);
  const std::string arch_name = r.get_string("general.architecture");
  const GgufArch* arch = gguf_arch_for_gguf(arch_name);
  if (!arch) {
    fail(gguf_file, "general.architecture '" + arch_name + "' has no Hugging Face conversion here (supported: " +
                        gguf_arch_names() + ")");
  }
  const ModelConfig c = config_from_gguf(r);
  const gguf::TensorInfo* embd = r.find_tensor("token_embd.weight");
  if (!embd || embd->dims.size() != 2) fail(gguf_file, "no 2-D tensor 'token_embd.weight'");
  if (embd->dims[1] == 0 || embd->dims[1] > (uint64_t(1) << 30)) {
    fail(gguf_file, "token_embd.weight has " + std::to_string(embd->dims[1]) + " rows");
  }
  const int vocab = int(embd->dims[1]);
  const bool tied = r.find_tensor("output.weight") == nullptr;
  const Dtype dtype = o.dtype ? *o.dtype : float_type(embd->type).value_or(float32);
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(out_dir, gguf_file, ec)) fail(out_dir, "is the input; write the output elsewhere");

  ConvertSummary s;
  s.input = gguf_file;
  s.output = out_dir;
  s.format = "hf";
  s.architecture = arch->hf_type;
  s.type = torch_dtype_name(dtype);

  // Llama 3.1's frequencies come as factors; config.json needs the rule's parameters.
  nlohmann::json rope_scaling;
  if (const gguf::TensorInfo* rf = r.find_tensor("rope_freqs.weight")) {
    std::vector<float> f = host_floats(r.load(rf->name));
    std::optional<Llama3Rope> p = llama3_rope_from_factors(f, c.rope_theta, c.rope_dims);
    if (!p) {
      fail(gguf_file, "rope_freqs.weight holds frequency factors that no Llama 3.1 rope_scaling reproduces; "
                      "config.json cannot express them");
    }
    rope_scaling = {{"rope_type", "llama3"},
                    {"factor", shortest_double(float(p->factor))},
                    {"low_freq_factor", shortest_double(float(p->low_freq_factor))},
                    {"high_freq_factor", shortest_double(float(p->high_freq_factor))},
                    {"original_max_position_embeddings", p->original_context}};
  } else if (c.rope_scale != 1.0f) {
    rope_scaling = {{"type", "linear"}, {"rope_type", "linear"}, {"factor", shortest_double(1.0f / c.rope_scale)}};
  }

  OutputDir out(out_dir, o.overwrite);
  ShardWriter shards(out.tmp(), uint64_t(5) << 30, "pt");
  ProgressCounter progress{o.progress, "converting", uint64_t(r.tensors().size())};
  int dequantized = 0;
  for (const gguf::TensorInfo& t : r.tensors()) {
    if (t.name == "rope_freqs.weight") {
      progress.step();
      continue;
    }
    const std::string name = hf_name(t.name, arch->gguf);
    if (name == t.name) fail(gguf_file, "tensor '" + t.name + "' has no Hugging Face name for " + arch_name);
    array w = float_type(t.type) ? r.load(t.name) : r.load(t.name, float32);
    if (!float_type(t.type)) ++dequantized;
    const bool q = t.name.find(".attn_q.") != std::string::npos, k = t.name.find(".attn_k.") != std::string::npos;
    if (arch->interleaved_rope && (q || k)) {
      const int heads = q ? c.num_heads : c.num_kv_heads;
      if (w.ndim() < 1 || w.shape(0) != heads * c.head_dim || c.head_dim % 2 != 0) {
        fail(gguf_file, "tensor '" + t.name + "' has " + std::to_string(w.ndim() < 1 ? 0 : w.shape(0)) +
                            " rows, expected " + std::to_string(heads) + " heads of " + std::to_string(c.head_dim));
      }
      w = rope_rows_to_halves(w, heads);
    }
    if (w.dtype() != dtype) w = astype(w, dtype);
    s.parameters += int64_t(w.size());
    shards.add(name, w);
    s.tensors_written++;
    progress.step();
  }
  if (dequantized > 0) {
    s.notes.push_back("dequantized " + std::to_string(dequantized) + " block-quantized tensors to " + torch_dtype_name(dtype));
  }
  s.files = shards.finish();
  s.bytes_written = shards.bytes();

  nlohmann::json config = {{"architectures", {arch->hf_class}},
                           {"model_type", arch->hf_type},
                           {"vocab_size", vocab},
                           {"hidden_size", c.hidden_size},
                           {"intermediate_size", c.intermediate_size},
                           {"num_hidden_layers", c.num_layers},
                           {"num_attention_heads", c.num_heads},
                           {"num_key_value_heads", c.num_kv_heads},
                           {"head_dim", c.head_dim},
                           {"hidden_act", "silu"},
                           {"rms_norm_eps", shortest_double(c.rms_norm_eps)},
                           {"rope_theta", shortest_double(c.rope_theta)},
                           {"rope_scaling", rope_scaling},
                           {"tie_word_embeddings", tied},
                           {"torch_dtype", torch_dtype_name(dtype)}};
  if (c.context_length > 0) config["max_position_embeddings"] = c.context_length;
  if (std::string(arch->hf_type) == "qwen2" || std::string(arch->hf_type) == "qwen3") config["use_sliding_window"] = false;
  if (std::string(arch->hf_type) != "qwen2") {
    // transformers' Llama/Mistral/Qwen 3 have one switch for biases on q, k, v and o.
    if (c.attention_bias != c.attention_out_bias) {
      fail(gguf_file, std::string("biases on ") + (c.attention_bias ? "q/k/v but not the output projection" : "the output projection only") +
                          " have no config.json form for " + arch->hf_type);
    }
    config["attention_bias"] = c.attention_bias;
  }

  std::optional<HfTokenizerFiles> tok = tokenizer_from_gguf(r, s.notes);
  nlohmann::json generation = nlohmann::json::object();
  if (tok) {
    if (tok->bos) config["bos_token_id"] = generation["bos_token_id"] = *tok->bos;
    if (tok->eos) config["eos_token_id"] = generation["eos_token_id"] = *tok->eos;
    write_json(out.tmp() / "tokenizer.json", tok->tokenizer);
    write_json(out.tmp() / "tokenizer_config.json", tok->tokenizer_config);
    s.files.push_back("tokenizer.json");
    s.files.push_back("tokenizer_config.json");
  }
  write_json(out.tmp() / "config.json", config);
  s.files.push_back("config.json");
  if (!generation.empty()) {
    write_json(out.tmp() / "generation_config.json", generation);
    s.files.push_back("generation_config.json");
  }
  out.commit();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace tessera::lm
