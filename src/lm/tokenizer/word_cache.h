// Word -> token ids cache of the BPE model. Natural text repeats a small set of words, so most
// words are a lookup here instead of a merge loop. The lookup is memory-bound (tens of thousands
// of distinct words do not fit in L2), so each slot is one 64-byte line holding the hash, short
// keys and short id lists inline: a hit on a typical word touches a single cache line. Longer
// keys and id lists live in two arenas. When full the cache starts over empty (no eviction
// bookkeeping on the hot path). A mutex lets one tokenizer serve several threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm::detail {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;  // longer words are rare; they would only churn it

  // Appends the cached ids of word to out; false when word is not cached.
  bool lookup(std::string_view word, std::vector<int>& out) const;
  void insert(std::string_view word, std::span<const int> ids);

 private:
  static constexpr size_t kInlineKey = 24, kInlineIds = 5;
  struct alignas(64) Slot {
    uint64_t hash;
    uint32_t key_offset, ids_offset;  // into the arenas when not inline
    uint16_t key_length;
    uint8_t ids_length;
    uint8_t used;
    char key[kInlineKey];
    int ids[kInlineIds];
  };
  static_assert(sizeof(Slot) == 64);

  static uint64_t hash(std::string_view s);
  const char* key_of(const Slot& s) const { return s.key_length <= kInlineKey ? s.key : keys_.data() + s.key_offset; }
  const int* ids_of(const Slot& s) const { return s.ids_length <= kInlineIds ? s.ids : ids_.data() + s.ids_offset; }
  size_t find(std::string_view word, uint64_t h) const;  // the slot holding word, or the empty one to use
  void reset(size_t capacity);
  void grow();

  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
  size_t size_ = 0;
  std::string keys_;
  std::vector<int> ids_;
};

}  // namespace tessera::lm::detail
