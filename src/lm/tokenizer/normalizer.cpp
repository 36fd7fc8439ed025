#include "lm/tokenizer/normalizer.h"

#include <vector>

#include "lm/tokenizer/pattern.h"
#include "lm/tokenizer/unicode.h"

namespace tessera::lm::detail {

namespace {

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  std::string normalize(std::string_view text) const override { return unicode_normalize(text, form_); }

 private:
  NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return unicode_lowercase(text); }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  // Empty pieces stay empty (the tokenizers library prepends only to non-empty text).
  std::string normalize(std::string_view text) const override {
    return text.empty() ? std::string() : prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

class Replace final : public Normalizer {
 public:
  Replace(const json& spec, const std::string& where, const JsonContext& ctx)
      : pattern_(ctx.member(spec, "pattern", where), where + ".pattern", ctx),
        content_(ctx.string(spec, "content", where)) {}
  std::string normalize(std::string_view text) const override { return pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view text) const override {
    size_t b = 0, e = text.size();
    if (left_) {
      while (b < e) {
        char32_t cp;
        size_t n = utf8_decode(text, b, cp);
        if (!n || !is_unicode_whitespace(cp)) break;
        b += n;
      }
    }
    if (right_) {
      while (e > b) {
        size_t s = e - 1;
        while (s > b && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
        char32_t cp;
        size_t n = utf8_decode(text, s, cp);
        if (n != e - s || !is_unicode_whitespace(cp)) break;
        e = s;
      }
    }
    return std::string(text.substr(b, e - b));
  }

 private:
  bool left_, right_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  std::string normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& step : steps_) s = step->normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& spec, const std::string& where, const JsonContext& ctx) {
  JsonContext::Nesting nesting(ctx, where);
  if (spec.is_null()) return nullptr;
  const std::string type = ctx.type(spec, where);
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Prepend") return std::make_unique<Prepend>(ctx.string(spec, "prepend", where));
  if (type == "Replace") return std::make_unique<Replace>(spec, where, ctx);
  if (type == "Strip") {
    return std::make_unique<Strip>(ctx.boolean_or(spec, "strip_left", where, true),
                                   ctx.boolean_or(spec, "strip_right", where, true));
  }
  if (type == "Sequence") {
    const json& list = ctx.array(spec, "normalizers", where);
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto step = make_normalizer(list[i], indexed(where + ".normalizers", i), ctx)) steps.push_back(std::move(step));
    }
    if (steps.empty()) return nullptr;
    if (steps.size() == 1) return std::move(steps[0]);
    return std::make_unique<Sequence>(std::move(steps));
  }
  ctx.fail(where + ".type", "unsupported normalizer '" + type +
                                "' (supported: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence)");
}

}  // namespace tessera::lm::detail
