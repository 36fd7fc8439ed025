// The architectures `tessera convert` moves between Hugging Face directories and GGUF, and the two
// layouts of rotary query/key rows.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tessera/array.h"
#include "tessera/lm/model.h"

namespace tessera::lm::convert {

struct GgufArch {
  const char* hf_type;   // config.json's model_type
  const char* gguf;      // general.architecture
  const char* hf_class;  // config.json's architectures[0]
  // llama.cpp's graph rotates adjacent pairs for these, so its converter reorders each head's Q
  // and K rows from Hugging Face's [first half; second half] layout to interleaved pairs.
  bool interleaved_rope;
};

// By model_type / by general.architecture; nullptr for the ones not converted.
const GgufArch* gguf_arch_for_hf(const std::string& model_type);
const GgufArch* gguf_arch_for_gguf(const std::string& architecture);
// "llama, mistral, qwen2, qwen3" for messages.
std::string gguf_arch_names();

// Row r = j * D/2 + i of each head (j = 0, 1: the halves) moves to row 2i + j, and back. `w` is
// [heads * D] or [heads * D, in].
array rope_rows_to_interleaved(const array& w, int heads);
array rope_rows_to_halves(const array& w, int heads);

// Llama 3.1's per-frequency period multipliers (what llama.cpp stores as rope_freqs.weight).
std::vector<float> llama3_rope_factors(const ModelConfig& c);

// The Llama 3.1 parameters that give `factors` (rope_dims / 2 multipliers), as config.json's
// rope_scaling; nullopt when no such parameters reproduce them.
struct Llama3Rope {
  double factor, low_freq_factor, high_freq_factor;
  int original_context;
};
std::optional<Llama3Rope> llama3_rope_from_factors(const std::vector<float>& factors, float base, int dims);

}  // namespace tessera::lm::convert
