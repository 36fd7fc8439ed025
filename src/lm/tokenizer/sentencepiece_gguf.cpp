// SentencePiece-style BPE over a GGUF-embedded vocabulary (tokenizer.ggml.model = "llama").
#include "tessera/lm/sentencepiece_gguf.h"

#include <algorithm>
#include <array>
#include <queue>
#include <stdexcept>
#include <unordered_map>

#include "tessera/gguf.h"

namespace tessera::lm {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// Length of the UTF-8 sequence starting with `c` (1 for bytes that cannot start one).
int utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0 && c >= 0xC2) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0 && c <= 0xF4) return 4;
  return 1;
}

// Checks the n-byte UTF-8 sequence starting at s[i]; `have` is how many of its bytes are
// present and well-formed. True when those bytes are valid (all n, or a prefix cut by the end).
bool utf8_valid(std::string_view s, size_t i, int n, size_t* have) {
  unsigned char c = s[i];
  size_t avail = std::min<size_t>(n, s.size() - i);
  *have = avail;
  for (size_t k = 1; k < avail; ++k) {
    unsigned char t = s[i + k];
    if ((t & 0xC0) != 0x80) {
      *have = k;
      return false;
    }
    // Second-byte limits exclude overlong forms, surrogates and code points past U+10FFFF.
    if (k == 1 && ((c == 0xE0 && t < 0xA0) || (c == 0xED && t > 0x9F) || (c == 0xF0 && t < 0x90) ||
                   (c == 0xF4 && t > 0x8F))) {
      *have = 1;
      return false;
    }
  }
  return true;
}

// Appends to `out` the complete characters at the front of `pending` and removes them; invalid
// bytes become U+FFFD. With `flush`, an incomplete tail is replaced as well.
void drain_utf8(std::string& pending, std::string& out, bool flush) {
  size_t i = 0;
  while (i < pending.size()) {
    unsigned char c = pending[i];
    int n = utf8_len(c);
    if (n == 1) {
      if (c < 0x80) out += char(c);
      else out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    size_t have;
    bool ok = utf8_valid(pending, i, n, &have);
    if (ok && have == size_t(n)) {
      out.append(pending, i, n);
      i += n;
    } else if (ok && !flush) {
      break;  // a valid start of a character whose remaining bytes have not arrived
    } else {
      out += "\xEF\xBF\xBD";
      i += std::max<size_t>(1, have);
    }
  }
  pending.erase(0, i);
}

std::string replace_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += s[i++];
    }
  }
  return out;
}

int parse_byte_piece(const std::string& p) {
  // "<0xNN>" with two hex digits.
  if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

struct SentencePieceTokenizer::Impl {
  std::unordered_map<std::string, int> index;  // pieces that take part in merges and lookups
  std::array<int, 256> byte_id;                // <0xNN> piece of each byte, or -1
  std::vector<int> byte_of;                    // id -> byte for byte pieces, else -1
  std::vector<std::string> text;               // id -> decoded bytes (spaces restored)
  std::vector<bool> is_control;
  // Control and user-defined pieces matched literally in the text, by first byte, longest first.
  std::array<std::vector<int>, 256> specials;
};

SentencePieceTokenizer::SentencePieceTokenizer(Vocab vocab, const std::string& name) : vocab_(std::move(vocab)) {
  const size_t n = vocab_.pieces.size();
  auto bad = [&](const std::string& what) { throw std::invalid_argument("[tokenizer] " + name + ": " + what); };
  if (n == 0) bad("the vocabulary is empty");
  if (n > size_t(INT32_MAX)) bad("the vocabulary is too large");
  if (!vocab_.scores.empty() && vocab_.scores.size() != n)
    bad("tokenizer.ggml.scores has " + std::to_string(vocab_.scores.size()) + " entries for " + std::to_string(n) + " tokens");
  if (!vocab_.types.empty() && vocab_.types.size() != n)
    bad("tokenizer.ggml.token_type has " + std::to_string(vocab_.types.size()) + " entries for " + std::to_string(n) + " tokens");
  for (auto* id : {&vocab_.bos, &vocab_.eos, &vocab_.unk}) {
    if (*id && (**id < 0 || size_t(**id) >= n)) bad("special token id " + std::to_string(**id) + " is outside the vocabulary");
  }
  if (vocab_.scores.empty()) vocab_.scores.assign(n, 0.0f);
  if (vocab_.types.empty()) {
    vocab_.types.assign(n, normal);
    for (size_t i = 0; i < n; ++i) {
      if (parse_byte_piece(vocab_.pieces[i]) >= 0) vocab_.types[i] = byte;
    }
    if (vocab_.unk) vocab_.types[*vocab_.unk] = unknown;
    for (auto id : {vocab_.bos, vocab_.eos}) {
      if (id) vocab_.types[*id] = control;
    }
  }

  auto impl = std::make_shared<Impl>();
  impl->byte_id.fill(-1);
  impl->byte_of.assign(n, -1);
  impl->text.resize(n);
  impl->is_control.assign(n, false);
  impl->index.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = vocab_.pieces[i];
    int t = vocab_.types[i];
    if (t == byte) {
      int b = parse_byte_piece(p);
      if (b < 0) bad("byte token " + std::to_string(i) + " is '" + p + "', not of the form <0xNN>");
      if (impl->byte_id[b] < 0) impl->byte_id[b] = int(i);
      impl->byte_of[i] = b;
      impl->text[i] = std::string(1, char(b));
      continue;
    }
    impl->text[i] = replace_spaces(p);
    impl->is_control[i] = t == control;
    if ((t == control || t == user_defined) && !p.empty()) impl->specials[uint8_t(p[0])].push_back(int(i));
    if (t == normal || t == user_defined) impl->index.emplace(p, int(i));  // first id wins on duplicates
  }
  for (auto& list : impl->specials) {
    std::stable_sort(list.begin(), list.end(),
                     [&](int a, int b) { return vocab_.pieces[a].size() > vocab_.pieces[b].size(); });
  }
  impl_ = std::move(impl);
}

std::shared_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_gguf(const gguf::Reader& file) {
  auto bad = [&](const std::string& what) {
    throw std::invalid_argument("[tokenizer] " + file.path() + ": " + what);
  };
  const gguf::Value* model = file.find("tokenizer.ggml.model");
  if (!model) bad("no embedded vocabulary (metadata tokenizer.ggml.model is missing)");
  if (!model->is_string() || model->str() != "llama") {
    bad("tokenizer.ggml.model is '" + model->to_string() +
        "'; the SentencePiece-style tokenizer reads only 'llama' vocabularies");
  }
  Vocab v;
  try {
    v.pieces = file.at("tokenizer.ggml.tokens").strings();
    if (auto* s = file.find("tokenizer.ggml.scores")) v.scores = s->floats();
    if (auto* t = file.find("tokenizer.ggml.token_type")) {
      for (int64_t x : t->ints()) v.types.push_back(int(x));
    }
  } catch (const std::invalid_argument& e) {
    bad(e.what());
  }
  // Ids stored as uint32 with all bits set mean "none" (llama.cpp writes that for absent ones).
  auto id = [&](const char* key) -> std::optional<int> {
    const gguf::Value* x = file.find(key);
    if (!x || !x->is_integer()) return std::nullopt;
    int64_t i = x->type() == gguf::ValueType::uint64 || x->type() == gguf::ValueType::uint32
                    ? int64_t(std::min<uint64_t>(x->to_uint(), uint64_t(INT32_MAX) + 1))
                    : x->to_int();
    if (i < 0 || i > INT32_MAX) return std::nullopt;
    if (size_t(i) >= v.pieces.size()) {
      bad(std::string(key) + " = " + std::to_string(i) + " is outside the vocabulary of " +
          std::to_string(v.pieces.size()) + " tokens");
    }
    return int(i);
  };
  v.bos = id("tokenizer.ggml.bos_token_id");
  v.eos = id("tokenizer.ggml.eos_token_id");
  v.unk = id("tokenizer.ggml.unknown_token_id");
  v.add_bos = file.get_bool("tokenizer.ggml.add_bos_token", true);
  v.add_eos = file.get_bool("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = file.get_bool("tokenizer.ggml.add_space_prefix", true);
  return std::make_shared<SentencePieceTokenizer>(std::move(v), file.path());
}

std::optional<int> SentencePieceTokenizer::piece_to_id(std::string_view piece) const {
  auto it = impl_->index.find(std::string(piece));
  if (it != impl_->index.end()) return it->second;
  for (size_t i = 0; i < vocab_.pieces.size(); ++i) {
    if (vocab_.pieces[i] == piece) return int(i);
  }
  return std::nullopt;
}

const std::string& SentencePieceTokenizer::id_to_piece(int id) const {
  if (id < 0 || size_t(id) >= vocab_.pieces.size())
    throw std::out_of_range("[tokenizer] id " + std::to_string(id) + " is outside the vocabulary");
  return vocab_.pieces[id];
}

std::vector<int> SentencePieceTokenizer::eos_ids() const {
  if (vocab_.eos) return {*vocab_.eos};
  return {};
}

namespace {

struct Symbol {
  size_t start, len;
  int prev, next;
};

struct Candidate {
  float score;
  int left;
  size_t len;
  bool operator<(const Candidate& o) const {
    // priority_queue pops the largest: higher score first, then the leftmost pair.
    if (score != o.score) return score < o.score;
    return left > o.left;
  }
};

}  // namespace

std::vector<int> SentencePieceTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Impl& im = *impl_;
  std::vector<int> out;
  if (add_special_tokens && vocab_.add_bos && vocab_.bos) out.push_back(*vocab_.bos);

  // One run of plain text (between special pieces): normalize, split, merge, emit.
  auto encode_run = [&](std::string_view run, bool prefix) {
    if (run.empty()) return;
    std::string s;
    s.reserve(run.size() + 3);
    if (prefix) s += kSpace;
    for (char c : run) {
      if (c == ' ') s += kSpace;
      else s += c;
    }
    std::vector<Symbol> sym;
    for (size_t i = 0; i < s.size();) {
      // A malformed sequence splits into single bytes (each then falls back to its byte piece).
      size_t n = size_t(utf8_len(uint8_t(s[i]))), have;
      if (n > 1 && !(utf8_valid(s, i, int(n), &have) && have == n)) n = 1;
      sym.push_back({i, n, int(sym.size()) - 1, int(sym.size()) + 1});
      i += n;
    }
    sym.back().next = -1;
    std::priority_queue<Candidate> queue;
    auto try_pair = [&](int left) {
      if (left < 0 || sym[left].next < 0) return;
      const Symbol &a = sym[left], &b = sym[a.next];
      auto it = im.index.find(s.substr(a.start, a.len + b.len));
      if (it != im.index.end()) queue.push({vocab_.scores[it->second], left, a.len + b.len});
    };
    for (int i = 0; i + 1 < int(sym.size()); ++i) try_pair(i);
    while (!queue.empty()) {
      Candidate c = queue.top();
      queue.pop();
      Symbol& a = sym[c.left];
      // Stale: one side was merged since this pair was queued.
      if (a.len == 0 || a.next < 0 || a.len + sym[a.next].len != c.len) continue;
      Symbol& b = sym[a.next];
      a.len += b.len;
      b.len = 0;
      a.next = b.next;
      if (a.next >= 0) sym[a.next].prev = c.left;
      try_pair(a.prev);
      try_pair(c.left);
    }
    for (int i = 0; i >= 0 && i < int(sym.size()); i = sym[i].next) {
      std::string piece = s.substr(sym[i].start, sym[i].len);
      auto it = im.index.find(piece);
      if (it != im.index.end()) {
        out.push_back(it->second);
        continue;
      }
      bool all_bytes = true;
      for (unsigned char ch : piece) all_bytes = all_bytes && im.byte_id[ch] >= 0;
      if (all_bytes) {
        for (unsigned char ch : piece) out.push_back(im.byte_id[ch]);
      } else if (vocab_.unk) {
        out.push_back(*vocab_.unk);
      }
    }
  };

  // Special pieces split the text; each following run gets the space prefix again, as
  // llama.cpp does.
  size_t run_start = 0;
  bool prefix = vocab_.add_space_prefix;
  for (size_t i = 0; i < text.size();) {
    int match = -1;
    for (int id : im.specials[uint8_t(text[i])]) {
      const std::string& p = vocab_.pieces[id];
      if (text.compare(i, p.size(), p) == 0) {
        match = id;
        break;
      }
    }
    if (match < 0) {
      ++i;
      continue;
    }
    encode_run(text.substr(run_start, i - run_start), prefix);
    out.push_back(match);
    i += vocab_.pieces[match].size();
    run_start = i;
    prefix = vocab_.add_space_prefix;
  }
  encode_run(text.substr(run_start), prefix);
  if (add_special_tokens && vocab_.add_eos && vocab_.eos) out.push_back(*vocab_.eos);
  return out;
}

const std::string& SentencePieceTokenizer::token_bytes(int id, bool skip_special_tokens) const {
  static const std::string empty;
  const Impl& im = *impl_;
  if (id < 0 || size_t(id) >= im.text.size()) return empty;
  if (im.is_control[id] && skip_special_tokens) return empty;
  return im.text[id];
}

namespace {

// Appends a token's bytes, dropping the dummy-prefix space from the first bytes of the output.
void append_piece(std::string& out, const std::string& b, bool& at_start) {
  if (b.empty()) return;
  out.append(b, at_start && b[0] == ' ' ? 1 : 0);
  at_start = false;
}

}  // namespace

std::string SentencePieceTokenizer::decode(std::span<const int> ids, bool skip_special_tokens) const {
  std::string out;
  bool at_start = vocab_.add_space_prefix;
  for (int id : ids) append_piece(out, token_bytes(id, skip_special_tokens), at_start);
  return out;
}

namespace {

class SpmStream : public TextStream {
 public:
  SpmStream(const SentencePieceTokenizer& t, bool at_start, bool skip) : t_(t), at_start_(at_start), skip_(skip) {}
  std::string add(int id) override {
    append_piece(pending_, t_.token_bytes(id, skip_), at_start_);
    std::string out;
    drain_utf8(pending_, out, false);
    return out;
  }
  std::string finish() override {
    std::string out;
    drain_utf8(pending_, out, true);
    return out;
  }

 private:
  const SentencePieceTokenizer& t_;
  bool at_start_;
  bool skip_;
  std::string pending_;
};

}  // namespace

std::unique_ptr<TextStream> SentencePieceTokenizer::stream(std::span<const int> context, bool skip_special_tokens) const {
  // The dummy prefix is still to be dropped when the context produced no text.
  bool at_start = vocab_.add_space_prefix;
  for (int id : context) at_start = at_start && token_bytes(id, skip_special_tokens).empty();
  return std::make_unique<SpmStream>(*this, at_start, skip_special_tokens);
}

}  // namespace tessera::lm
