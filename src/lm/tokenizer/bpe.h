// The BPE model (tokenizer.json "model": {"type": "BPE"}): vocabulary, ranked merges, unknown
// token, byte fallback, ignore_merges, subword prefix/suffix, and a word -> ids cache.
//
// A byte-level vocabulary (GPT-2 style, where each byte is written as a printable character) is
// re-keyed by the raw bytes the tokens stand for, so words are encoded straight from the input
// bytes. Merges are looked up by the pair of token ids; a word's merges run leftmost-lowest-rank
// first, as in the tokenizers library (a rank array for short words, a heap for long ones).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lm/tokenizer/json_context.h"
#include "lm/tokenizer/pair_map.h"
#include "lm/tokenizer/word_cache.h"

namespace tessera::lm::detail {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  BpeModel(const json& spec, bool byte_level, const std::string& where, const JsonContext& ctx);

  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<int>& out) const;

  std::optional<int> token_to_id(std::string_view token) const;
  // The vocabulary's spelling of the token (byte-level tokens in their printable form), or null.
  const std::string* id_to_token(int id) const;
  int max_id() const { return int(tokens_.size()) - 1; }

 private:
  void encode_piece(std::string_view word, std::vector<int>& out) const;
  void merge(std::vector<int>& symbols) const;
  void merge_with_heap(std::vector<int>& symbols) const;
  void initial_symbols(std::string_view word, std::vector<int>& symbols) const;
  void push_unknown(std::vector<int>& symbols, bool& last_was_unk) const;

  StringMap<int> vocab_;
  std::vector<std::string> tokens_;  // by id; empty where the vocabulary has no such id
  std::vector<char> has_token_;
  bool byte_level_;
  StringMap<int> raw_vocab_;    // byte-level: token bytes -> id (for ignore_merges)
  std::array<int, 256> byte_ids_;  // byte-level: the token of each single byte, or -1
  std::array<int, 256> fallback_ids_;  // byte_fallback: the <0xNN> tokens, or -1
  PairMap merges_;
  int unk_id_ = -1;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  std::string prefix_, suffix_;

  // SentencePiece-style vocabularies where "▁" only ever starts a token: no merge can cross the
  // point where "▁" follows another character, so a long word (without a pre-tokenizer the
  // whole text is one word) is cut there and the pieces go through the cache.
  bool split_at_metaspace_ = false;
  mutable WordCache cache_;
};

}  // namespace tessera::lm::detail
