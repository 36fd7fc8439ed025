// TextTokenizer over the Hugging Face tokenizer.json implementation, so generate() serves both.
#include "tessera/lm/text_tokenizer.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

namespace {

class HfStream : public TextStream {
 public:
  HfStream(const Tokenizer& t, std::span<const int> context, bool skip) : d_(t, skip, context) {}
  std::string add(int id) override { return d_.add(id); }
  std::string finish() override { return d_.finish(); }

 private:
  StreamingDetokenizer d_;
};

class HfTextTokenizer : public TextTokenizer {
 public:
  explicit HfTextTokenizer(Tokenizer t) : t_(std::move(t)) {}
  std::vector<int> encode(std::string_view text, bool add_special_tokens) const override {
    return t_.encode(text, add_special_tokens);
  }
  std::string decode(std::span<const int> ids, bool skip_special_tokens) const override {
    return t_.decode(ids, skip_special_tokens);
  }
  std::unique_ptr<TextStream> stream(std::span<const int> context, bool skip_special_tokens) const override {
    return std::make_unique<HfStream>(t_, context, skip_special_tokens);
  }
  int vocab_size() const override { return t_.vocab_size(); }
  std::optional<int> bos_id() const override { return t_.bos_id(); }
  std::vector<int> eos_ids() const override {
    if (auto e = t_.eos_id()) return {*e};
    return {};
  }

 private:
  Tokenizer t_;
};

}  // namespace

std::shared_ptr<TextTokenizer> as_text_tokenizer(const Tokenizer& tokenizer) {
  return std::make_shared<HfTextTokenizer>(tokenizer);
}

}  // namespace tessera::lm
