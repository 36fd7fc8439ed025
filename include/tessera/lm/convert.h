// Model format conversion (`tessera convert`): a Hugging Face model directory into an MLX
// directory (optionally affine-quantized as mlx_lm.convert -q writes it) or into a GGUF file as
// llama.cpp's converter writes it, and a GGUF file back into a Hugging Face directory.
//
// - HF -> MLX: every 2-D floating `.weight` (the Linear and Embedding weights) whose last axis is a
//   multiple of the group size is quantized to <m>.weight (uint32) / <m>.scales / <m>.biases;
//   config.json gains "quantization" (and "quantization_config") with group_size, bits, mode and a
//   `false` entry per module left unquantized. Weights go into model.safetensors, or shards
//   model-0000k-of-0000n.safetensors with model.safetensors.index.json above the shard size.
//   Tokenizer files and generation_config.json are copied.
// - HF -> GGUF: llama.cpp's tensor names and "<arch>.*" metadata; Llama/Mistral Q and K rows are
//   permuted to the interleaved-pair rope layout llama.cpp's graph uses; the tokenizer.json becomes
//   tokenizer.ggml.* ("gpt2" for byte-level BPE, "llama" for SentencePiece-style BPE with byte
//   fallback) with the chat template. Matrices take the output type (1-D tensors stay F32).
// - GGUF -> HF: the inverse (names, permutation, config.json, tokenizer.json rebuilt from the
//   embedded vocabulary); an F32 file gives back the exact weights it was made from.
//
// Architectures: llama (Llama 1/2/3.x, TinyLlama), mistral, qwen2, qwen3 for GGUF; any
// architecture load_model reads for MLX. Outputs appear complete or not at all (written under a
// temporary name and renamed); an existing output is an error unless `overwrite`.
// Errors: std::invalid_argument / std::runtime_error naming the file, tensor or field.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tessera/dtype.h"
#include "tessera/gguf.h"

namespace tessera::lm {

// Called as tensors are converted: a stage name ("quantizing", "writing"), done and total counts.
using ConvertProgress = std::function<void(const std::string& stage, uint64_t done, uint64_t total)>;

struct ConvertCommon {
  bool overwrite = false;  // replace an existing output
  ConvertProgress progress;
  // Draw the weights instead of reading them: the input directory then needs only config.json
  // (and optionally the tokenizer files). Normal(0, 0.02) matrices, unit norms; for benchmarks.
  bool random_weights = false;
  uint64_t seed = 0;
};

struct MlxConvertOptions : ConvertCommon {
  bool quantize = false;
  int bits = 4;         // 2, 3, 4, 5, 6 or 8
  int group_size = 64;  // 32, 64 or 128
  // Type of the unquantized tensors and of the scales and biases; unset: config.json's
  // torch_dtype when it names a floating type, else each tensor keeps its own.
  std::optional<Dtype> dtype;
  uint64_t max_shard_bytes = uint64_t(5) << 30;
};

struct GgufConvertOptions : ConvertCommon {
  gguf::TensorType outtype = gguf::TensorType::f16;  // f32, f16, bf16, q8_0 or q4_0
};

struct HfConvertOptions : ConvertCommon {
  // Weight type; unset: the type of the file's token embedding when it is F32/F16/BF16, else
  // float32 (quantized tensors are dequantized).
  std::optional<Dtype> dtype;
};

struct ConvertSummary {
  std::string input, output;
  std::string format;        // "mlx", "gguf" or "hf"
  std::string architecture;  // config.json's model_type or GGUF's general.architecture
  std::string type;          // "4-bit group 64", "Q8_0", "float16", ...
  int64_t tensors_written = 0;
  int64_t tensors_quantized = 0;
  int64_t parameters = 0;
  uint64_t bytes_written = 0;
  std::vector<std::string> files;  // names within the output directory, or the output file
  std::vector<std::string> notes;  // what the conversion changed or dropped, for the log
  double seconds = 0;
};

ConvertSummary convert_hf_to_mlx(const std::string& hf_dir, const std::string& out_dir, const MlxConvertOptions& o);
ConvertSummary convert_hf_to_gguf(const std::string& hf_dir, const std::string& out_file, const GgufConvertOptions& o);
ConvertSummary convert_gguf_to_hf(const std::string& gguf_file, const std::string& out_dir, const HfConvertOptions& o);

// "f32", "f16", "bf16", "q8_0", "q4_0" (any case) -> the type; std::invalid_argument otherwise.
gguf::TensorType parse_gguf_outtype(const std::string& name);
// "float16", "bfloat16", "float32" (and "f16", "bf16", "f32") -> the dtype.
Dtype parse_float_dtype(const std::string& name);

}  // namespace tessera::lm
