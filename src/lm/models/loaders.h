// One loader per model file format; load_model picks by what the path is.
#pragma once

#include <string>

#include "tessera/lm/model.h"

namespace tessera::lm {

// A .gguf file: config from metadata, tensors, embedded tokenizer.
LoadedModel load_gguf_model(const std::string& path, const LoadOptions& options);
// A Hugging Face or MLX (mlx-community) model directory: config.json, *.safetensors,
// tokenizer.json / tokenizer_config.json, generation_config.json.
LoadedModel load_hf_model(const std::string& dir, const LoadOptions& options);

}  // namespace tessera::lm
