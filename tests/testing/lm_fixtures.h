// stories260K (shared/data/models/stories260K) as a Hugging Face model directory, for tests that
// need a real model in that layout: its GGUF tensors under transformers' names with Q/K rows put
// back into the half-split rope layout (undoing llama.cpp's converter permutation), config.json,
// a tokenizer.json rebuilt from the GGUF's SentencePiece vocabulary and tokenizer_config.json.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tessera/array.h"
#include "testing/temp_dir.h"

namespace tessera::testing::stories260k {

using Tensors = std::map<std::string, array>;

std::filesystem::path data_dir();
std::filesystem::path gguf_path();  // exists only where shared/data is present

constexpr int kHeads = 8, kKvHeads = 4, kHidden = 64, kLayers = 5, kFfn = 172, kVocab = 512;

using testing::TempDir;

void write_text(const std::filesystem::path& p, const std::string& text);

// llama.cpp's tensor names -> transformers'.
std::string hf_name(const std::string& gguf_name);
// A GGUF Q or K weight's rows in Hugging Face's rope layout.
array unpermute_rope_rows(const array& w, int heads);
// stories260K's tensors under HF names and layout (float32), converted once.
const Tensors& hf_tensors();

nlohmann::json config_json();
// tokenizer.json in the form transformers' Llama converter writes for a SentencePiece BPE model.
nlohmann::json tokenizer_json();
// LlamaTokenizer's config: BOS added, <s> / </s> / <unk>, and a chat template that joins the
// messages' contents.
nlohmann::json tokenizer_config_json();

struct DirOptions {
  nlohmann::json config = config_json();
  int shards = 1;  // >1: model-0000k-of-0000n.safetensors with an index
  bool tokenizer = true;
  std::optional<nlohmann::json> generation_config;
  // Replaces tokenizer_config_json() when set.
  std::optional<nlohmann::json> tokenizer_config;
};

// Writes a model directory holding `tensors`.
void write_dir(const std::filesystem::path& dir, const Tensors& tensors, const DirOptions& o = {});

}  // namespace tessera::testing::stories260k
