#include "lm/tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <queue>

#include "lm/tokenizer/unicode.h"

namespace tessera::lm::detail {

namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581
constexpr size_t kHeapThreshold = 48;        // symbols; below it a rank array is faster than a heap
constexpr long long kMaxId = (1 << 24) - 1;  // far above real vocabularies; bounds the id table

std::string shorten(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 57) + "..."; }

// The bytes a byte-level token stands for, or nullopt when it has characters outside the table.
std::optional<std::string> byte_level_bytes(std::string_view token) {
  std::string raw;
  raw.reserve(token.size());
  for (size_t i = 0; i < token.size();) {
    char32_t cp;
    size_t n = utf8_decode(token, i, cp);
    int b = n ? unicode_to_byte(cp) : -1;
    if (b < 0) return std::nullopt;
    raw += char(b);
    i += n;
  }
  return raw;
}

}  // namespace

BpeModel::BpeModel(const json& spec, bool byte_level, const std::string& where, const JsonContext& ctx)
    : byte_level_(byte_level) {
  const json& vocab = ctx.member(spec, "vocab", where);
  if (!vocab.is_object()) ctx.fail(where + ".vocab", "expected an object of token: id");
  vocab_.reserve(vocab.size());
  long long max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<long long>() < 0 || it.value().get<long long>() > kMaxId)
      ctx.fail(where + ".vocab", "token '" + shorten(it.key()) + "' has no valid id (expected an integer in [0, " +
                                     std::to_string(kMaxId) + "])");
    long long id = it.value().get<long long>();
    vocab_.emplace(it.key(), int(id));
    max_id = std::max(max_id, id);
  }
  // The id table is dense, so a stray huge id would cost memory for nothing: real vocabularies
  // number their tokens 0..n-1, with at most small gaps.
  if (max_id >= 2 * (long long)vocab_.size() + 65536)
    ctx.fail(where + ".vocab", "id " + std::to_string(max_id) + " is far beyond the " + std::to_string(vocab_.size()) +
                                   " tokens of the vocabulary");
  tokens_.resize(size_t(max_id + 1));
  has_token_.assign(size_t(max_id + 1), 0);
  for (const auto& [token, id] : vocab_) {
    if (!has_token_[id]) tokens_[id] = token;
    has_token_[id] = 1;
  }

  byte_ids_.fill(-1);
  if (byte_level_) {
    raw_vocab_.reserve(vocab_.size());
    for (const auto& [token, id] : vocab_) {
      // Tokens outside the byte alphabet (some added tokens live in the vocabulary) can never come
      // out of byte-level merges, so they have no raw spelling.
      if (auto raw = byte_level_bytes(token)) raw_vocab_.emplace(std::move(*raw), id);
    }
    for (int b = 0; b < 256; ++b) {
      auto it = raw_vocab_.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
      if (it != raw_vocab_.end()) byte_ids_[b] = it->second;
    }
  }

  prefix_ = ctx.string_or(spec, "continuing_subword_prefix", where, "");
  suffix_ = ctx.string_or(spec, "end_of_word_suffix", where, "");
  byte_fallback_ = ctx.boolean_or(spec, "byte_fallback", where, false);
  fuse_unk_ = ctx.boolean_or(spec, "fuse_unk", where, false);
  ignore_merges_ = ctx.boolean_or(spec, "ignore_merges", where, false);
  if (!byte_level_ && prefix_.empty() && suffix_.empty() && vocab_.count(kMetaspace)) {
    split_at_metaspace_ = std::none_of(vocab_.begin(), vocab_.end(), [](const auto& entry) {
      std::string_view token = entry.first;
      size_t lead = 0;
      while (token.substr(lead).starts_with(kMetaspace)) lead += kMetaspace.size();
      return token.find(kMetaspace, lead) != std::string_view::npos;
    });
  }
  if (const json* dropout = ctx.optional(spec, "dropout")) {
    if (!dropout->is_number()) ctx.fail(where + ".dropout", "expected a number or null");
    // Dropout is a training-time regularizer; inference never applies it.
  }
  std::string unk = ctx.string_or(spec, "unk_token", where, "");
  if (!unk.empty()) {
    // A named unknown token that is missing from the vocabulary acts as no unknown token.
    if (auto it = vocab_.find(unk); it != vocab_.end()) unk_id_ = it->second;
  }
  fallback_ids_.fill(-1);
  if (byte_fallback_) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (auto it = vocab_.find(std::string_view(name)); it != vocab_.end()) fallback_ids_[b] = it->second;
    }
  }

  const json* merges = ctx.optional(spec, "merges");
  if (!merges) return;
  if (!merges->is_array()) ctx.fail(where + ".merges", "expected an array");
  merges_.reserve(merges->size());
  auto lookup = [&](const std::string& token, const std::string& w) {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) ctx.fail(w, "token '" + shorten(token) + "' is not in the vocabulary");
    return it->second;
  };
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& m = (*merges)[i];
    const std::string w = indexed(where + ".merges", i);
    std::string a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        ctx.fail(w, "expected two tokens separated by one space, got '" + shorten(s) + "'");
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      ctx.fail(w, "expected \"a b\" or [\"a\", \"b\"]");
    }
    int left = lookup(a, w), right = lookup(b, w);
    std::string merged = a + (!prefix_.empty() && b.starts_with(prefix_) ? b.substr(prefix_.size()) : b);
    merges_.insert(left, right, {int(i), lookup(merged, w)});
  }
}

std::optional<int> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int id) const {
  if (id < 0 || size_t(id) >= tokens_.size() || !has_token_[id]) return nullptr;
  return &tokens_[id];
}

void BpeModel::push_unknown(std::vector<int>& symbols, bool& last_was_unk) const {
  if (unk_id_ < 0) return;  // no unknown token: the character is dropped, as the library does
  if (!(fuse_unk_ && last_was_unk)) symbols.push_back(unk_id_);
  last_was_unk = true;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int>& symbols) const {
  bool last_was_unk = false;
  if (byte_level_) {
    for (unsigned char c : word) {
      if (byte_ids_[c] >= 0) {
        symbols.push_back(byte_ids_[c]);
        last_was_unk = false;
      } else {
        push_unknown(symbols, last_was_unk);
      }
    }
    return;
  }
  std::string key;
  for (size_t i = 0; i < word.size();) {
    size_t n = utf8_unit_len(word, i);
    std::string_view unit = word.substr(i, n);
    bool first = i == 0, last = i + n == word.size();
    auto it = vocab_.end();
    if ((first || prefix_.empty()) && (!last || suffix_.empty())) {
      it = vocab_.find(unit);
    } else {
      key.assign(first ? "" : prefix_).append(unit).append(last ? suffix_ : "");
      it = vocab_.find(key);
    }
    if (it != vocab_.end()) {
      symbols.push_back(it->second);
      last_was_unk = false;
    } else if (byte_fallback_ && std::all_of(unit.begin(), unit.end(), [&](char c) {
                 return fallback_ids_[static_cast<unsigned char>(c)] >= 0;
               })) {
      for (unsigned char c : unit) symbols.push_back(fallback_ids_[c]);
      last_was_unk = false;
    } else {
      push_unknown(symbols, last_was_unk);
    }
    i += n;
  }
}

void BpeModel::merge(std::vector<int>& s) const {
  if (s.size() < 2) return;
  if (s.size() > kHeapThreshold) return merge_with_heap(s);
  // ranks[i] and merged[i] describe the pair (s[i], s[i+1]).
  int ranks[kHeapThreshold], merged[kHeapThreshold];
  size_t pairs = s.size() - 1;
  auto update = [&](size_t i) {
    const PairMap::Value* v = merges_.find(s[i], s[i + 1]);
    ranks[i] = v ? v->rank : INT_MAX;
    merged[i] = v ? v->id : -1;
  };
  for (size_t i = 0; i < pairs; ++i) update(i);
  while (pairs > 0) {
    size_t best = 0;
    for (size_t i = 1; i < pairs; ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == INT_MAX) break;
    s[best] = merged[best];
    s.erase(s.begin() + best + 1);
    std::copy(ranks + best + 1, ranks + pairs, ranks + best);
    std::copy(merged + best + 1, merged + pairs, merged + best);
    --pairs;
    if (best < pairs) update(best);
    if (best > 0) update(best - 1);
  }
}

void BpeModel::merge_with_heap(std::vector<int>& s) const {
  struct Node {
    int id, prev, next;
  };
  struct Candidate {
    int rank, pos, left, right;
    // Lowest rank first, then leftmost (the order of the tokenizers library's merge queue).
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Node> nodes(s.size());
  for (size_t i = 0; i < s.size(); ++i) nodes[i] = {s[i], int(i) - 1, i + 1 < s.size() ? int(i) + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int pos) {
    if (pos < 0 || nodes[pos].next < 0) return;
    int left = nodes[pos].id, right = nodes[nodes[pos].next].id;
    if (const PairMap::Value* v = merges_.find(left, right)) queue.push({v->rank, pos, left, right});
  };
  for (size_t i = 0; i + 1 < s.size(); ++i) consider(int(i));
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Node& left = nodes[c.pos];
    // A stale entry: one of the two symbols has merged since (ids only ever grow into longer
    // tokens, so an unchanged pair of ids means the same pair of symbols).
    if (left.id != c.left || left.next < 0 || nodes[left.next].id != c.right) continue;
    Node& right = nodes[left.next];
    left.id = merges_.find(c.left, c.right)->id;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) nodes[right.next].prev = c.pos;
    consider(left.prev);
    consider(c.pos);
  }
  s.clear();
  for (int i = 0; i >= 0; i = nodes[i].next) s.push_back(nodes[i].id);
}

void BpeModel::encode_word(std::string_view word, std::vector<int>& out) const {
  if (!split_at_metaspace_ || word.size() <= WordCache::kMaxWordBytes) return encode_piece(word, out);
  size_t start = 0;
  for (size_t pos = word.find(kMetaspace, 1); pos != std::string_view::npos; pos = word.find(kMetaspace, pos + kMetaspace.size())) {
    if (pos >= 3 && word.substr(pos - 3, 3) == kMetaspace) continue;  // inside a run of "▁"
    encode_piece(word.substr(start, pos - start), out);
    start = pos;
  }
  encode_piece(word.substr(start), out);
}

void BpeModel::encode_piece(std::string_view word, std::vector<int>& out) const {
  if (word.empty()) return;
  if (cache_.lookup(word, out)) return;
  thread_local std::vector<int> symbols;
  symbols.clear();
  bool done = false;
  if (ignore_merges_) {
    const StringMap<int>& whole = byte_level_ ? raw_vocab_ : vocab_;
    if (auto it = whole.find(word); it != whole.end()) {
      symbols.push_back(it->second);
      done = true;
    }
  }
  if (!done) {
    initial_symbols(word, symbols);
    merge(symbols);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
  cache_.insert(word, symbols);
}

}  // namespace tessera::lm::detail
