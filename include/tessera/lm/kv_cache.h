// Key/value cache for autoregressive attention. Each layer keeps keys and values of shape
// [B, kv_heads, capacity, head_dim] and writes new positions into that buffer in place: capacity
// grows in whole steps (default 256 tokens), so a decode step neither reallocates nor copies the
// tokens already cached.
//
// Three layouts, chosen per layer:
//   - full: every position since the start (full-attention layers);
//   - rotating: a ring of the last `window` positions (sliding-window layers: Mistral, Gemma 2/3,
//     Qwen 2, Phi-3), or of the first `keep` and the last max_size - keep positions when
//     KVCacheOptions::rotate bounds a full-attention layer as mlx-lm's RotatingKVCache does;
//     memory is bounded by the window plus one prefill chunk;
//   - quantized: keys and values packed to 4 or 8 bits in tessera::quantize's affine layout
//     (full-attention layers, once the cache holds more than quantized_start positions).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "tessera/array.h"

namespace tessera::lm {

struct KVCacheOptions {
  int step = 256;  // capacity grows in whole steps of this many positions
  // Positions the cache may hold (0: unbounded). Without `rotate`, an update past it raises
  // std::length_error (generate() then stops with finish_reason "context"). With `rotate`,
  // full-attention layers keep their first `keep` positions and the most recent
  // max_size - keep ones, and generation goes on with bounded memory (mlx-lm's --max-kv-size).
  int max_size = 0;
  bool rotate = false;
  int keep = 4;
  // Quantized keys and values (mlx-lm's kv_bits, kv_group_size, quantized_kv_start): 0 keeps them
  // in the activations' dtype; 4 or 8 packs the full-attention layers' keys and values with one
  // scale and bias per `group_size` features of a head (head_dim must be a multiple), once the
  // cache holds more than `quantized_start` positions. Rotating layers stay unquantized: their
  // memory is already bounded by the window.
  int bits = 0;
  int group_size = 64;
  int quantized_start = 0;
};

// What one layer's attention reads after an update: the keys and values of the positions this
// call's queries may see, and where they sit.
struct KVView {
  // Dense: [B, Hkv, n, D]. Quantized (bits > 0): the packed words [B, Hkv, n, D * bits / 32], with
  // scales and biases [B, Hkv, n, D / group_size] beside them.
  array keys, values;
  std::optional<array> key_scales, key_biases, value_scales, value_biases;
  int bits = 0, group_size = 0;
  // Ordered views list positions in order: keys [0, sinks) are positions [0, sinks), key i >= sinks
  // is position first + i - sinks. An unordered view (one query over a full ring) holds exactly
  // the positions that query sees, in ring order (attention needs no mask for it).
  bool ordered = true;
  int sinks = 0, first = 0;
  // Non-sink keys more than `window` - 1 positions behind a query are hidden from it (0: none);
  // a rotating layer reports the span its ring keeps.
  int window = 0;
  // Static steps (KVCache::begin_static_step): bool [n], the positions written so far; the keys
  // and values are the whole buffer.
  std::optional<array> visible;
  int size() const { return keys.shape(2); }  // n
};

class KVCache {
 public:
  // Every layer full-attention; `max_size` (0: unbounded) caps the positions it may hold, an
  // update past it raising std::length_error.
  explicit KVCache(int num_layers, int step = 256, int max_size = 0);
  // windows[i]: layer i's sliding window (positions a query sees, its own included; 0: full
  // attention). Sliding layers keep a ring of that many positions.
  KVCache(std::vector<int> windows, const KVCacheOptions& options);

  // Writes k and v ([B, kv_heads, L, head_dim]) for the L positions after those layer `layer`
  // holds and returns what that layer's attention reads. Layers are updated in order; offset()
  // advances when the last layer is updated.
  KVView update(int layer, const array& k, const array& v);

  // Positions seen (in every layer, between forward passes): the next token's position.
  int offset() const { return offset_; }
  // The largest buffer capacity of any layer, in positions.
  int capacity() const;
  // Sequences the buffers hold (0 before the first update).
  int batch_size() const;
  int max_size() const { return opt_.max_size; }
  int num_layers() const { return int(layers_.size()); }
  const KVCacheOptions& options() const { return opt_; }
  // Positions layer `layer` keeps at most (0: unbounded) and whether it rotates or is quantized now.
  int layer_limit(int layer) const;
  bool layer_rotates(int layer) const;
  bool layer_quantized(int layer) const;
  int layer_window(int layer) const;
  // The arrays that hold the cache (evaluate them to materialize a prefill chunk).
  std::vector<array> state() const;
  // Bytes the buffers take.
  size_t nbytes() const;
  // Drops the last n positions (they will be overwritten). A rotating layer that already dropped
  // old positions can give back only its last one (n <= 1), else std::invalid_argument.
  void trim(int n);
  void reset();

  // One layer's contents for saving: the first n slots of its buffers, dense keys/values
  // [B, H, n, D] or their packed form. A full layer holds positions [0, n = offset()); a ring
  // holds n = min(offset(), limit) slots, position p at a slot fixed by p, limit and keep.
  struct LayerState {
    std::vector<array> arrays;  // keys, values, or keys words/scales/biases, values words/scales/biases
    bool quantized = false;
  };
  LayerState layer_state(int layer) const;
  // Restores a layer from what layer_state() gave after `offset` positions (copied, checked
  // against the layer's layout); all layers must be restored with the same offset.
  void restore(int layer, const LayerState& state, int offset);

  // ---- Static steps: decoding whose graph does not change from token to token ----
  // (lm/generate/decode_plan.cpp records one step's graph and replays it.)
  // Whether every layer is full (not a ring) and dense (not quantized, and not due to turn
  // quantized), and holds at least one position: the layouts static steps support.
  bool supports_static_steps() const;
  // Grows every layer to hold `positions` positions (in whole steps, as updates grow them).
  void reserve(int positions);
  // While a static step is open, an update of one position per sequence writes it at `position`
  // (int32 [], the cache offset as data rather than as a graph constant) and returns the whole
  // buffers with KVView::visible marking the positions [0, position]: the step's graph then
  // depends on the capacity only. The offset still advances by one per update.
  void begin_static_step(const array& position);
  void end_static_step();
  const std::optional<array>& static_position() const { return static_position_; }
  // Hands over the buffers static steps read and write (keys and values per layer) so that a
  // replayed step can update them in place; set_buffers gives the cache their updated values
  // after the step wrote `positions` more positions. In between the cache holds nothing.
  std::vector<array> take_buffers();
  void set_buffers(std::vector<array> buffers, int positions);

 private:
  struct Layer {
    int window = 0;  // sliding window (0: full attention)
    int limit = 0;   // positions kept at most (0: unbounded)
    int keep = 0;    // leading positions a rotating layer never drops
    bool rotates = false;
    bool quantized = false;
    Dtype dtype = float32;   // of dense keys/values and of packed scales/biases
    std::vector<array> buf;  // keys, values; or keys words, scales, biases, values words, scales, biases
    int offset = 0;          // positions seen
  };
  int slot(const Layer& l, int position) const;
  int held(const Layer& l) const;  // positions the buffer holds
  void grow(Layer& l, int need, int B, int H, int Dk, int Dv);
  void write(Layer& l, const std::vector<array>& parts, int at);
  void quantize_layer(Layer& l);
  std::vector<array> pack(const Layer& l, const array& k, const array& v) const;
  KVView view(const Layer& l, int n) const;
  array ring_positions(const array& buf, const Layer& l, int from, int to) const;
  KVView update_full(Layer& l, const array& k, const array& v);
  KVView update_rotating(Layer& l, const array& k, const array& v);

  KVView update_static(Layer& l, const array& k, const array& v);

  std::vector<Layer> layers_;
  KVCacheOptions opt_;
  int offset_ = 0;
  std::optional<array> static_position_, static_visible_;
};

}  // namespace tessera::lm
