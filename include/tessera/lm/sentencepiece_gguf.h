// The SentencePiece-style vocabulary GGUF files embed as tokenizer.ggml.model = "llama"
// (Llama 1/2, Mistral, TinyLlama, llama2.c models): pieces with scores and types, encoded by
// SentencePiece's BPE rule and decoded with its conventions.
//
// Encoding: spaces become U+2581 ("▁"), and one is put in front of the text when the vocabulary
// says so (tokenizer.ggml.add_space_prefix, default true). The text is split into UTF-8
// characters, then the adjacent pair whose concatenation is a piece with the highest score is
// merged, repeatedly (ties: the leftmost pair). A symbol that is not a piece is spelled with the
// byte pieces <0xNN> (byte fallback), or the unknown id when the vocabulary has no byte pieces.
// Control and user-defined pieces (token types 3 and 4) written literally in the text, e.g.
// "</s>", are matched first and encoded as their ids.
//
// Decoding: "▁" becomes a space, byte pieces become their bytes, and one space at the start of
// the output is dropped (SentencePiece's dummy prefix; skipped special tokens produce no output,
// so the text after a leading BOS loses its space, as in llama2.c).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/lm/text_tokenizer.h"

namespace tessera::gguf {
class Reader;
}

namespace tessera::lm {

class SentencePieceTokenizer : public TextTokenizer {
 public:
  // Piece types, numbered as llama.cpp's token types.
  enum PieceType : int { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

  struct Vocab {
    std::vector<std::string> pieces;
    std::vector<float> scores;  // empty: all 0
    std::vector<int> types;     // empty: byte pieces recognized by their <0xNN> form, the rest normal
    std::optional<int> bos, eos, unk;
    bool add_bos = true;
    bool add_eos = false;
    bool add_space_prefix = true;
  };

  // From the tokenizer.ggml.* metadata; std::invalid_argument naming the file when the vocabulary
  // is missing, is not a "llama" one, or is inconsistent (lengths differ, ids out of range).
  static std::shared_ptr<SentencePieceTokenizer> from_gguf(const gguf::Reader& file);
  explicit SentencePieceTokenizer(Vocab vocab, const std::string& name = "<vocab>");

  std::vector<int> encode(std::string_view text, bool add_special_tokens = true) const override;
  std::string decode(std::span<const int> ids, bool skip_special_tokens = false) const override;
  std::unique_ptr<TextStream> stream(std::span<const int> context = {}, bool skip_special_tokens = true) const override;
  int vocab_size() const override { return int(vocab_.pieces.size()); }
  std::optional<int> bos_id() const override { return vocab_.bos; }
  std::vector<int> eos_ids() const override;

  std::optional<int> piece_to_id(std::string_view piece) const;
  const std::string& id_to_piece(int id) const;
  // The bytes token `id` stands for ("▁" as a space; no dummy-prefix removal).
  const std::string& token_bytes(int id, bool skip_special_tokens) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  Vocab vocab_;
};

}  // namespace tessera::lm
