#include "lm/generate/decode_plan.h"

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "lm/models/registry.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

bool replay_enabled() {
  const char* v = std::getenv("TESSERA_DECODE_REPLAY");
  return !v || std::strcmp(v, "0") != 0;
}

}  // namespace

DecodePlan::DecodePlan(const Model& model) : model_(model), enabled_(replay_enabled()) {}

bool DecodePlan::supports(const array& tokens, const KVCache& cache) const {
  if (!enabled_ || !model_.supports_static_steps() || !cache.supports_static_steps()) return false;
  if (tokens.ndim() != 2 || tokens.shape(1) != 1 || tokens.dtype() != int32) return false;
  if (cache.max_size() > 0 && cache.offset() + 1 > cache.max_size()) return false;  // forward reports it
  return cache.batch_size() == tokens.shape(0);
}

array DecodePlan::step(const array& tokens, KVCache& cache) {
  check_tokens(tokens, model_.config());
  const int offset = cache.offset();
  cache.reserve(offset + 1);
  const Key key{cache.capacity(), tokens.shape(0), model_.static_step_variant(offset)};
  array position(offset, int32);
  if (!plan_ || !(key == key_)) {
    plan_.reset();
    std::vector<array> buffers = cache.state();
    eval(buffers);
    std::vector<array> inputs{tokens, position};
    inputs.insert(inputs.end(), buffers.begin(), buffers.end());
    std::vector<array> outputs;
    cache.begin_static_step(position);
    try {
      outputs.push_back(model_.forward(tokens, cache, true));
      for (auto& b : cache.state()) outputs.push_back(b);
    } catch (...) {
      // Some layers may have taken the position already.
      cache.end_static_step();
      cache.reset();
      throw;
    }
    cache.end_static_step();
    // Recording wrote nothing: the cache gets back its buffers and offset.
    cache.trim(1);
    cache.take_buffers();
    cache.set_buffers(std::move(buffers), 0);
    plan_ = std::make_unique<detail::ReplayPlan>(inputs, outputs);
    key_ = key;
    ++recordings_;
  }
  // The plan's inputs are the cache's only holders, so the step writes the new position into
  // the buffers in place.
  std::vector<array> inputs{tokens, position};
  for (auto& b : cache.take_buffers()) inputs.push_back(std::move(b));
  std::vector<array> out;
  try {
    out = plan_->run(std::move(inputs));
  } catch (...) {
    cache.reset();
    throw;
  }
  array logits = std::move(out.front());
  out.erase(out.begin());
  cache.set_buffers(std::move(out), 1);
  return logits;
}

}  // namespace tessera::lm
