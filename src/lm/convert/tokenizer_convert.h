// Tokenizers between a Hugging Face tokenizer.json and GGUF's embedded vocabulary
// (tokenizer.ggml.*): byte-level BPE (GPT-2, Llama 3, Qwen) as GGUF's "gpt2" model with its merges
// and pre-tokenizer name, SentencePiece-style BPE with byte fallback (Llama 2, Mistral) as the
// "llama" model, whose per-piece scores encode the merge order (a piece made by an earlier merge
// scores higher, which is the rule GGUF's SentencePiece merging applies).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/gguf.h"

namespace tessera::lm::convert {

using Metadata = std::vector<std::pair<std::string, gguf::Value>>;

// Appends tokenizer.ggml.* (and tokenizer.chat_template) for the tokenizer.json, tokenizer_config.json
// and chat template files of `dir`, padding the token list to `vocab_size` (the embedding's rows)
// with unused "[PAD<id>]" entries. Returns false, with a note saying why, when the directory has no
// tokenizer GGUF can hold (then the file carries no vocabulary).
bool tokenizer_to_gguf(const std::string& dir, const nlohmann::json& config, int vocab_size, Metadata& meta,
                       std::vector<std::string>& notes);

struct HfTokenizerFiles {
  nlohmann::json tokenizer;         // tokenizer.json
  nlohmann::json tokenizer_config;  // tokenizer_config.json
  std::optional<int> bos, eos;
};

// tokenizer.json and tokenizer_config.json rebuilt from the GGUF's vocabulary; nullopt, with a
// note, when the file has none or one of another model type.
std::optional<HfTokenizerFiles> tokenizer_from_gguf(const gguf::Reader& r, std::vector<std::string>& notes);

}  // namespace tessera::lm::convert
