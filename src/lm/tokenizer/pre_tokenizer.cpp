#include "lm/tokenizer/pre_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>

#include "lm/tokenizer/unicode.h"

namespace tessera::lm::detail {

namespace {

struct Part {
  size_t begin, end;
  bool match;
};

// Each character for which pred holds is one match (the tokenizers library's char patterns).
template <class Pred>
void find_chars(std::string_view text, Pred&& pred, std::vector<Range>& out) {
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    size_t n = utf8_decode(text, i, cp);
    if (!n) {
      ++i;
      continue;
    }
    if (pred(cp)) out.emplace_back(i, i + n);
    i += n;
  }
}

SplitBehavior parse_behavior(const json& spec, const std::string& where, const JsonContext& ctx,
                             SplitBehavior fallback) {
  const json* v = ctx.optional(spec, "behavior");
  if (!v) return fallback;
  if (!v->is_string()) ctx.fail(where + ".behavior", "expected a string");
  const std::string name = v->get<std::string>();
  static const std::pair<const char*, SplitBehavior> kNames[] = {
      {"Removed", SplitBehavior::Removed},
      {"Isolated", SplitBehavior::Isolated},
      {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
      {"MergedWithNext", SplitBehavior::MergedWithNext},
      {"Contiguous", SplitBehavior::Contiguous},
  };
  for (auto [n, b] : kNames)
    if (name == n) return b;
  ctx.fail(where + ".behavior", "unknown value '" + name +
                                    "' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

// Splits every piece at the matches find(piece) reports.
template <class Find>
void split_pieces(Pieces& pieces, SplitBehavior behavior, bool invert, Find&& find) {
  // Per-thread buffers: a long text has hundreds of thousands of pieces, and allocating these
  // afresh on every call costs more in page faults than the splitting itself.
  thread_local std::vector<std::string_view> out;
  thread_local std::vector<Range> matches;
  out.clear();
  for (std::string_view piece : pieces.items) {
    matches.clear();
    find(piece, matches);
    split_at(piece, matches, behavior, invert, out);
  }
  pieces.items.swap(out);
}

// GPT-2's pattern, which ByteLevel applies when use_regex is true.
const Regex& gpt2_regex() {
  static const Regex re(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
                        "[tokenizer] ByteLevel");
  return re;
}

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  bool byte_level() const override { return true; }
  void apply(Pieces& pieces) const override {
    if (add_prefix_space_) {
      for (auto& piece : pieces.items)
        if (piece.empty() || piece[0] != ' ') piece = pieces.store(" " + std::string(piece));
    }
    if (use_regex_) {
      const Regex& re = gpt2_regex();
      split_pieces(pieces, SplitBehavior::Isolated, false, [&](std::string_view text, std::vector<Range>& m) {
        re.for_each_match(text, [&](size_t b, size_t e) { m.emplace_back(b, e); });
      });
    }
  }

 private:
  bool add_prefix_space_, use_regex_;
};

class Split final : public PreTokenizer {
 public:
  Split(const json& spec, const std::string& where, const JsonContext& ctx)
      : pattern_(ctx.member(spec, "pattern", where), where + ".pattern", ctx),
        behavior_(parse_behavior(spec, where, ctx, SplitBehavior::Isolated)),
        invert_(ctx.boolean_or(spec, "invert", where, false)) {}
  void apply(Pieces& pieces) const override {
    split_pieces(pieces, behavior_, invert_,
                 [&](std::string_view text, std::vector<Range>& m) { pattern_.find(text, m); });
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  Metaspace(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void apply(Pieces& pieces) const override {
    for (size_t i = 0; i < pieces.items.size(); ++i) {
      std::string_view piece = pieces.items[i];
      std::string s;
      s.reserve(piece.size() + replacement_.size());
      for (char c : piece) {
        if (c == ' ')
          s += replacement_;
        else
          s += c;
      }
      bool prepend = prepend_ == Prepend::Always || (prepend_ == Prepend::First && i == 0 && pieces.segment_at_start);
      if (prepend && !std::string_view(s).starts_with(replacement_)) s.insert(0, replacement_);
      pieces.items[i] = pieces.store(std::move(s));
    }
    if (split_) {
      split_pieces(pieces, SplitBehavior::MergedWithNext, false, [&](std::string_view text, std::vector<Range>& m) {
        for (size_t pos = text.find(replacement_); pos != std::string_view::npos;
             pos = text.find(replacement_, pos + replacement_.size()))
          m.emplace_back(pos, pos + replacement_.size());
      });
    }
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

// Splits where pred holds for a character, one match per character.
template <class Pred>
class CharSplit final : public PreTokenizer {
 public:
  CharSplit(Pred pred, SplitBehavior behavior, bool invert) : pred_(pred), behavior_(behavior), invert_(invert) {}
  void apply(Pieces& pieces) const override {
    split_pieces(pieces, behavior_, invert_,
                 [&](std::string_view text, std::vector<Range>& m) { find_chars(text, pred_, m); });
  }

 private:
  Pred pred_;
  SplitBehavior behavior_;
  bool invert_;
};

template <class Pred>
std::unique_ptr<PreTokenizer> char_split(Pred pred, SplitBehavior behavior, bool invert = false) {
  return std::make_unique<CharSplit<Pred>>(pred, behavior, invert);
}

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  bool byte_level() const override {
    return std::any_of(steps_.begin(), steps_.end(), [](const auto& s) { return s->byte_level(); });
  }
  void apply(Pieces& pieces) const override {
    for (const auto& step : steps_) step->apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

bool is_punctuation(char32_t cp) {
  if (cp < 0x80) return (cp >= '!' && cp <= '/') || (cp >= ':' && cp <= '@') || (cp >= '[' && cp <= '`') ||
                        (cp >= '{' && cp <= '~');
  auto cat = utf8proc_category(utf8proc_int32_t(cp));
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

}  // namespace

void split_at(std::string_view text, const std::vector<Range>& matches, SplitBehavior behavior, bool invert,
              std::vector<std::string_view>& out) {
  if (text.empty()) return;
  if (matches.empty()) {
    // The whole text is one non-match (a match when inverted).
    if (!(behavior == SplitBehavior::Removed && invert)) out.push_back(text);
    return;
  }
  if (behavior == SplitBehavior::Isolated && !invert) {
    // The common case (every published byte-level tokenizer) needs no intermediate list.
    size_t prev = 0;
    for (auto [b, e] : matches) {
      if (b > prev) out.push_back(text.substr(prev, b - prev));
      out.push_back(text.substr(b, e - b));
      prev = e;
    }
    if (prev < text.size()) out.push_back(text.substr(prev));
    return;
  }
  thread_local std::vector<Part> parts, merged;
  parts.clear();
  merged.clear();
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (b > prev) parts.push_back({prev, b, invert});
    parts.push_back({b, e, !invert});
    prev = e;
  }
  if (prev < text.size()) parts.push_back({prev, text.size(), invert});

  // The folds below are the tokenizers library's (normalizer.rs, NormalizedString::split).
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::Isolated: merged = parts; break;
    case SplitBehavior::Removed:
      for (const Part& p : parts)
        if (!p.match) merged.push_back(p);
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const Part& p : parts) {
        if (p.match && !previous_match && !merged.empty())
          merged.back().end = p.end;
        else
          merged.push_back(p);
        previous_match = p.match;
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (size_t i = parts.size(); i-- > 0;) {
        const Part& p = parts[i];
        if (p.match && !previous_match && !merged.empty())
          merged.back().begin = p.begin;
        else
          merged.push_back(p);
        previous_match = p.match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    case SplitBehavior::Contiguous:
      for (const Part& p : parts) {
        if (p.match == previous_match && !merged.empty())
          merged.back().end = p.end;
        else
          merged.push_back(p);
        previous_match = p.match;
      }
      break;
  }
  for (const Part& p : merged)
    if (p.end > p.begin) out.push_back(text.substr(p.begin, p.end - p.begin));
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const std::string& where, const JsonContext& ctx) {
  JsonContext::Nesting nesting(ctx, where);
  if (spec.is_null()) return nullptr;
  const std::string type = ctx.type(spec, where);
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevel>(ctx.boolean_or(spec, "add_prefix_space", where, true),
                                       ctx.boolean_or(spec, "use_regex", where, true));
  }
  if (type == "Split") return std::make_unique<Split>(spec, where, ctx);
  if (type == "Metaspace") {
    std::string replacement = ctx.string_or(spec, "replacement", where, "\xE2\x96\x81");
    if (replacement.empty() || utf8_valid_len(replacement, 0) != replacement.size())
      ctx.fail(where + ".replacement", "expected one character");
    Metaspace::Prepend prepend = ctx.boolean_or(spec, "add_prefix_space", where, true) ? Metaspace::Prepend::Always
                                                                                          : Metaspace::Prepend::Never;
    if (const json* scheme = ctx.optional(spec, "prepend_scheme")) {
      std::string s = scheme->is_string() ? scheme->get<std::string>() : "";
      if (s == "always")
        prepend = Metaspace::Prepend::Always;
      else if (s == "first")
        prepend = Metaspace::Prepend::First;
      else if (s == "never")
        prepend = Metaspace::Prepend::Never;
      else
        ctx.fail(where + ".prepend_scheme", "expected \"always\", \"first\" or \"never\"");
    }
    return std::make_unique<Metaspace>(replacement, prepend, ctx.boolean_or(spec, "split", where, true));
  }
  if (type == "Digits") {
    bool individual = ctx.boolean_or(spec, "individual_digits", where, false);
    return char_split(is_numeric, individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
  }
  if (type == "Whitespace") {
    // \w+|[^\w\s]+ kept, the rest (whitespace) removed.
    return std::make_unique<Split>(json{{"pattern", {{"Regex", R"(\w+|[^\w\s]+)"}}}, {"behavior", "Removed"},
                                        {"invert", true}},
                                   where, ctx);
  }
  if (type == "WhitespaceSplit") return char_split(is_unicode_whitespace, SplitBehavior::Removed);
  if (type == "Punctuation") return char_split(is_punctuation, parse_behavior(spec, where, ctx, SplitBehavior::Isolated));
  if (type == "Sequence") {
    const json& list = ctx.array(spec, "pretokenizers", where);
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    bool seen_byte_level = false;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string w = indexed(where + ".pretokenizers", i);
      auto step = make_pre_tokenizer(list[i], w, ctx);
      if (!step) continue;
      // The model is keyed by raw bytes (pre_tokenizer.h), so nothing may look at the text after
      // ByteLevel has (in the tokenizers library) rewritten it.
      if (seen_byte_level) ctx.fail(w, "a pre-tokenizer after ByteLevel is not supported");
      seen_byte_level = step->byte_level();
      steps.push_back(std::move(step));
    }
    if (steps.empty()) return nullptr;
    return std::make_unique<Sequence>(std::move(steps));
  }
  ctx.fail(where + ".type", "unsupported pre-tokenizer '" + type +
                                "' (supported: ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit, "
                                "Punctuation, Sequence)");
}

}  // namespace tessera::lm::detail
