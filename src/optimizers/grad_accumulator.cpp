#include "tessera/optimizers/grad_accumulator.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::optimizers {

namespace {

bool is_half(Dtype d) { return d == float16 || d == bfloat16; }

}  // namespace

GradientAccumulator::GradientAccumulator(int micro_batches, bool average)
    : micro_batches_(micro_batches), average_(average) {
  if (micro_batches < 1) throw std::invalid_argument("[GradientAccumulator] micro_batches must be at least 1.");
}

bool GradientAccumulator::add(const Params& grads) {
  if (count_ > 0) {
    if (grads.size() != sums_.size()) {
      throw std::invalid_argument("[GradientAccumulator] Micro-batch gradients have " + std::to_string(grads.size()) +
                                  " entries, the earlier ones " + std::to_string(sums_.size()) + ".");
    }
    for (const auto& [name, g] : grads) {
      auto it = sums_.find(name);
      if (it == sums_.end()) throw std::invalid_argument("[GradientAccumulator] Unexpected gradient '" + name + "'.");
      if (it->second.shape() != g.shape()) {
        throw std::invalid_argument("[GradientAccumulator] Gradient '" + name + "' changed shape.");
      }
    }
  }
  std::vector<array> outs;
  outs.reserve(grads.size());
  for (const auto& [name, g] : grads) {
    array term = is_half(g.dtype()) ? astype(g, float32) : g;
    auto it = sums_.find(name);
    if (it == sums_.end()) {
      dtypes_.insert_or_assign(name, g.dtype());
      it = sums_.emplace(name, term).first;
    } else {
      it->second = it->second + term;
    }
    outs.push_back(it->second);
  }
  eval(std::move(outs));
  ++count_;
  return ready();
}

Params GradientAccumulator::gradients() const {
  if (count_ == 0) throw std::logic_error("[GradientAccumulator] No gradients were added.");
  Params out;
  for (const auto& [name, s] : sums_) {
    array g = average_ && count_ > 1 ? s / array(float(count_), s.dtype()) : s;
    out.insert_or_assign(name, astype(g, dtypes_.at(name)));
  }
  return out;
}

Params GradientAccumulator::take() {
  Params out = gradients();
  reset();
  return out;
}

void GradientAccumulator::reset() {
  sums_.clear();
  dtypes_.clear();
  count_ = 0;
}

}  // namespace tessera::optimizers
