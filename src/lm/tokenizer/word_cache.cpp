#include "lm/tokenizer/word_cache.h"

#include <cstring>

namespace tessera::lm::detail {

namespace {

constexpr size_t kMinCapacity = 1 << 12;  // slots; at most half are used
constexpr size_t kMaxCapacity = 1 << 17;  // 8 MiB of slots, ~65k words
constexpr size_t kMaxKeyBytes = 16 << 20;
constexpr size_t kMaxIds = 4 << 20;

uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t mix(uint64_t h) {
  h = (h ^ (h >> 32)) * 0xD6E8FEB86659FD93ull;
  return h ^ (h >> 32);
}

}  // namespace

uint64_t WordCache::hash(std::string_view s) {
  // Fixed-size loads only (overlapping at the ends), so short words cost a few instructions.
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1);
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 < n; i += 8) h = mix(h ^ load64(p + i));
    return mix(h ^ load64(p + n - 8));
  }
  if (n >= 4) return mix(h ^ (uint64_t(load32(p)) << 32 | load32(p + n - 4)));
  if (n > 0) {
    uint64_t v = uint64_t(uint8_t(p[0])) | uint64_t(uint8_t(p[n / 2])) << 8 | uint64_t(uint8_t(p[n - 1])) << 16;
    return mix(h ^ v);
  }
  return mix(h);
}

size_t WordCache::find(std::string_view word, uint64_t h) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.used) return i;
    if (s.hash == h && s.key_length == word.size() && std::memcmp(key_of(s), word.data(), word.size()) == 0) return i;
  }
}

bool WordCache::lookup(std::string_view word, std::vector<int>& out) const {
  if (word.size() > kMaxWordBytes) return false;
  uint64_t h = hash(word);
  std::lock_guard lock(mutex_);
  if (slots_.empty()) return false;
  const Slot& s = slots_[find(word, h)];
  if (!s.used) return false;
  const int* ids = ids_of(s);
  out.insert(out.end(), ids, ids + s.ids_length);
  return true;
}

void WordCache::reset(size_t capacity) {
  slots_.assign(capacity, Slot{});
  size_ = 0;
  keys_.clear();
  ids_.clear();
}

void WordCache::grow() {
  std::vector<Slot> old(2 * slots_.size(), Slot{});
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& o : old) {
    if (!o.used) continue;
    size_t i = o.hash & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = o;
  }
}

void WordCache::insert(std::string_view word, std::span<const int> ids) {
  if (word.size() > kMaxWordBytes || ids.size() > 255) return;
  uint64_t h = hash(word);
  std::lock_guard lock(mutex_);
  if (slots_.empty() || keys_.size() + word.size() > kMaxKeyBytes || ids_.size() + ids.size() > kMaxIds) {
    reset(kMinCapacity);
  } else if (2 * (size_ + 1) > slots_.size()) {
    if (slots_.size() >= kMaxCapacity)
      reset(kMinCapacity);
    else
      grow();
  }
  Slot& s = slots_[find(word, h)];
  if (s.used) return;  // another thread got there first
  s = Slot{};
  s.hash = h;
  s.used = 1;
  s.key_length = uint16_t(word.size());
  s.ids_length = uint8_t(ids.size());
  if (word.size() <= kInlineKey) {
    std::memcpy(s.key, word.data(), word.size());
  } else {
    s.key_offset = uint32_t(keys_.size());
    keys_.append(word);
  }
  if (ids.size() <= kInlineIds) {
    std::memcpy(s.ids, ids.data(), ids.size() * sizeof(int));
  } else {
    s.ids_offset = uint32_t(ids_.size());
    ids_.insert(ids_.end(), ids.begin(), ids.end());
  }
  ++size_;
}

}  // namespace tessera::lm::detail
