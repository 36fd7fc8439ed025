// llama.cpp's tensor names (llama-arch.cpp's LLM_TENSOR_NAMES) and the Hugging Face names the model
// files use, in both directions, and the ModelConfig a GGUF file's metadata describes. The GGUF
// loader reads through them; `tessera convert` writes through them, so a file Tessera writes
// names its tensors exactly as the files it reads.
#pragma once

#include <optional>
#include <string>

#include "tessera/gguf.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight" for `arch` (GGUF's
// general.architecture); names without an entry come back unchanged.
std::string hf_name(const std::string& gguf_name, const std::string& arch);
// The inverse: "model.layers.3.self_attn.q_proj.bias" -> "blk.3.attn_q.bias"; nullopt for a name
// that has no GGUF counterpart.
std::optional<std::string> gguf_tensor_name(const std::string& hf_name, const std::string& arch);

// The "<arch>.*" metadata as a ModelConfig (vocab_size and tie_word_embeddings come from the
// tensors, which the loader reads separately). std::invalid_argument naming the file and key.
ModelConfig config_from_gguf(const gguf::Reader& r);

}  // namespace tessera::lm
