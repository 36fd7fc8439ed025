// Byte-level BPE training (the contract is in tessera/lm/bpe_trainer.h).
//
// Counting: the text is cut at the special tokens by the same matcher the tokenizer uses, and
// each run is split into words by the same ByteLevel pre-tokenizer object the written
// tokenizer.json declares, so training sees exactly the words encoding will see.
//
// Merging: every distinct word is an array of symbol ids with its count. A table maps each
// adjacent pair to its total count and the words it occurs in; a max-heap orders pairs by
// (count, left bytes, right bytes). Counts that drop are fixed lazily: a popped entry whose count
// is stale goes back with the current one. Counts that grow are pushed at once, so the heap never
// holds an entry below its pair's count, and the first valid entry popped is the true best pair.
// A merge rewrites only the words listed for its pair and adjusts only the pairs next to the
// merge sites.
#include "tessera/lm/bpe_trainer.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/file_io.h"
#include "lm/tokenizer/added_tokens.h"
#include "lm/tokenizer/bpe.h"
#include "lm/tokenizer/pre_tokenizer.h"
#include "lm/tokenizer/unicode.h"

namespace tessera::lm {

namespace {

using detail::json;
using ordered_json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr const char* kOp = "bpe_trainer";
constexpr int kMaxVocab = 1 << 24;      // the tokenizer loader's bound on ids
constexpr size_t kChunkBytes = 1 << 20;  // counting step between progress reports

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument(std::string("[") + kOp + "] " + what); }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The vocabulary's spelling of a byte string: each byte as its GPT-2 printable character.
std::string printable(std::string_view bytes) {
  const auto& table = detail::byte_to_unicode();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) detail::utf8_append(out, table[c]);
  return out;
}

ordered_json byte_level(bool add_prefix_space, bool trim_offsets) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", true}};
}

// The pre-tokenizer of the written file; training splits text with an instance of it.
ordered_json pre_tokenizer_spec() { return byte_level(false, true); }

// Where a long run of text may be cut without changing the words GPT-2's regex finds: between
// an ASCII letter or digit and a space followed by one (the space starts the next word), or after
// a newline that stands between two ASCII non-space characters (the newline is a word alone). No
// match of the pattern, and no lookahead, reaches across such a point.
bool safe_cut(std::string_view s, size_t p) {
  if (p < 2 || p + 1 >= s.size()) return false;
  auto alnum = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto graph = [](char c) { return c > ' ' && c < 0x7F; };
  if (s[p] == ' ') return alnum(s[p - 1]) && alnum(s[p + 1]);
  return s[p - 1] == '\n' && graph(s[p - 2]) && graph(s[p]);
}

// Adjacent symbols (a, b) packed into one key.
uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

// Pair -> slot in a dense array, open addressing (the table is probed for every pair that a
// merge touches).
class PairIndex {
 public:
  static constexpr uint32_t kNone = ~uint32_t(0);

  uint32_t find(uint64_t key) const {
    if (slots_.empty()) return kNone;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].value == kNone) return kNone;
      if (slots_[i].key == key) return slots_[i].value;
    }
  }
  // The slot of key, or `next` after recording it as the slot (then *inserted is true).
  uint32_t find_or_insert(uint64_t key, uint32_t next, bool* inserted) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].value == kNone) {
        slots_[i] = {key, next};
        ++size_;
        *inserted = true;
        return next;
      }
      if (slots_[i].key == key) {
        *inserted = false;
        return slots_[i].value;
      }
    }
  }

 private:
  struct Slot {
    uint64_t key;
    uint32_t value;
  };
  // Both halves of the key are small ids, so they are mixed fully (the splitmix64 finalizer)
  // before the low bits pick a slot; a plain multiply leaves long probe runs.
  static size_t hash(uint64_t key) {
    key = (key ^ (key >> 30)) * 0xBF58476D1CE4E5B9ull;
    key = (key ^ (key >> 27)) * 0x94D049BB133111EBull;
    return size_t(key ^ (key >> 31));
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 1024 : 2 * old.size(), Slot{0, kNone});
    mask_ = slots_.size() - 1;
    size_ = 0;
    bool inserted;
    for (const Slot& s : old)
      if (s.value != kNone) find_or_insert(s.key, s.value, &inserted);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

// The merge loop over the counted words.
class Merger {
 public:
  Merger(const detail::StringMap<uint64_t>& word_counts, const std::vector<std::string>& specials,
         uint64_t min_frequency)
      : min_frequency_(min_frequency) {
    for (const std::string& s : specials) special_spellings_.emplace(s, 0);
    tokens_.reserve(256);
    for (int b = 0; b < 256; ++b) {
      tokens_.emplace_back(1, char(b));
      token_ids_.emplace(tokens_.back(), b);
    }
    if (word_counts.size() >= PairIndex::kNone) fail("more than 4 billion distinct words");
    words_.reserve(word_counts.size());
    for (const auto& [word, count] : word_counts) {
      words_.push_back({symbols_.size(), word.size(), count});
      for (unsigned char c : word) symbols_.push_back(c);
    }
    for (uint32_t w = 0; w < words_.size(); ++w) {
      const Word& word = words_[w];
      const int32_t* s = &symbols_[word.begin];
      for (size_t j = 0; j + 1 < word.size; ++j) add(s[j], s[j + 1], int64_t(word.count), w);
    }
    heap_.reserve(pairs_.size());
    for (const PairStat& p : pairs_)
      if (p.count > 0) heap_.push_back({p.count, p.a, p.b});
    std::make_heap(heap_.begin(), heap_.end(), Lower{this});
    touched_.clear();
  }

  // Learns merges until there are `target` tokens (bytes included) or no pair qualifies.
  void run(size_t target, const std::function<void(uint64_t, uint64_t)>& report) {
    const uint64_t wanted = target > 256 ? target - 256 : 0;
    const uint64_t step = std::max<uint64_t>(1, wanted / 100);
    while (tokens_.size() < target && !heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), Lower{this});
      Entry e = heap_.back();
      heap_.pop_back();
      const uint32_t slot = index_.find(pair_key(e.a, e.b));
      const int64_t current = pairs_[slot].count;
      if (current != e.count) {
        if (current > 0) push({current, e.a, e.b});
        continue;
      }
      if (uint64_t(e.count) < min_frequency_) break;
      merge(e.a, e.b, slot);
      if (report && (merges_.size() % step == 0)) report(tokens_.size() - 256, wanted);
    }
    if (report) report(tokens_.size() - 256, wanted);
  }

  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }

 private:
  struct Word {
    size_t begin, size;  // symbols_[begin, begin + size)
    uint64_t count;
  };
  struct PairStat {
    int32_t a, b;
    int64_t count = 0;
    std::vector<uint32_t> words;  // may hold stale and repeated entries; checked when merged
    uint64_t touched = 0;         // the merge that last raised the count
  };
  struct Entry {
    int64_t count;
    int32_t a, b;
  };
  // Heap order: count, then the left token's bytes, then the right token's.
  struct Lower {
    const Merger* m;
    bool operator()(const Entry& x, const Entry& y) const {
      if (x.count != y.count) return x.count < y.count;
      if (x.a != y.a) return m->tokens_[x.a] < m->tokens_[y.a];
      return m->tokens_[x.b] < m->tokens_[y.b];
    }
  };

  void push(Entry e) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end(), Lower{this});
  }

  void add(int32_t a, int32_t b, int64_t delta, uint32_t word) {
    bool inserted = false;
    const uint32_t slot = index_.find_or_insert(pair_key(a, b), uint32_t(pairs_.size()), &inserted);
    if (inserted) {
      if (pairs_.size() >= PairIndex::kNone - 1) fail("more than 4 billion distinct pairs");
      pairs_.push_back({a, b});
    }
    PairStat& p = pairs_[slot];
    p.count += delta;
    if (delta > 0) {
      if (p.words.empty() || p.words.back() != word) p.words.push_back(word);
      if (p.touched != merges_.size()) {
        p.touched = merges_.size();
        touched_.push_back(slot);
      }
    }
  }

  void merge(int32_t a, int32_t b, uint32_t slot) {
    std::string spelling = tokens_[a] + tokens_[b];
    if (!special_spellings_.empty()) {
      if (auto it = special_spellings_.find(printable(spelling)); it != special_spellings_.end()) {
        fail("special token '" + it->first +
             "' is spelled like a token learned from the text (GPT-2's printable form of its bytes); "
             "choose a special token that is not made of byte-level characters");
      }
    }
    int32_t z;
    if (auto it = token_ids_.find(spelling); it != token_ids_.end()) {
      z = it->second;  // a second way to spell an existing token: the merge counts, the token is not new
    } else {
      z = int32_t(tokens_.size());
      token_ids_.emplace(spelling, z);
      tokens_.push_back(std::move(spelling));
    }
    merges_.push_back({a, b});

    std::vector<uint32_t> words = std::move(pairs_[slot].words);
    pairs_[slot].words = {};
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    for (uint32_t w : words) merge_word(w, a, b, z);

    for (uint32_t s : touched_) {
      if (pairs_[s].count > 0) push({pairs_[s].count, pairs_[s].a, pairs_[s].b});
    }
    touched_.clear();
  }

  void merge_word(uint32_t w, int32_t a, int32_t b, int32_t z) {
    Word& word = words_[w];
    int32_t* s = &symbols_[word.begin];
    const size_t n = word.size;
    sites_.clear();
    for (size_t i = 0; i + 1 < n;) {
      if (s[i] == a && s[i + 1] == b) {
        sites_.push_back(i);
        i += 2;
      } else {
        ++i;
      }
    }
    if (sites_.empty()) return;  // a stale entry of the word list
    const int64_t count = int64_t(word.count);

    // The pairs that touch a merge site disappear...
    flags_.assign(n, 0);
    for (size_t p : sites_) flags_[p] = flags_[p + 1] = 1;
    for (size_t j = 0; j + 1 < n; ++j)
      if (flags_[j] || flags_[j + 1]) add(s[j], s[j + 1], -count, w);

    // ...and the pairs that touch a new symbol appear.
    size_t out = 0, next = 0;
    for (size_t i = 0; i < n;) {
      if (next < sites_.size() && sites_[next] == i) {
        s[out] = z;
        flags_[out++] = 1;
        i += 2;
        ++next;
      } else {
        s[out] = s[i];
        flags_[out++] = 0;
        ++i;
      }
    }
    word.size = out;
    for (size_t k = 0; k + 1 < out; ++k)
      if (flags_[k] || flags_[k + 1]) add(s[k], s[k + 1], count, w);
  }

  uint64_t min_frequency_;
  detail::StringMap<int> special_spellings_;
  std::vector<std::string> tokens_;  // by internal id: 0-255 the bytes, then merged tokens
  detail::StringMap<int32_t> token_ids_;
  std::vector<Word> words_;
  std::vector<int32_t> symbols_;
  PairIndex index_;
  std::vector<PairStat> pairs_;
  std::vector<Entry> heap_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::vector<uint32_t> touched_;  // pairs whose count rose during the current merge
  std::vector<size_t> sites_;
  std::vector<char> flags_;
};

}  // namespace

struct BpeTrainer::Impl {
  BpeTrainerOptions options;
  std::unique_ptr<detail::PreTokenizer> pre_tokenizer;
  std::unique_ptr<detail::AddedTokenMatcher> specials;  // null without special tokens
  detail::StringMap<uint64_t> word_counts;
  BpeTrainStats stats;
  detail::Pieces pieces;
  std::vector<detail::Segment> segments;

  void count_run(std::string_view text) {
    pieces.items.assign(1, text);
    pieces.storage.clear();
    pieces.segment_at_start = true;
    pre_tokenizer->apply(pieces);
    stats.words += pieces.items.size();
    for (std::string_view word : pieces.items) {
      auto it = word_counts.find(word);
      if (it != word_counts.end())
        ++it->second;
      else
        word_counts.emplace(std::string(word), 1);
    }
  }

  void report(BpeTrainProgress::Stage stage, uint64_t done, uint64_t total) const {
    if (options.progress) options.progress({stage, done, total});
  }

  void add_text(std::string_view text) {
    const auto start = Clock::now();
    segments.clear();
    if (specials)
      specials->split(text, segments);
    else
      segments.push_back({text, -1});
    uint64_t reported = 0;
    for (const detail::Segment& seg : segments) {
      if (seg.id >= 0) continue;
      // Long runs go in pieces, which bounds the word list and lets progress show.
      std::string_view rest = seg.text;
      while (!rest.empty()) {
        size_t cut = rest.size();
        if (rest.size() > 2 * kChunkBytes) {
          cut = kChunkBytes;
          while (cut < rest.size() && !safe_cut(rest, cut)) ++cut;
        }
        count_run(rest.substr(0, cut));
        rest.remove_prefix(cut);
        const uint64_t done = uint64_t(rest.data() - text.data());
        if (done - reported >= kChunkBytes) {
          report(BpeTrainProgress::Stage::Counting, done, text.size());
          reported = done;
        }
      }
    }
    report(BpeTrainProgress::Stage::Counting, text.size(), text.size());
    stats.input_bytes += text.size();
    stats.unique_words = word_counts.size();
    stats.count_seconds += seconds_since(start);
  }
};

BpeTrainer::BpeTrainer(BpeTrainerOptions options) : impl_(std::make_unique<Impl>()) {
  const auto& specials = options.special_tokens;
  const long long needed = 256 + (long long)specials.size();
  if (options.vocab_size < needed) {
    fail("vocab size " + std::to_string(options.vocab_size) + " is too small: the 256 byte tokens and " +
         std::to_string(specials.size()) + " special token(s) need at least " + std::to_string(needed));
  }
  if (options.vocab_size > kMaxVocab)
    fail("vocab size " + std::to_string(options.vocab_size) + " is above the limit of " + std::to_string(kMaxVocab));
  std::vector<detail::AddedToken> added;
  for (size_t i = 0; i < specials.size(); ++i) {
    const std::string& s = specials[i];
    if (s.empty()) fail("special token " + std::to_string(i) + " is empty");
    if (!detail::utf8_is_valid(s)) fail("special token " + std::to_string(i) + " is not valid UTF-8");
    for (size_t j = 0; j < i; ++j)
      if (specials[j] == s) fail("special token '" + s + "' is given twice");
    // A single character of the byte alphabet is the vocabulary's spelling of a byte token.
    char32_t cp;
    if (detail::utf8_decode(s, 0, cp) == s.size() && detail::unicode_to_byte(cp) >= 0)
      fail("special token '" + s + "' is the spelling of a byte token");
    detail::AddedToken t;
    t.id = int(i);
    t.content = s;
    t.special = true;
    added.push_back(std::move(t));
  }
  for (std::string* role : {&options.bos_token, &options.eos_token}) {
    if (role->empty()) {
      if (!specials.empty()) *role = specials.front();
    } else if (std::find(specials.begin(), specials.end(), *role) == specials.end()) {
      fail("'" + *role + "' is not one of the special tokens (--special)");
    }
  }
  detail::JsonContext ctx{"<bpe_trainer>"};
  impl_->pre_tokenizer = detail::make_pre_tokenizer(json::parse(pre_tokenizer_spec().dump()), "pre_tokenizer", ctx);
  if (!added.empty()) impl_->specials = std::make_unique<detail::AddedTokenMatcher>(added, false);
  impl_->options = std::move(options);
}

BpeTrainer::~BpeTrainer() = default;
BpeTrainer::BpeTrainer(BpeTrainer&&) noexcept = default;
BpeTrainer& BpeTrainer::operator=(BpeTrainer&&) noexcept = default;

void BpeTrainer::add_text(std::string_view text) { impl_->add_text(text); }

void BpeTrainer::add_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(path + ": no such file");
  if (fs::is_directory(st)) fail(path + ": is a directory, not a text file");
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) fail(path + ": cannot read its size: " + ec.message());
  if (size == 0) fail(path + ": the file is empty");
  io::Mapping map(kOp, path);
  impl_->add_text(std::string_view(map.data(), size_t(map.size())));
}

TrainedBpe BpeTrainer::train() const {
  const Impl& im = *impl_;
  if (im.word_counts.empty())
    fail("no text to train on (the data is empty or holds only special tokens)");
  const auto start = Clock::now();
  const auto& specials = im.options.special_tokens;
  const int num_special = int(specials.size());

  Merger merger(im.word_counts, specials, im.options.min_frequency);
  merger.run(size_t(im.options.vocab_size - num_special), [&](uint64_t done, uint64_t total) {
    im.report(BpeTrainProgress::Stage::Merging, done, total);
  });

  // Internal ids: bytes 0-255, then merged tokens. Written ids: the special tokens, the bytes in
  // the order of their printable characters, then the merged tokens.
  const auto& table = detail::byte_to_unicode();
  std::array<int, 256> byte_order;
  for (int b = 0; b < 256; ++b) byte_order[b] = b;
  std::sort(byte_order.begin(), byte_order.end(), [&](int x, int y) { return table[x] < table[y]; });
  std::array<int, 256> byte_rank;
  for (int r = 0; r < 256; ++r) byte_rank[byte_order[r]] = r;
  auto final_id = [&](int32_t internal) {
    return num_special + (internal < 256 ? byte_rank[internal] : internal);
  };

  TrainedBpe out;
  out.num_special = num_special;
  out.bos_token = im.options.bos_token;
  out.eos_token = im.options.eos_token;
  const auto& tokens = merger.tokens();
  out.tokens.reserve(size_t(num_special) + tokens.size());
  for (const std::string& s : specials) out.tokens.push_back(s);
  for (int r = 0; r < 256; ++r) out.tokens.push_back(tokens[byte_order[r]]);
  for (size_t i = 256; i < tokens.size(); ++i) out.tokens.push_back(tokens[i]);
  out.merges.reserve(merger.merges().size());
  for (auto [a, b] : merger.merges()) out.merges.emplace_back(final_id(a), final_id(b));

  out.stats = im.stats;
  out.stats.merge_seconds = seconds_since(start);
  return out;
}

TrainedBpe train_bpe(const std::vector<std::string>& files, const BpeTrainerOptions& options) {
  if (files.empty()) fail("no data files given");
  BpeTrainer trainer(options);
  for (const std::string& f : files) trainer.add_file(f);
  return trainer.train();
}

std::string TrainedBpe::tokenizer_json() const {
  auto spelling = [&](size_t id) { return int(id) < num_special ? tokens[id] : printable(tokens[id]); };
  ordered_json added = ordered_json::array();
  for (int i = 0; i < num_special; ++i) {
    added.push_back({{"id", i},
                     {"content", tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  ordered_json vocab = ordered_json::object();
  {
    // ordered_json's object is a vector of pairs whose operator[] searches the keys linearly
    // (quadratic for a 32k vocabulary); the spellings are distinct, so append to the vector.
    using Object = ordered_json::object_t;
    std::vector<Object::value_type, Object::allocator_type>& items = vocab.get_ref<Object&>();
    items.reserve(tokens.size());
    for (size_t id = 0; id < tokens.size(); ++id) items.emplace_back(spelling(id), id);
  }
  ordered_json merge_list = ordered_json::array();
  for (auto [a, b] : merges) merge_list.push_back(spelling(a) + " " + spelling(b));

  ordered_json model = {{"type", "BPE"},
                        {"dropout", nullptr},
                        {"unk_token", nullptr},
                        {"continuing_subword_prefix", nullptr},
                        {"end_of_word_suffix", nullptr},
                        {"fuse_unk", false},
                        {"byte_fallback", false},
                        {"ignore_merges", false}};
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merge_list);
  ordered_json j = ordered_json::object();
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = std::move(added);
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = pre_tokenizer_spec();
  j["post_processor"] = byte_level(true, false);
  j["decoder"] = byte_level(true, true);
  j["model"] = std::move(model);
  return j.dump(2) + "\n";
}

std::string TrainedBpe::tokenizer_config_json() const {
  ordered_json decoder = ordered_json::object();
  for (int i = 0; i < num_special; ++i) {
    decoder[std::to_string(i)] = {{"content", tokens[i]},   {"lstrip", false}, {"normalized", false},
                                  {"rstrip", false},        {"single_word", false}, {"special", true}};
  }
  ordered_json j = ordered_json::object();
  j["tokenizer_class"] = "PreTrainedTokenizerFast";
  j["add_prefix_space"] = false;
  // Decoding gives back the exact text; transformers' clean-up would remove spaces before punctuation.
  j["clean_up_tokenization_spaces"] = false;
  if (!bos_token.empty()) j["bos_token"] = bos_token;
  if (!eos_token.empty()) j["eos_token"] = eos_token;
  j["added_tokens_decoder"] = std::move(decoder);
  return j.dump(2) + "\n";
}

void TrainedBpe::save(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(std::string("[") + kOp + "] " + dir + ": cannot create the directory: " + ec.message());
  auto write = [&](const std::string& name, const std::string& text) {
    io::write_file_atomic(kOp, (std::filesystem::path(dir) / name).string(),
                          [&](io::FileWriter& w) { w.write(text.data(), text.size()); });
  };
  write("tokenizer.json", tokenizer_json());
  write("tokenizer_config.json", tokenizer_config_json());
}

}  // namespace tessera::lm
