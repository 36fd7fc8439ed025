// Key/value cache for autoregressive attention. Each layer keeps keys and values of shape
// [B, kv_heads, capacity, head_dim]; capacity grows in whole steps (default 256 tokens), so a
// decode step writes one position into room that already exists instead of reallocating.
#pragma once

#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::lm {

class KVCache {
 public:
  // `max_size` (0: unbounded) caps the capacity; update() past it raises std::length_error.
  explicit KVCache(int num_layers, int step = 256, int max_size = 0);

  // Writes k and v ([B, kv_heads, L, head_dim]) after the tokens layer `layer` holds and returns
  // that layer's keys and values so far ([B, kv_heads, offset + L, head_dim], views of the
  // cache). Layers are updated in order; offset() advances when the last layer is updated.
  std::pair<array, array> update(int layer, const array& k, const array& v);

  // Tokens stored (in every layer, between forward passes).
  int offset() const { return offset_; }
  int capacity() const;
  int max_size() const { return max_size_; }
  int num_layers() const { return int(layers_.size()); }
  // The arrays that hold the cache (evaluate them to materialize a prefill chunk).
  std::vector<array> state() const;
  // Drops the last n tokens (they will be overwritten).
  void trim(int n);
  void reset();

 private:
  struct Layer {
    std::vector<array> kv;  // keys, values; empty until the first update
    int offset = 0;
  };
  std::vector<Layer> layers_;
  int step_, max_size_;
  int offset_ = 0;
};

}  // namespace tessera::lm
