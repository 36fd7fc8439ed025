#include "tessera/lm/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tessera/lm/model.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

std::vector<int> full_attention(int num_layers) {
  if (num_layers <= 0) throw std::invalid_argument("[KVCache] num_layers must be positive");
  return std::vector<int>(size_t(num_layers), 0);
}

std::string layer_tag(int i) { return "[KVCache] layer " + std::to_string(i) + ": "; }

// Positions [from, to) of a [B, H, n, D] array along axis 2.
array positions(const array& a, int from, int to) {
  return slice(a, Shape{0, 0, from, 0}, Shape{a.shape(0), a.shape(1), to, a.shape(3)});
}

}  // namespace

KVCache::KVCache(int num_layers, int step, int max_size)
    : KVCache(full_attention(num_layers), KVCacheOptions{step, max_size}) {}

KVCache::KVCache(std::vector<int> windows, const KVCacheOptions& o) : opt_(o) {
  if (windows.empty()) throw std::invalid_argument("[KVCache] num_layers must be positive");
  if (o.step <= 0 || o.max_size < 0) throw std::invalid_argument("[KVCache] step must be positive and max_size >= 0");
  const bool rotate = o.rotate && o.max_size > 0;
  if (rotate && (o.keep < 0 || o.keep >= o.max_size)) {
    throw std::invalid_argument("[KVCache] a rotating cache keeps 0 to max_size - 1 leading positions; got keep " +
                                std::to_string(o.keep) + " with max_size " + std::to_string(o.max_size));
  }
  if (o.bits != 0) {
    if (o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 5 && o.bits != 6 && o.bits != 8) {
      throw std::invalid_argument("[KVCache] kv_bits must be 2, 3, 4, 5, 6 or 8 (or 0: unquantized), got " +
                                  std::to_string(o.bits));
    }
    if (o.group_size != 32 && o.group_size != 64 && o.group_size != 128) {
      throw std::invalid_argument("[KVCache] kv_group_size must be 32, 64 or 128, got " + std::to_string(o.group_size));
    }
    if (o.quantized_start < 0) throw std::invalid_argument("[KVCache] quantized_kv_start must be >= 0");
  }
  for (size_t i = 0; i < windows.size(); ++i) {
    const int w = windows[i];
    if (w < 0) throw std::invalid_argument(layer_tag(int(i)) + "negative sliding window " + std::to_string(w));
    Layer l;
    l.window = w;
    if (w > 0) {
      // A window of w positions is all a sliding layer ever reads; a smaller rotating max_size
      // bounds it further (then it sees less than its window, as mlx-lm's rotating cache does).
      l.rotates = true;
      l.limit = rotate && o.max_size < w ? o.max_size : w;
    } else if (rotate) {
      l.rotates = true;
      l.limit = o.max_size;
      l.keep = o.keep;
    } else {
      l.limit = o.max_size;
    }
    layers_.push_back(std::move(l));
  }
}

int KVCache::capacity() const {
  int c = 0;
  for (auto& l : layers_) {
    if (!l.buf.empty()) c = std::max(c, l.buf[0].shape(2));
  }
  return c;
}

int KVCache::batch_size() const {
  for (auto& l : layers_) {
    if (!l.buf.empty()) return l.buf[0].shape(0);
  }
  return 0;
}

int KVCache::layer_limit(int layer) const { return layers_.at(size_t(layer)).limit; }
bool KVCache::layer_rotates(int layer) const { return layers_.at(size_t(layer)).rotates; }
bool KVCache::layer_quantized(int layer) const { return layers_.at(size_t(layer)).quantized; }
int KVCache::layer_window(int layer) const { return layers_.at(size_t(layer)).window; }

int KVCache::slot(const Layer& l, int p) const {
  // Identity until the ring first fills, so a layer that never wrapped is in position order.
  if (!l.rotates || p < l.keep) return p;
  return l.keep + (p - l.keep) % (l.limit - l.keep);
}

int KVCache::held(const Layer& l) const { return l.rotates ? std::min(l.offset, l.limit) : l.offset; }

std::vector<array> KVCache::pack(const Layer& l, const array& k, const array& v) const {
  auto kq = quantize(astype(k, l.dtype), opt_.group_size, opt_.bits);
  auto vq = quantize(astype(v, l.dtype), opt_.group_size, opt_.bits);
  return {kq[0], kq[1], kq[2], vq[0], vq[1], vq[2]};
}

void KVCache::grow(Layer& l, int need, int B, int H, int Dk, int Dv) {
  const int cap = l.buf.empty() ? 0 : l.buf[0].shape(2);
  if (need <= cap) return;
  // Whole steps, so the positions written next already have room.
  int new_cap = (need + opt_.step - 1) / opt_.step * opt_.step;
  if (l.limit > 0) new_cap = std::min(new_cap, l.limit);
  std::vector<std::pair<int, Dtype>> lasts;  // last axis and dtype of each buffer
  if (l.quantized) {
    for (int D : {Dk, Dv}) {
      lasts.emplace_back(D * opt_.bits / 32, uint32);
      lasts.emplace_back(D / opt_.group_size, l.dtype);
      lasts.emplace_back(D / opt_.group_size, l.dtype);
    }
  } else {
    lasts = {{Dk, l.dtype}, {Dv, l.dtype}};
  }
  const int keep = std::min(held(l), cap);
  std::vector<array> grown;
  for (size_t i = 0; i < lasts.size(); ++i) {
    array z = zeros({B, H, new_cap, lasts[i].first}, lasts[i].second);
    if (keep > 0) {
      z = slice_update(z, positions(l.buf[i], 0, keep), Shape{0, 0, 0, 0}, Shape{B, H, keep, lasts[i].first});
    }
    grown.push_back(z);
  }
  l.buf = std::move(grown);
}

void KVCache::write(Layer& l, const std::vector<array>& parts, int at) {
  for (size_t i = 0; i < parts.size(); ++i) {
    const array& p = parts[i];
    l.buf[i] = slice_update(l.buf[i], p, Shape{0, 0, at, 0}, Shape{p.shape(0), p.shape(1), at + p.shape(2), p.shape(3)});
  }
}

void KVCache::quantize_layer(Layer& l) {
  if (l.buf.empty()) return;
  l.buf = pack(l, l.buf[0], l.buf[1]);
  l.quantized = true;
}

KVView KVCache::view(const Layer& l, int n) const {
  if (!l.quantized) return KVView{positions(l.buf[0], 0, n), positions(l.buf[1], 0, n)};
  KVView r{positions(l.buf[0], 0, n), positions(l.buf[3], 0, n)};
  r.key_scales = positions(l.buf[1], 0, n);
  r.key_biases = positions(l.buf[2], 0, n);
  r.value_scales = positions(l.buf[4], 0, n);
  r.value_biases = positions(l.buf[5], 0, n);
  r.bits = opt_.bits;
  r.group_size = opt_.group_size;
  return r;
}

array KVCache::ring_positions(const array& buf, const Layer& l, int from, int to) const {
  // Positions past `keep` follow each other around the ring: at most two runs of slots.
  std::vector<array> runs;
  for (int p = from; p < to;) {
    const int s = slot(l, p), run = std::min(to - p, l.limit - s);
    runs.push_back(positions(buf, s, s + run));
    p += run;
  }
  return runs.size() == 1 ? runs[0] : concatenate(runs, 2);
}

KVView KVCache::update(int layer, const array& k, const array& v) {
  if (layer < 0 || layer >= int(layers_.size())) {
    throw std::out_of_range("[KVCache] layer " + std::to_string(layer) + " of " + std::to_string(layers_.size()));
  }
  if (k.ndim() != 4 || v.ndim() != 4 || k.shape(0) != v.shape(0) || k.shape(1) != v.shape(1) ||
      k.shape(2) != v.shape(2) || k.shape(2) == 0) {
    throw std::invalid_argument(
        "[KVCache] keys and values must be [B, kv_heads, L, head_dim] with matching B, heads and L >= 1");
  }
  Layer& l = layers_[size_t(layer)];
  const int B = k.shape(0), H = k.shape(1), L = k.shape(2), Dk = k.shape(3), Dv = v.shape(3);
  const int off = l.offset;
  if (opt_.max_size > 0 && !opt_.rotate && off + L > opt_.max_size) {
    throw std::length_error("[KVCache] the context is full: " + std::to_string(off) + " tokens cached + " +
                            std::to_string(L) + " new exceed the cache size of " + std::to_string(opt_.max_size));
  }
  if (!l.buf.empty()) {
    const array& kb = l.buf[0];
    const array& vb = l.buf[l.quantized ? 3 : 1];
    const int held_dk = l.quantized ? kb.shape(3) * 32 / opt_.bits : kb.shape(3);
    const int held_dv = l.quantized ? vb.shape(3) * 32 / opt_.bits : vb.shape(3);
    if (kb.shape(0) != B || kb.shape(1) != H || held_dk != Dk || held_dv != Dv) {
      throw std::invalid_argument(layer_tag(layer) + "holds keys [" + std::to_string(kb.shape(0)) + ", " +
                                  std::to_string(kb.shape(1)) + ", _, " + std::to_string(held_dk) +
                                  "] (batch, kv heads, head_dim), got keys [" + std::to_string(B) + ", " +
                                  std::to_string(H) + ", _, " + std::to_string(Dk) + "]");
    }
  } else {
    l.dtype = k.dtype();
  }
  if (!l.rotates && opt_.bits > 0 && (Dk % opt_.group_size != 0 || Dv % opt_.group_size != 0)) {
    throw std::invalid_argument(layer_tag(layer) + "kv_group_size " + std::to_string(opt_.group_size) +
                                " does not divide the head size (keys " + std::to_string(Dk) + ", values " +
                                std::to_string(Dv) + "); quantize the cache with a group that does");
  }

  KVView out = static_position_ && L == 1 ? update_static(l, k, v)
               : l.rotates                ? update_rotating(l, k, v)
                                          : update_full(l, k, v);
  if (layer == int(layers_.size()) - 1) offset_ = l.offset;
  return out;
}

KVView KVCache::update_full(Layer& l, const array& k, const array& v) {
  const int off = l.offset, L = k.shape(2);
  // mlx-lm's quantized_kv_start: the cache turns quantized once it holds more than that many
  // positions (a short prompt runs at full precision).
  if (opt_.bits > 0 && !l.quantized && off > opt_.quantized_start) quantize_layer(l);
  grow(l, off + L, k.shape(0), k.shape(1), k.shape(3), v.shape(3));
  if (l.quantized) {
    write(l, pack(l, k, v), off);
  } else {
    write(l, {astype(k, l.dtype), astype(v, l.dtype)}, off);
  }
  l.offset = off + L;
  return view(l, off + L);
}

KVView KVCache::update_rotating(Layer& l, const array& k, const array& v) {
  const int C = l.limit, K = l.keep, off = l.offset, L = k.shape(2);
  const int B = k.shape(0), H = k.shape(1);
  array kd = astype(k, l.dtype), vd = astype(v, l.dtype);
  if (off + L <= C) {
    // The ring has not filled: positions sit at their own slots, in order.
    grow(l, off + L, B, H, k.shape(3), v.shape(3));
    write(l, {kd, vd}, off);
    l.offset = off + L;
    KVView r = view(l, off + L);
    r.sinks = std::min(K, off + L);
    r.first = r.sinks;
    r.window = C - K;
    return r;
  }
  if (L == 1) {
    // One query over a full ring: after the write the ring holds exactly what it sees.
    write(l, {kd, vd}, slot(l, off));
    l.offset = off + 1;
    KVView r = view(l, C);
    r.ordered = false;
    r.window = C - K;
    return r;
  }
  // A chunk past the ring's end. Its queries see the leading `keep` positions and, behind the
  // earliest query, the last C - K - 1 positions before the chunk: those are read out in order
  // and put before the chunk's own keys (memory: the ring plus one chunk). Then the positions
  // the ring keeps are written.
  grow(l, C, B, H, k.shape(3), v.shape(3));
  const int sinks = std::min(K, off), from = std::max(K, off - (C - K) + 1);
  std::vector<array> ks, vs;
  if (sinks > 0) {
    ks.push_back(positions(l.buf[0], 0, sinks));
    vs.push_back(positions(l.buf[1], 0, sinks));
  }
  if (from < off) {
    ks.push_back(ring_positions(l.buf[0], l, from, off));
    vs.push_back(ring_positions(l.buf[1], l, from, off));
  }
  ks.push_back(kd);
  vs.push_back(vd);
  KVView r{ks.size() == 1 ? kd : concatenate(ks, 2), vs.size() == 1 ? vd : concatenate(vs, 2)};
  if (off < K) {
    // Nothing dropped yet (from > off): the keys are positions [0, end), the first K of them sinks.
    r.sinks = std::min(K, off + L);
    r.first = r.sinks;
  } else {
    r.sinks = K;
    r.first = from < off ? from : off;
  }
  r.window = C - K;

  const int end = off + L;
  if (off < K) write(l, {positions(kd, 0, K - off), positions(vd, 0, K - off)}, off);
  for (int p = std::max({K, off, end - (C - K)}); p < end;) {
    const int s = slot(l, p), run = std::min(end - p, C - s);
    write(l, {positions(kd, p - off, p - off + run), positions(vd, p - off, p - off + run)}, s);
    p += run;
  }
  l.offset = end;
  return r;
}

KVView KVCache::update_static(Layer& l, const array& k, const array& v) {
  if (l.rotates || l.quantized || opt_.bits > 0 || l.buf.size() != 2 || l.buf[0].shape(2) <= l.offset) {
    throw std::logic_error("[KVCache] a static step needs full, dense layers with room for the position (reserve)");
  }
  const std::vector<int> axis{2};
  l.buf[0] = scatter(l.buf[0], {*static_position_}, astype(k, l.dtype), axis);
  l.buf[1] = scatter(l.buf[1], {*static_position_}, astype(v, l.dtype), axis);
  l.offset += 1;
  const int cap = l.buf[0].shape(2);
  if (!static_visible_ || static_visible_->shape(0) != cap) {
    static_visible_ = less_equal(arange(0, cap, int32), *static_position_);
  }
  KVView r{l.buf[0], l.buf[1]};
  r.visible = static_visible_;
  return r;
}

bool KVCache::supports_static_steps() const {
  if (opt_.bits > 0) return false;
  for (auto& l : layers_) {
    if (l.rotates || l.quantized || l.buf.size() != 2 || l.offset == 0) return false;
  }
  return true;
}

void KVCache::reserve(int positions) {
  for (auto& l : layers_) {
    if (l.buf.empty()) continue;
    if (l.quantized) {
      throw std::invalid_argument("[KVCache] reserve: quantized layers grow as they are written");
    }
    const array &k = l.buf[0], &v = l.buf[1];
    if (l.limit > 0 && positions > l.limit) {
      throw std::length_error("[KVCache] reserve: " + std::to_string(positions) + " positions exceed the cache size of " +
                              std::to_string(l.limit));
    }
    grow(l, positions, k.shape(0), k.shape(1), k.shape(3), v.shape(3));
  }
}

void KVCache::begin_static_step(const array& position) {
  if (position.ndim() != 0 || position.dtype() != int32) {
    throw std::invalid_argument("[KVCache] begin_static_step: the position must be an int32 scalar");
  }
  static_position_ = position;
  static_visible_.reset();
}

void KVCache::end_static_step() {
  static_position_.reset();
  static_visible_.reset();
}

std::vector<array> KVCache::take_buffers() {
  if (!supports_static_steps()) throw std::logic_error("[KVCache] take_buffers: the layout has no static steps");
  std::vector<array> out;
  for (auto& l : layers_) {
    for (auto& b : l.buf) out.push_back(std::move(b));
    l.buf.clear();
  }
  return out;
}

void KVCache::set_buffers(std::vector<array> buffers, int positions) {
  if (buffers.size() != 2 * layers_.size() || positions < 0) {
    throw std::invalid_argument("[KVCache] set_buffers: expected keys and values for " + std::to_string(layers_.size()) +
                                " layers, got " + std::to_string(buffers.size()) + " arrays");
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    const array &k = buffers[2 * i], &v = buffers[2 * i + 1];
    if (k.ndim() != 4 || v.ndim() != 4 || k.shape(2) != v.shape(2) || k.shape(2) < layers_[i].offset + positions) {
      throw std::invalid_argument(layer_tag(int(i)) + "set_buffers: keys and values must be [B, H, capacity, D] with room for " +
                                  std::to_string(layers_[i].offset + positions) + " positions");
    }
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = layers_[i];
    l.buf = {std::move(buffers[2 * i]), std::move(buffers[2 * i + 1])};
    l.offset += positions;
  }
  offset_ += positions;
}

std::vector<array> KVCache::state() const {
  std::vector<array> s;
  for (auto& l : layers_) {
    for (auto& a : l.buf) s.push_back(a);
  }
  return s;
}

size_t KVCache::nbytes() const {
  size_t n = 0;
  for (auto& l : layers_) {
    for (auto& a : l.buf) n += a.nbytes();
  }
  return n;
}

void KVCache::trim(int n) {
  if (n < 0 || n > offset_) throw std::invalid_argument("[KVCache] cannot trim " + std::to_string(n) + " tokens");
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    // A ring that wrapped holds the last `limit` positions: after giving back one, the next
    // query's window is still there (its own slot is rewritten); giving back more would leave
    // the window short and stale positions in the ring.
    if (n > 1 && l.rotates && l.offset > l.limit) {
      throw std::invalid_argument(layer_tag(int(i)) + "its ring of " + std::to_string(l.limit) +
                                  " positions has overwritten older ones; it can give back one position, not " +
                                  std::to_string(n));
    }
  }
  for (auto& l : layers_) l.offset -= n;
  offset_ -= n;
}

void KVCache::reset() {
  for (auto& l : layers_) {
    l.buf.clear();
    l.offset = 0;
    l.quantized = false;
  }
  offset_ = 0;
}

KVCache::LayerState KVCache::layer_state(int layer) const {
  const Layer& l = layers_.at(size_t(layer));
  LayerState s;
  s.quantized = l.quantized;
  const int n = held(l);
  for (auto& a : l.buf) s.arrays.push_back(positions(a, 0, n));
  return s;
}

void KVCache::restore(int layer, const LayerState& s, int offset) {
  if (layer < 0 || layer >= int(layers_.size())) {
    throw std::out_of_range("[KVCache] layer " + std::to_string(layer) + " of " + std::to_string(layers_.size()));
  }
  Layer& l = layers_[size_t(layer)];
  if (offset < 0 || (layer > 0 && offset != layers_[0].offset)) {
    throw std::invalid_argument(layer_tag(layer) + "restored at offset " + std::to_string(offset) +
                                ", the other layers at " + std::to_string(layers_[0].offset));
  }
  if (s.quantized && (l.rotates || opt_.bits == 0)) {
    throw std::invalid_argument(layer_tag(layer) + (l.rotates ? "a rotating layer is never quantized"
                                                               : "packed keys and values in a cache without kv_bits"));
  }
  const size_t want = s.quantized ? 6 : 2;
  if (s.arrays.size() != want) {
    throw std::invalid_argument(layer_tag(layer) + "expected " + std::to_string(want) + " arrays, got " +
                                std::to_string(s.arrays.size()));
  }
  Layer probe = l;
  probe.offset = offset;
  const int n = held(probe);
  const array& k0 = s.arrays[0];
  for (size_t i = 0; i < want; ++i) {
    const array& a = s.arrays[i];
    if (a.ndim() != 4 || a.shape(0) != k0.shape(0) || a.shape(1) != k0.shape(1) || a.shape(2) != n ||
        a.shape(0) == 0 || a.shape(1) == 0 || a.shape(3) == 0) {
      throw std::invalid_argument(layer_tag(layer) + "array " + std::to_string(i) + " must be [B, kv_heads, " +
                                  std::to_string(n) + ", _] (no empty axis) for " + std::to_string(offset) +
                                  " positions");
    }
  }
  if (s.quantized) {
    for (size_t i : {0, 3}) {
      const array &w = s.arrays[i], &sc = s.arrays[i + 1], &bi = s.arrays[i + 2];
      if (w.dtype() != uint32 || sc.dtype() != bi.dtype() || sc.shape() != bi.shape() ||
          int64_t(w.shape(3)) * 32 != int64_t(sc.shape(3)) * opt_.group_size * opt_.bits) {
        throw std::invalid_argument(layer_tag(layer) + "packed " + (i == 0 ? "keys" : "values") + " do not match " +
                                    std::to_string(opt_.bits) + "-bit groups of " + std::to_string(opt_.group_size));
      }
    }
  } else if (s.arrays[0].dtype() != s.arrays[1].dtype() || !issubdtype(s.arrays[0].dtype(), floating)) {
    throw std::invalid_argument(layer_tag(layer) + "keys and values must share one floating dtype");
  }
  l.offset = offset;
  l.quantized = s.quantized;
  l.dtype = s.quantized ? s.arrays[1].dtype() : s.arrays[0].dtype();
  l.buf.clear();
  if (layer == int(layers_.size()) - 1) offset_ = offset;
  if (n == 0) return;
  // Copied into buffers of their own (exactly what was given: a file cannot ask for more memory
  // than it holds), so later positions are never written into the loaded file's mapping. The
  // next update grows a full layer by a step.
  for (auto& a : s.arrays) l.buf.push_back(copy(a));
  eval(l.buf);
}

// ------------------------------------------------------------------ Model::make_cache

KVCache Model::make_cache(const KVCacheOptions& options) const {
  const ModelConfig& c = config();
  std::vector<int> windows(size_t(std::max(c.num_layers, 0)), 0);
  for (size_t i = 0; i < windows.size(); ++i) {
    if (c.sliding_window > 0 && i < c.sliding_layers.size() && c.sliding_layers[i]) windows[i] = c.sliding_window;
  }
  return KVCache(std::move(windows), options);
}

KVCache Model::make_cache(int max_size) const {
  KVCacheOptions o;
  o.max_size = max_size;
  return make_cache(o);
}

}  // namespace tessera::lm
