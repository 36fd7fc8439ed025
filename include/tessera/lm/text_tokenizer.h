// What text generation needs from a tokenizer, so one generation loop serves vocabularies
// embedded in GGUF files and Hugging Face tokenizer.json files alike.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm {

// Turns ids arriving one at a time into text: add() returns only whole UTF-8 characters and
// holds back the bytes of a character split across tokens.
class TextStream {
 public:
  virtual ~TextStream() = default;
  virtual std::string add(int id) = 0;
  // Whatever is still held back (an incomplete character comes out as U+FFFD).
  virtual std::string finish() = 0;
};

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;
  // add_special_tokens: the BOS/EOS the vocabulary asks for around the text.
  virtual std::vector<int> encode(std::string_view text, bool add_special_tokens = true) const = 0;
  virtual std::string decode(std::span<const int> ids, bool skip_special_tokens = false) const = 0;
  // A streaming decoder; `context` are ids already shown (e.g. the prompt), which decide how the
  // first new token is rendered (SentencePiece drops the leading space of a token after BOS).
  virtual std::unique_ptr<TextStream> stream(std::span<const int> context = {},
                                             bool skip_special_tokens = true) const = 0;
  virtual int vocab_size() const = 0;
  virtual std::optional<int> bos_id() const = 0;
  // Ids that end a generation.
  virtual std::vector<int> eos_ids() const = 0;
};

class Tokenizer;
// Generation over a Hugging Face tokenizer (tessera/lm/tokenizer.h); the Tokenizer is copied
// (cheap: its tables are shared).
std::shared_ptr<TextTokenizer> as_text_tokenizer(const Tokenizer& tokenizer);

}  // namespace tessera::lm
