#include "lm/models/registry.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::lm {

namespace {

struct Entry {
  const char* name;
  ModelFactory make;
};

// GGUF's general.architecture and config.json's model_type share these names; Mistral and
// TinyLlama files say "llama" or "mistral" for the same graph. Gemma 3's text-only checkpoints
// say "gemma3_text", its multimodal ones (whose language model runs here) and GGUF "gemma3".
constexpr Entry kArchitectures[] = {
    {"llama", make_llama},   {"mistral", make_llama}, {"qwen2", make_qwen2},       {"qwen3", make_qwen3},
    {"gemma2", make_gemma2}, {"gemma3", make_gemma3}, {"gemma3_text", make_gemma3}, {"phi3", make_phi3},
};

}  // namespace

ModelFactory find_architecture(const std::string& architecture, const std::string& file) {
  for (auto& e : kArchitectures) {
    if (architecture == e.name) return e.make;
  }
  std::string names;
  for (auto& n : supported_architectures()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("[load_model] " + file + ": unsupported architecture '" + architecture +
                              "' (supported: " + names + ")");
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (auto& e : kArchitectures) out.push_back(e.name);
  return out;
}

void check_tokens(const array& tokens, const ModelConfig& config) {
  if (tokens.ndim() != 2 || tokens.shape(1) < 1 || tokens.shape(0) < 1) {
    throw std::invalid_argument("[" + config.architecture + "] tokens must be an int32 array [B, L] with B, L >= 1");
  }
  if (tokens.dtype() != int32 && tokens.dtype() != uint32) {
    throw std::invalid_argument("[" + config.architecture + "] tokens must be int32 or uint32");
  }
  // An id past the embedding table would read another row (or memory past it): check on the host.
  array t = tokens;
  t.eval();
  if (!t.flags().row_contiguous || t.data_size() != t.size()) {
    t = contiguous(t);
    t.eval();
  }
  const int64_t n = int64_t(t.size()), L = t.shape(1);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = t.dtype() == int32 ? int64_t(t.data<int32_t>()[i]) : int64_t(t.data<uint32_t>()[i]);
    if (id < 0 || id >= config.vocab_size) {
      throw std::invalid_argument("[" + config.architecture + "] token id " + std::to_string(id) + " at [" +
                                  std::to_string(i / L) + ", " + std::to_string(i % L) +
                                  "] is outside the vocabulary of " + std::to_string(config.vocab_size));
    }
  }
}

}  // namespace tessera::lm
