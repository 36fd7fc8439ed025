// Byte-level BPE training, GPT-2 style: the text is cut at the special tokens, each run is split
// by GPT-2's pre-tokenization regex (the ByteLevel pre-tokenizer with use_regex), and merges are
// learned over the bytes of those words. The result is written as a Hugging Face tokenizer.json
// (ByteLevel pre-tokenizer, post-processor and decoder; special tokens as added tokens) that
// Tokenizer::from_directory and the `tokenizers` library load.
//
// The merge rule: the most frequent adjacent pair wins; among pairs with the same count the
// lexicographically greatest one, comparing the left tokens' bytes and then the right tokens'
// bytes (so the result is fully determined by the text, never by hash or insertion order).
// Pairs never cross word boundaries. Numbering: the special tokens first (in the order given),
// then the 256 byte tokens ordered by their GPT-2 printable characters, then the merged tokens in
// the order they were learned. When a merge spells a token that already exists (ab+c after a+bc)
// the merge is kept and the token keeps its id, so the vocabulary counts distinct tokens.
//
// Training words are what the written tokenizer.json makes of the text, invalid UTF-8 included:
// bytes the regex cannot match form words of their own. Counting is linear in the text; each merge
// costs time in proportion to the words that contain the merged pair (incremental pair counts and
// a priority queue), so a few MB train in seconds.
//
// Errors are std::invalid_argument naming the problem: a vocabulary smaller than the 256 bytes
// plus the special tokens, an empty or duplicate special token, a special token that is also a
// byte token, a missing or empty data file, no text at all.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::lm {

struct BpeTrainProgress {
  enum class Stage { Counting, Merging };
  Stage stage;
  // Counting: bytes of the current file or text read so far out of its size.
  // Merging: merges learned so far out of the most the vocabulary size allows.
  uint64_t done = 0, total = 0;
};

struct BpeTrainerOptions {
  // Tokens in the result: the special tokens, the 256 byte tokens and the merged tokens.
  int vocab_size = 0;
  // Get ids 0, 1, ... in this order; never split and never part of a merge.
  std::vector<std::string> special_tokens;
  // Merging stops early when the most frequent pair occurs fewer times than this.
  uint64_t min_frequency = 0;
  // Written to tokenizer_config.json; "" means the first special token (GPT-2's convention, where
  // <|endoftext|> is both), or none without special tokens. Must be one of the special tokens.
  std::string bos_token, eos_token;
  // Called every few percent of the work; may be empty.
  std::function<void(const BpeTrainProgress&)> progress;
};

struct BpeTrainStats {
  uint64_t input_bytes = 0;   // text seen, special tokens included
  uint64_t words = 0;         // pre-tokenized words
  uint64_t unique_words = 0;  // distinct words (what the merges run over)
  double count_seconds = 0, merge_seconds = 0;
};

// A trained vocabulary.
struct TrainedBpe {
  // By id: the bytes each token stands for (a special token's text).
  std::vector<std::string> tokens;
  // The learned merges in rank order, as the ids of the left and right token.
  std::vector<std::pair<int, int>> merges;
  int num_special = 0;
  std::string bos_token, eos_token;  // "" for none
  BpeTrainStats stats;

  // tokenizer.json: tokens in GPT-2's byte-to-printable spelling, merges as "left right".
  std::string tokenizer_json() const;
  // tokenizer_config.json: the tokenizer class, bos/eos and the special tokens.
  std::string tokenizer_config_json() const;
  // Writes both files into dir (created if needed), each atomically (a temporary file renamed).
  void save(const std::string& dir) const;
};

class BpeTrainer {
 public:
  // Checks the options (throws std::invalid_argument).
  explicit BpeTrainer(BpeTrainerOptions options);
  ~BpeTrainer();
  BpeTrainer(BpeTrainer&&) noexcept;
  BpeTrainer& operator=(BpeTrainer&&) noexcept;

  // Counts the words of a text (each call is a separate text: no word spans two calls).
  void add_text(std::string_view text);
  // The same for a file's contents; a missing or empty file is an error.
  void add_file(const std::string& path);

  // Learns the merges from everything added so far. Fewer tokens than asked for come out when
  // the words run out of pairs or min_frequency stops the merging. The trainer may be trained
  // again after more text is added.
  TrainedBpe train() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Trains on the given files in order (BpeTrainer::add_file on each, then train()).
TrainedBpe train_bpe(const std::vector<std::string>& files, const BpeTrainerOptions& options);

}  // namespace tessera::lm
