// Token streams for language-model training: text files tokenized once, the last fraction held
// out for validation, and batches of windows drawn at random positions. A batch is a pure
// function of (seed, step), so a resumed run draws exactly the batches an uninterrupted run
// would, with no data position to save.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

class TokenDataset {
 public:
  // Reads and tokenizes `files` (concatenated, no special tokens added); the last
  // `val_fraction` of the text (cut at a line start where one is near) is validation.
  // std::invalid_argument naming the file for a missing or empty file, or a split leaving either
  // part too short for one window of `seq_len` + 1 tokens.
  static TokenDataset from_files(const std::vector<std::string>& files, const Tokenizer& tokenizer,
                                 double val_fraction, int seq_len);
  TokenDataset(std::vector<int32_t> train, std::vector<int32_t> val, int64_t train_bytes, int64_t val_bytes,
               int seq_len);

  // (inputs, targets), int32 [batch, seq_len] each: windows of the training tokens starting at
  // random offsets drawn from (seed, step); targets are the inputs shifted by one token.
  std::pair<array, array> train_batch(uint64_t seed, int64_t step, int batch) const;
  // Validation windows, non-overlapping from the start of the held-out tokens: at most
  // `max_batches` batches of `batch` windows (fewer where the tokens run out; at least one).
  std::vector<std::pair<array, array>> val_batches(int batch, int max_batches) const;

  int64_t train_tokens() const { return int64_t(train_.size()); }
  int64_t train_bytes() const { return train_bytes_; }
  int64_t val_bytes() const { return val_bytes_; }
  int64_t val_tokens() const { return int64_t(val_.size()); }
  // Bytes of text per token in the validation part: converts a loss in nats per token to bits
  // per character (byte) as loss / ln 2 / bytes_per_token.
  double val_bytes_per_token() const { return double(val_bytes_) / double(val_.size()); }
  int seq_len() const { return seq_len_; }

 private:
  std::vector<int32_t> train_, val_;
  int64_t train_bytes_, val_bytes_;
  int seq_len_;
};

}  // namespace tessera::lm
