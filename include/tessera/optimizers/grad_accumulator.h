// Gradient accumulation: sums (or averages) the gradients of N micro-batches so that one
// optimizer update sees the gradient of the whole batch, in the memory of one micro-batch.
#pragma once

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

// Typical loop:
//   GradientAccumulator acc(4);
//   for (auto& mb : micro_batches) {
//     auto [loss, grads] = loss_and_grad(mb);
//     if (acc.add(grads)) optimizer.update(model, acc.take());
//   }
// With `average` (the default) the result is the mean over the micro-batches, which equals the
// gradient of a mean-reduced loss over the whole batch when the micro-batches have equal size.
class GradientAccumulator {
 public:
  explicit GradientAccumulator(int micro_batches, bool average = true);

  // Adds one micro-batch's gradients and evaluates the running sums (one eval call for all of
  // them), so the micro-batch's graph is freed. Every call must give the same names and shapes.
  // Returns true once `micro_batches` gradients have been added.
  bool add(const Params& grads);
  bool ready() const { return count_ >= micro_batches_; }
  int count() const { return count_; }
  int micro_batches() const { return micro_batches_; }

  // The accumulated gradients (sum or mean over the added micro-batches, however many), in the
  // dtypes they were added in. Raises std::logic_error when nothing was added.
  Params gradients() const;
  // gradients(), then reset().
  Params take();
  void reset();

 private:
  int micro_batches_;
  bool average_;
  int count_ = 0;
  Params sums_;  // float32 for half-precision gradients, so the sum does not lose their low bits
  std::map<std::string, Dtype> dtypes_;
};

}  // namespace tessera::optimizers
