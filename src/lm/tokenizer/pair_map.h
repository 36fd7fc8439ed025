// Merge table of a BPE model: (left id, right id) -> (rank, merged id), open addressing with
// linear probing. It is read once per candidate pair in the merge loop, so it avoids
// std::unordered_map's node chasing.
#pragma once

#include <cstdint>
#include <vector>

namespace tessera::lm::detail {

class PairMap {
 public:
  struct Value {
    int rank;
    int id;
  };

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, {0, 0}});
    mask_ = cap - 1;
    size_ = 0;
  }

  // Replaces an existing entry (a later merge of the same pair wins, as in the tokenizers library).
  void insert(int a, int b, Value v) {
    if (slots_.empty() || 2 * (size_ + 1) > slots_.size()) grow();
    uint64_t key = make_key(a, b);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key, v};
        ++size_;
        return;
      }
      if (slots_[i].key == key) {
        slots_[i].value = v;
        return;
      }
    }
  }

  const Value* find(int a, int b) const {
    if (slots_.empty()) return nullptr;
    uint64_t key = make_key(a, b);
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // ids are non-negative, so no key is all ones
  struct Slot {
    uint64_t key;
    Value value;
  };
  static uint64_t make_key(int a, int b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  static size_t hash(uint64_t key) { return size_t((key * 0x9E3779B97F4A7C15ull) >> 20); }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    reserve(old.empty() ? 16 : old.size());
    for (const Slot& s : old)
      if (s.key != kEmpty) insert(int(s.key >> 32), int(uint32_t(s.key)), s.value);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace tessera::lm::detail
