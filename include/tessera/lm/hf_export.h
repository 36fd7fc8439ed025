// Writes a trained CausalLM as a Hugging Face model directory: config.json, model.safetensors,
// generation_config.json and the tokenizer's tokenizer.json / tokenizer_config.json, which
// tessera::lm::load_model, `tessera generate` and other engines load.
#pragma once

#include <string>

#include "tessera/dtype.h"
#include "tessera/lm/causal_lm.h"

namespace tessera::lm {

struct ExportOptions {
  Dtype dtype = float32;          // float32, bfloat16 or float16 weights
  int max_position_embeddings = 0;  // the context the model was trained for (0: not written)
};

// `tokenizer_dir` holds tokenizer.json (and optionally tokenizer_config.json). The directory
// appears complete or not at all: it is written beside `out_dir` and renamed into place,
// replacing an earlier export. std::runtime_error naming the path on I/O failure.
void export_hf_directory(const CausalLM& model, const std::string& tokenizer_dir, const std::string& out_dir,
                         const ExportOptions& options = {});

}  // namespace tessera::lm
