// Pre-tokenizers (tokenizer.json "pre_tokenizer"): ByteLevel, Split, Metaspace, Digits,
// Whitespace, WhitespaceSplit, Punctuation and Sequence. A pre-tokenizer cuts each piece of
// normalized text into smaller pieces (the "words" the model encodes one at a time).
//
// ByteLevel does not rewrite bytes into GPT-2's printable characters here: the BPE model of a
// byte-level tokenizer is keyed by raw bytes instead (see bpe.h), which saves a copy of every
// piece and gives the same tokens.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lm/tokenizer/json_context.h"
#include "lm/tokenizer/pattern.h"

namespace tessera::lm::detail {

// Pieces of one segment of the input (the text between two added tokens) being pre-tokenized.
struct Pieces {
  std::vector<std::string_view> items;
  std::deque<std::string> storage;  // text of rewritten pieces (a deque keeps views valid)
  bool segment_at_start = false;    // the segment begins at offset 0 of the input

  std::string_view store(std::string s) { return storage.emplace_back(std::move(s)); }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void apply(Pieces& pieces) const = 0;
  // Whether the model's vocabulary is in GPT-2's byte-level alphabet (a ByteLevel step is present).
  virtual bool byte_level() const { return false; }
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Cuts text at the given matches (sorted, non-overlapping, non-empty) as the behavior says and
// appends the non-empty parts to out. invert swaps the roles of matches and the text between them.
void split_at(std::string_view text, const std::vector<Range>& matches, SplitBehavior behavior, bool invert,
              std::vector<std::string_view>& out);

// nullptr for a null pre-tokenizer.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const std::string& where, const JsonContext& ctx);

}  // namespace tessera::lm::detail
