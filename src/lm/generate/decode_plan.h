// Decoding one token per sequence without rebuilding the step's graph: the graph of a static
// step (KVCache::begin_static_step: the position as data, attention over the whole preallocated
// buffer with the written positions marked visible) is recorded once per cache capacity, batch
// and model variant, and replayed for every token until the cache grows (every
// KVCacheOptions::step positions). Building a small model's step graph costs about as much as
// its kernels, so replay is what makes such models decode fast.
#pragma once

#include <memory>

#include "transforms/replay_plan.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/model.h"

namespace tessera::lm {

class DecodePlan {
 public:
  explicit DecodePlan(const Model& model);

  // Whether step() serves `tokens` (int32 [B, 1]) on `cache`; model.forward otherwise. Off when
  // the environment sets TESSERA_DECODE_REPLAY=0.
  bool supports(const array& tokens, const KVCache& cache) const;
  // What model.forward(tokens, cache, true) returns (logits [B, 1, vocab]), evaluated; the cache
  // advances by one position. If recording or replaying fails the cache is reset (its buffers
  // were handed to the step, or some layers took the position) and the error is rethrown.
  array step(const array& tokens, KVCache& cache);

  // Recordings made so far (one per capacity, batch and variant met).
  int recordings() const { return recordings_; }

 private:
  struct Key {
    int capacity = -1, batch = -1, variant = -1;
    bool operator==(const Key&) const = default;
  };
  const Model& model_;
  bool enabled_;
  Key key_;
  std::unique_ptr<detail::ReplayPlan> plan_;
  int recordings_ = 0;
};

}  // namespace tessera::lm
