#include "tessera/lm/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tessera/ops.h"

namespace tessera::lm {

KVCache::KVCache(int num_layers, int step, int max_size) : layers_(num_layers), step_(step), max_size_(max_size) {
  if (num_layers <= 0 || step <= 0 || max_size < 0) {
    throw std::invalid_argument("[KVCache] num_layers and step must be positive and max_size >= 0");
  }
}

int KVCache::capacity() const {
  if (layers_.empty() || layers_[0].kv.empty()) return 0;
  return layers_[0].kv[0].shape(2);
}

std::pair<array, array> KVCache::update(int layer, const array& k, const array& v) {
  if (layer < 0 || layer >= int(layers_.size())) {
    throw std::out_of_range("[KVCache] layer " + std::to_string(layer) + " of " + std::to_string(layers_.size()));
  }
  if (k.ndim() != 4 || v.ndim() != 4 || k.shape(0) != v.shape(0) || k.shape(1) != v.shape(1) ||
      k.shape(2) != v.shape(2)) {
    throw std::invalid_argument("[KVCache] keys and values must be [B, kv_heads, L, head_dim] with matching B, heads, L");
  }
  Layer& c = layers_[layer];
  const int B = k.shape(0), H = k.shape(1), L = k.shape(2);
  const int off = c.offset, need = off + L;
  if (max_size_ > 0 && need > max_size_) {
    throw std::length_error("[KVCache] the context is full: " + std::to_string(off) + " tokens cached + " +
                            std::to_string(L) + " new exceed the cache size of " + std::to_string(max_size_));
  }
  int cap = c.kv.empty() ? 0 : c.kv[0].shape(2);
  if (!c.kv.empty() && (c.kv[0].shape(0) != B || c.kv[0].shape(1) != H)) {
    throw std::invalid_argument("[KVCache] batch or head count changed between updates");
  }
  if (need > cap) {
    // Grow by whole steps; the new room is filled once here, so decode steps never reallocate.
    int new_cap = (need + step_ - 1) / step_ * step_;
    if (max_size_ > 0) new_cap = std::min(new_cap, max_size_);
    const array* src[2] = {&k, &v};
    std::vector<array> grown;
    for (int i = 0; i < 2; ++i) {
      Shape shape = {B, H, new_cap, src[i]->shape(3)};
      array z = zeros(shape, src[i]->dtype());
      if (off > 0) {
        array kept = slice(c.kv[i], Shape{0, 0, 0, 0}, Shape{B, H, off, shape[3]});
        z = slice_update(z, kept, Shape{0, 0, 0, 0}, Shape{B, H, off, shape[3]});
      }
      grown.push_back(z);
    }
    c.kv = std::move(grown);
  }
  array* dst[2] = {&c.kv[0], &c.kv[1]};
  const array* src[2] = {&k, &v};
  std::pair<array, array> out{k, v};
  array* res[2] = {&out.first, &out.second};
  for (int i = 0; i < 2; ++i) {
    int D = dst[i]->shape(3);
    *dst[i] = slice_update(*dst[i], astype(*src[i], dst[i]->dtype()), Shape{0, 0, off, 0}, Shape{B, H, need, D});
    *res[i] = slice(*dst[i], Shape{0, 0, 0, 0}, Shape{B, H, need, D});
  }
  c.offset = need;
  if (layer == int(layers_.size()) - 1) offset_ = need;
  return out;
}

std::vector<array> KVCache::state() const {
  std::vector<array> s;
  for (auto& l : layers_) {
    for (auto& a : l.kv) s.push_back(a);
  }
  return s;
}

void KVCache::trim(int n) {
  if (n < 0 || n > offset_) throw std::invalid_argument("[KVCache] cannot trim " + std::to_string(n) + " tokens");
  for (auto& l : layers_) l.offset -= n;
  offset_ -= n;
}

void KVCache::reset() {
  for (auto& l : layers_) {
    l.kv.clear();
    l.offset = 0;
  }
  offset_ = 0;
}

}  // namespace tessera::lm
