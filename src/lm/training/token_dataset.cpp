#include "tessera/lm/token_dataset.h"

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace tessera::lm {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument("[TokenDataset] " + path + ": cannot open the file");
  std::ostringstream s;
  s << f.rdbuf();
  if (s.str().empty()) throw std::invalid_argument("[TokenDataset] " + path + ": the file is empty");
  return s.str();
}

std::vector<int32_t> encode(const Tokenizer& tok, std::string_view text) {
  // Tokenized a line block at a time: the pre-tokenizers never merge across a newline run, and
  // bounded pieces keep the regex work linear.
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(text.size(), pos + (size_t(1) << 16));
    if (end < text.size()) {
      size_t nl = text.find('\n', end);
      end = nl == std::string_view::npos ? text.size() : nl + 1;
    }
    for (int id : tok.encode(text.substr(pos, end - pos), false)) out.push_back(id);
    pos = end;
  }
  return out;
}

}  // namespace

TokenDataset TokenDataset::from_files(const std::vector<std::string>& files, const Tokenizer& tokenizer,
                                      double val_fraction, int seq_len) {
  if (files.empty()) throw std::invalid_argument("[TokenDataset] no data files given");
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    throw std::invalid_argument("[TokenDataset] val_fraction must be in (0, 1), got " + std::to_string(val_fraction));
  }
  std::string text;
  for (auto& f : files) text += read_file(f);
  size_t cut = size_t(double(text.size()) * (1.0 - val_fraction));
  // Prefer a line start within a short distance, so no word is split between the parts.
  if (size_t nl = text.find('\n', cut); nl != std::string::npos && nl - cut < 4096) cut = nl + 1;
  std::string_view all(text);
  return TokenDataset(encode(tokenizer, all.substr(0, cut)), encode(tokenizer, all.substr(cut)), int64_t(cut),
                      int64_t(text.size() - cut), seq_len);
}

TokenDataset::TokenDataset(std::vector<int32_t> train, std::vector<int32_t> val, int64_t train_bytes,
                           int64_t val_bytes, int seq_len)
    : train_(std::move(train)), val_(std::move(val)), train_bytes_(train_bytes), val_bytes_(val_bytes),
      seq_len_(seq_len) {
  if (seq_len < 1) throw std::invalid_argument("[TokenDataset] seq_len must be >= 1, got " + std::to_string(seq_len));
  for (auto [part, n] : {std::pair{"training", train_.size()}, {"validation", val_.size()}}) {
    if (n < size_t(seq_len) + 1) {
      throw std::invalid_argument(std::string("[TokenDataset] the ") + part + " part has " + std::to_string(n) +
                                  " tokens, fewer than one window of seq_len + 1 = " + std::to_string(seq_len + 1));
    }
  }
}

std::pair<array, array> TokenDataset::train_batch(uint64_t seed, int64_t step, int batch) const {
  // splitmix-style mixing of (seed, step) so neighbouring steps get unrelated streams.
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + uint64_t(step) + 1;
  s = (s ^ (s >> 30)) * 0xBF58476D1CE4E5B9ull;
  s = (s ^ (s >> 27)) * 0x94D049BB133111EBull;
  std::mt19937_64 rng(s ^ (s >> 31));
  std::uniform_int_distribution<int64_t> start(0, int64_t(train_.size()) - seq_len_ - 1);
  std::vector<int32_t> in(size_t(batch) * seq_len_), tgt(in.size());
  for (int b = 0; b < batch; ++b) {
    int64_t o = start(rng);
    std::copy_n(train_.begin() + o, seq_len_, in.begin() + int64_t(b) * seq_len_);
    std::copy_n(train_.begin() + o + 1, seq_len_, tgt.begin() + int64_t(b) * seq_len_);
  }
  return {array(in.begin(), Shape{batch, seq_len_}, int32), array(tgt.begin(), Shape{batch, seq_len_}, int32)};
}

std::vector<std::pair<array, array>> TokenDataset::val_batches(int batch, int max_batches) const {
  const int64_t windows = (int64_t(val_.size()) - 1) / seq_len_;
  std::vector<std::pair<array, array>> out;
  for (int64_t w0 = 0; w0 < windows && int64_t(out.size()) < std::max(1, max_batches); w0 += batch) {
    const int n = int(std::min<int64_t>(batch, windows - w0));
    std::vector<int32_t> in(size_t(n) * seq_len_), tgt(in.size());
    for (int b = 0; b < n; ++b) {
      const int64_t o = (w0 + b) * seq_len_;
      std::copy_n(val_.begin() + o, seq_len_, in.begin() + int64_t(b) * seq_len_);
      std::copy_n(val_.begin() + o + 1, seq_len_, tgt.begin() + int64_t(b) * seq_len_);
    }
    out.emplace_back(array(in.begin(), Shape{n, seq_len_}, int32), array(tgt.begin(), Shape{n, seq_len_}, int32));
  }
  return out;
}

}  // namespace tessera::lm
