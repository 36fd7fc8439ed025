// Hugging Face directory -> GGUF, as llama.cpp's convert_hf_to_gguf.py lays the file out: its
// tensor names, "<arch>.*" hyperparameters, Q/K rows of Llama-family models in the interleaved
// rope layout, Llama 3.1 rope frequencies as rope_freqs.weight, the tokenizer as
// tokenizer.ggml.*, matrices in the output type and every 1-D tensor in F32.
#include <chrono>

#include "lm/convert/convert_common.h"
#include "lm/convert/gguf_arch.h"
#include "lm/convert/tokenizer_convert.h"
#include "lm/models/gguf_names.h"
#include "tessera/ops.h"

namespace tessera::lm {

using namespace convert;

namespace {

using gguf::TensorType;

// llama.cpp's llama_ftype numbers for a file whose matrices are all of one type.
uint32_t file_type(TensorType t) {
  switch (t) {
    case TensorType::f32: return 0;
    case TensorType::f16: return 1;
    case TensorType::q4_0: return 2;
    case TensorType::q8_0: return 7;
    case TensorType::bf16: return 32;
    default: return 0;
  }
}

bool block_quantized(TensorType t) { return t == TensorType::q8_0 || t == TensorType::q4_0; }

}  // namespace

gguf::TensorType parse_gguf_outtype(const std::string& name) {
  std::string s;
  for (char c : name) s += char(std::tolower(static_cast<unsigned char>(c)));
  if (s == "f32") return TensorType::f32;
  if (s == "f16") return TensorType::f16;
  if (s == "bf16") return TensorType::bf16;
  if (s == "q8_0") return TensorType::q8_0;
  if (s == "q4_0") return TensorType::q4_0;
  fail("--outtype", "'" + name + "' is not a GGUF output type Tessera writes (f32, f16, bf16, q8_0, q4_0)");
}

Dtype parse_float_dtype(const std::string& name) {
  if (name == "float16" || name == "f16" || name == "fp16") return float16;
  if (name == "bfloat16" || name == "bf16") return bfloat16;
  if (name == "float32" || name == "f32" || name == "fp32") return float32;
  fail("--dtype", "'" + name + "' is not a weight type (float16, bfloat16 or float32)");
}

ConvertSummary convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_file, const GgufConvertOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  const TensorType outtype = o.outtype;
  if (outtype != TensorType::f32 && outtype != TensorType::f16 && outtype != TensorType::bf16 &&
      !block_quantized(outtype)) {
    fail("--outtype", gguf::tensor_type_name(outtype) + " is not written (F32, F16, BF16, Q8_0, Q4_0 are)");
  }
  HfSource src(hf_dir, o);
  check_output_file(out_file, hf_dir, o.overwrite);
  const ModelConfig& c = src.model();
  const GgufArch* arch = gguf_arch_for_hf(c.architecture);
  if (!arch) {
    fail(src.config_file(), "model_type '" + c.architecture + "' has no GGUF conversion here (supported: " +
                                gguf_arch_names() + ")");
  }

  ConvertSummary s;
  s.input = hf_dir;
  s.output = out_file;
  s.format = "gguf";
  s.architecture = arch->gguf;
  s.type = gguf::tensor_type_name(outtype);
  s.files = {out_file};
  if (src.quantized_count() > 0) {
    s.notes.push_back("dequantized " + std::to_string(src.quantized_count()) + " MLX-quantized modules");
  }

  // What the GGUF form of these architectures cannot say is refused, not dropped, except
  // Mistral's window, which llama.cpp's own converter drops too.
  if (c.sliding_window > 0) {
    if (c.architecture != "mistral") {
      fail(src.config_file(), "sliding-window attention (sliding_window " + std::to_string(c.sliding_window) +
                                  ") has no GGUF form for " + c.architecture);
    }
    s.notes.push_back("dropped Mistral's sliding window of " + std::to_string(c.sliding_window) +
                      " positions (GGUF's llama architecture has none; exact for contexts up to it)");
  }
  if (c.rope_type != "default" && c.rope_type != "llama3") {
    fail(src.config_file(), "rope_scaling type '" + c.rope_type + "' is not converted to GGUF (default, linear, llama3 are)");
  }
  if (c.rope_dims != c.head_dim) fail(src.config_file(), "partial rotary embeddings are not converted to GGUF");

  const std::string a = std::string(arch->gguf) + ".";
  Metadata meta;
  auto u32 = [](int64_t v) { return gguf::Value(uint32_t(v)); };
  meta.emplace_back("general.architecture", gguf::Value(arch->gguf));
  meta.emplace_back("general.name", gguf::Value(fs::absolute(fs::path(hf_dir)).lexically_normal().filename().string()));
  meta.emplace_back("general.file_type", u32(file_type(outtype)));
  meta.emplace_back("general.quantization_version", u32(2));
  int context = c.context_length;
  if (context <= 0) {
    context = 2048;  // transformers' LlamaConfig default; llama.cpp requires the key
    s.notes.push_back("config.json has no max_position_embeddings: wrote context_length 2048");
  }
  meta.emplace_back(a + "vocab_size", u32(c.vocab_size));
  meta.emplace_back(a + "context_length", u32(context));
  meta.emplace_back(a + "embedding_length", u32(c.hidden_size));
  meta.emplace_back(a + "block_count", u32(c.num_layers));
  meta.emplace_back(a + "feed_forward_length", u32(c.intermediate_size));
  meta.emplace_back(a + "attention.head_count", u32(c.num_heads));
  meta.emplace_back(a + "attention.head_count_kv", u32(c.num_kv_heads));
  meta.emplace_back(a + "attention.key_length", u32(c.head_dim));
  meta.emplace_back(a + "attention.value_length", u32(c.head_dim));
  meta.emplace_back(a + "rope.dimension_count", u32(c.rope_dims));
  meta.emplace_back(a + "rope.freq_base", gguf::Value(c.rope_theta));
  meta.emplace_back(a + "attention.layer_norm_rms_epsilon", gguf::Value(c.rms_norm_eps));
  if (c.rope_scale != 1.0f) {
    meta.emplace_back(a + "rope.scaling.type", gguf::Value("linear"));
    meta.emplace_back(a + "rope.scaling.factor", gguf::Value(1.0f / c.rope_scale));
  }
  tokenizer_to_gguf(hf_dir, src.config(), c.vocab_size, meta, s.notes);

  std::vector<gguf::WriteTensor> tensors;
  tensors.reserve(src.names().size() + 1);
  ProgressCounter progress{o.progress, "converting", uint64_t(src.names().size())};
  int fallback_f16 = 0;
  for (const std::string& name : src.names()) {
    if (ends_with(name, "rotary_emb.inv_freq")) {  // recomputed by every engine; older checkpoints keep it
      progress.step();
      continue;
    }
    if (name == "lm_head.weight" && c.tie_word_embeddings) {
      s.notes.push_back("dropped lm_head.weight (tie_word_embeddings: the head is the embedding)");
      progress.step();
      continue;
    }
    std::optional<std::string> g = gguf_tensor_name(name, arch->gguf);
    if (!g) fail(hf_dir, "tensor '" + name + "' has no GGUF name for " + std::string(arch->gguf));
    array w = src.get(name);
    const bool q = name.find("self_attn.q_proj.") != std::string::npos;
    const bool k = name.find("self_attn.k_proj.") != std::string::npos;
    if (arch->interleaved_rope && (q || k)) {
      const int heads = q ? c.num_heads : c.num_kv_heads;
      if (w.ndim() < 1 || w.shape(0) != heads * c.head_dim || c.head_dim % 2 != 0) {
        fail(hf_dir, "tensor '" + name + "' has " + std::to_string(w.ndim() < 1 ? 0 : w.shape(0)) + " rows, expected " +
                         std::to_string(heads) + " heads of " + std::to_string(c.head_dim) + " (config.json)");
      }
      w = rope_rows_to_interleaved(w, heads);
    }
    TensorType type = w.ndim() <= 1 ? TensorType::f32 : outtype;
    if (block_quantized(type) && w.shape(-1) % 32 != 0) {
      type = TensorType::f16;  // llama.cpp falls back the same way
      ++fallback_f16;
    }
    // Tensors not already in memory (drawn, dequantized, permuted) are computed now, one at a
    // time, so progress tracks the work; the type conversion happens as the file is written.
    w.eval();
    s.parameters += int64_t(w.size());
    if (block_quantized(type)) s.tensors_quantized++;
    tensors.push_back({*g, w, type});
    if (*g == "token_embd.weight" && c.rope_type == "llama3") {
      std::vector<float> f = llama3_rope_factors(c);
      tensors.push_back({"rope_freqs.weight", array(f.begin(), Shape{int(f.size())}, float32), TensorType::f32});
    }
    progress.step();
  }
  if (fallback_f16 > 0) {
    s.notes.push_back(std::to_string(fallback_f16) + " matrices whose rows are not a multiple of 32 were written as F16");
  }
  if (o.progress) o.progress("writing " + out_file, 0, 1);
  gguf::save(out_file, meta, tensors);
  if (o.progress) o.progress("writing " + out_file, 1, 1);
  s.tensors_written = int64_t(tensors.size());
  std::error_code ec;
  s.bytes_written = fs::file_size(out_file, ec);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s;
}

}  // namespace tessera::lm
