// Evaluation without the graph walk, for callers that already hold the nodes in an order where
// every input is evaluated before its consumer (replay plans, src/transforms/replay_plan.h).
#pragma once

#include <mutex>

#include "tessera/array.h"

namespace tessera::detail {

// Holds the graph lock while it lives (after any async evaluation has finished).
class DirectEval {
 public:
  DirectEval();
  ~DirectEval();
  DirectEval(const DirectEval&) = delete;
  DirectEval& operator=(const DirectEval&) = delete;

  // Runs `node`'s kernel, or its decomposition where the backend has none, and drops its inputs.
  // Its inputs must be evaluated. Returns its primitive.
  std::shared_ptr<Primitive> run(array& node);

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

}  // namespace tessera::detail
