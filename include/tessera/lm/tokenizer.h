// Hugging Face tokenizers (tokenizer.json) for the LLM stack: BPE with byte-level
// pre-tokenization (GPT-2, Llama 3, Qwen2/3, DeepSeek V3) and SentencePiece-style BPE with byte
// fallback (Llama 2, Mistral), with the normalizers, pre-tokenizers, added/special tokens,
// post-processors and decoders those files use. Encoding follows the `tokenizers` library's
// pipeline: added tokens are split out, each remaining piece is normalized, pre-tokenized and
// run through the model, and the post-processor adds the special tokens.
//
// Supported: model BPE; normalizers NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace, Strip,
// Sequence; pre-tokenizers ByteLevel, Split (PCRE2 regex or string; every split behavior),
// Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, Sequence; post-processors
// TemplateProcessing, ByteLevel, Bert/RobertaProcessing, Sequence; decoders ByteLevel, Metaspace,
// ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence. Anything else is a load error.
//
// Loading malformed files (bad JSON, no model, an unknown model or component type, merges that
// name tokens not in the vocabulary, a regex PCRE2 rejects) raises std::invalid_argument naming
// the file and what is wrong, e.g. "[tokenizer] t/tokenizer.json: model.merges[3]: token 'xy'
// is not in the vocabulary".
//
// encode only throws (std::runtime_error) if a file's regex exceeds PCRE2's backtracking limit,
// which scales with the text and is out of reach for the published patterns.
//
// Invalid UTF-8 given to encode never fails: byte-level tokenizers encode the bytes as they are
// (so decode gives them back); SentencePiece-style tokenizers with byte_fallback encode each
// invalid byte as its <0xNN> token (lossless as well); other tokenizers map such a byte to the
// unknown token, or drop it when the model has none (as the model does for unknown characters).
//
// decode returns the exact bytes the tokens stand for, which may be invalid UTF-8 when the ids
// end (or start) inside a character; StreamingDetokenizer is the way to get printable text.
//
// A Tokenizer is cheap to copy (the loaded tables are shared) and safe to use from several
// threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm {

namespace detail {
struct TokenizerImpl;
}

class StreamingDetokenizer;

class Tokenizer {
 public:
  // A directory with tokenizer.json and, when present, tokenizer_config.json (BOS/EOS tokens,
  // add_bos_token/add_eos_token, extra added tokens in added_tokens_decoder).
  static Tokenizer from_directory(const std::string& dir);
  // tokenizer.json, with an optional tokenizer_config.json ("" for none).
  static Tokenizer from_file(const std::string& tokenizer_json, const std::string& tokenizer_config_json = "");
  // The same from memory; `name` stands for the file in error messages.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json = {},
                             const std::string& name = "<memory>");
  // OpenAI's original GPT-2 files (encoder.json + vocab.bpe); <|endoftext|> is BOS and EOS.
  static Tokenizer from_gpt2_files(const std::string& encoder_json, const std::string& vocab_bpe);

  // add_special_tokens applies the post-processor (e.g. a leading BOS). For Llama-family configs
  // (tokenizer_class LlamaTokenizer[Fast], CodeLlama, Gemma) add_bos_token/add_eos_token from
  // tokenizer_config.json decide, as in Hugging Face transformers, whatever the post-processor in
  // tokenizer.json says.
  std::vector<int> encode(std::string_view text, bool add_special_tokens = true) const;
  // Ids the tokenizer does not know are skipped (models often have more embedding rows than
  // tokens). No clean-up of spaces before punctuation is done.
  std::string decode(std::span<const int> ids, bool skip_special_tokens = false) const;

  std::optional<std::string> id_to_token(int id) const;
  std::optional<int> token_to_id(std::string_view token) const;
  // One past the largest id, added tokens included (the embedding rows the tokenizer needs).
  int vocab_size() const;
  std::optional<int> bos_id() const;
  std::optional<int> eos_id() const;
  // True for added tokens marked special (what skip_special_tokens leaves out).
  bool is_special(int id) const;

  // `context`: ids already shown (e.g. the prompt); the first new id is rendered after them.
  StreamingDetokenizer detokenizer(bool skip_special_tokens = false, std::span<const int> context = {}) const;

 private:
  friend class StreamingDetokenizer;
  explicit Tokenizer(std::shared_ptr<const detail::TokenizerImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const detail::TokenizerImpl> impl_;
};

// Turns ids arriving one at a time into text as soon as it is complete: add() returns only whole
// UTF-8 characters, holding back the bytes of a character split across tokens (byte-level merges,
// <0xNN> byte-fallback tokens). Byte sequences that can never become valid UTF-8 come out as
// U+FFFD. The pieces concatenate to decode(ids) whenever that is valid UTF-8, including the
// SentencePiece rules for the leading space (a token is always decoded after its predecessor).
// Given a context (ids already shown, such as the prompt), the pieces are what decode(context +
// ids) adds after decode(context): a SentencePiece "▁word" right after the prompt keeps its space.
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = false,
                                std::span<const int> context = {});

  std::string add(int id);
  // What is still held back (an incomplete character) as U+FFFD; then starts over.
  std::string finish();
  // Forgets everything, the context included.
  void reset();

 private:
  std::shared_ptr<const detail::TokenizerImpl> impl_;
  bool skip_special_;
  std::vector<int> window_;  // ids whose text is not fully emitted, plus one id of context
  size_t emitted_ = 0;       // bytes of decode(window_) already returned
};

}  // namespace tessera::lm
