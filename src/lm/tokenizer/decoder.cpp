#include "lm/tokenizer/decoder.h"

#include "lm/tokenizer/pattern.h"
#include "lm/tokenizer/unicode.h"

namespace tessera::lm::detail {

namespace {

class ByteLevel final : public Decoder {
 public:
  // Each token's characters become the bytes they stand for; a token with a character outside
  // the byte table (an added token such as "<｜begin▁of▁sentence｜>") is taken as it is.
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string out;
    for (const std::string& token : tokens) {
      size_t mark = out.size();
      bool ok = true;
      for (size_t i = 0; i < token.size();) {
        char32_t cp;
        size_t n = utf8_decode(token, i, cp);
        int b = n ? unicode_to_byte(cp) : -1;
        if (b < 0) {
          ok = false;
          break;
        }
        out += char(b);
        i += n;
      }
      if (!ok) out.resize(mark), out += token;
    }
    tokens.assign(1, std::move(out));
  }
};

class Metaspace final : public Decoder {
 public:
  Metaspace(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  // As the tokenizers library does: in the first token every replacement character is dropped
  // (unless the prepend scheme is "never"); elsewhere each one becomes a space.
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string out;
      out.reserve(t.size());
      for (size_t p = 0; p < t.size();) {
        if (t.compare(p, replacement_.size(), replacement_) == 0) {
          if (!(i == 0 && strip_first_)) out += ' ';
          p += replacement_.size();
        } else {
          out += t[p++];
        }
      }
      t = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class ByteFallback final : public Decoder {
 public:
  // Runs of <0xNN> tokens become one string of those bytes.
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string bytes;
    bool in_bytes = false;
    for (std::string& t : tokens) {
      int b = byte_token(t);
      if (b >= 0) {
        bytes += char(b);
        in_bytes = true;
        continue;
      }
      if (in_bytes) out.push_back(std::move(bytes)), bytes.clear(), in_bytes = false;
      out.push_back(std::move(t));
    }
    if (in_bytes) out.push_back(std::move(bytes));
    tokens.swap(out);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  static int byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class Fuse final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string out;
    for (const std::string& t : tokens) out += t;
    tokens.assign(1, std::move(out));
  }
};

class Strip final : public Decoder {
 public:
  Strip(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  // Up to `start` leading and `stop` trailing copies of the content character, per token.
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && e - b >= content_.size() && t.compare(b, content_.size(), content_) == 0; ++k)
        b += content_.size();
      for (size_t k = 0; k < stop_ && e - b >= content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k)
        e -= content_.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class Replace final : public Decoder {
 public:
  Replace(const json& spec, const std::string& where, const JsonContext& ctx)
      : pattern_(ctx.member(spec, "pattern", where), where + ".pattern", ctx),
        content_(ctx.string(spec, "content", where)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) t = pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class BpeSuffix final : public Decoder {
 public:
  explicit BpeSuffix(std::string suffix) : suffix_(std::move(suffix)) {}
  // The end-of-word suffix becomes a space, except after the last token.
  void decode_chain(std::vector<std::string>& tokens) const override {
    if (suffix_.empty()) return;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string out;
      for (size_t p = 0; p < t.size();) {
        if (t.compare(p, suffix_.size(), suffix_) == 0) {
          if (i + 1 < tokens.size()) out += ' ';
          p += suffix_.size();
        } else {
          out += t[p++];
        }
      }
      t = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

class Sequence final : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& spec, const std::string& where, const JsonContext& ctx) {
  JsonContext::Nesting nesting(ctx, where);
  if (spec.is_null()) return nullptr;
  const std::string type = ctx.type(spec, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>();
  if (type == "Metaspace") {
    std::string replacement = ctx.string_or(spec, "replacement", where, "\xE2\x96\x81");
    if (replacement.empty()) ctx.fail(where + ".replacement", "expected one character");
    bool strip_first = ctx.boolean_or(spec, "add_prefix_space", where, true);
    if (const json* scheme = ctx.optional(spec, "prepend_scheme"))
      strip_first = !(scheme->is_string() && scheme->get<std::string>() == "never");
    return std::make_unique<Metaspace>(replacement, strip_first);
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip") {
    long long start = ctx.integer_or(spec, "start", where, 0), stop = ctx.integer_or(spec, "stop", where, 0);
    if (start < 0 || stop < 0) ctx.fail(where, "start and stop must not be negative");
    std::string content = ctx.string(spec, "content", where);
    if (content.empty()) ctx.fail(where + ".content", "expected one character");
    return std::make_unique<Strip>(content, size_t(start), size_t(stop));
  }
  if (type == "Replace") return std::make_unique<Replace>(spec, where, ctx);
  if (type == "BPEDecoder") return std::make_unique<BpeSuffix>(ctx.string_or(spec, "suffix", where, "</w>"));
  if (type == "Sequence") {
    const json& list = ctx.array(spec, "decoders", where);
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list.size(); ++i)
      if (auto step = make_decoder(list[i], indexed(where + ".decoders", i), ctx)) steps.push_back(std::move(step));
    return std::make_unique<Sequence>(std::move(steps));
  }
  ctx.fail(where + ".type", "unsupported decoder '" + type +
                                "' (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder, "
                                "Sequence)");
}

}  // namespace tessera::lm::detail
