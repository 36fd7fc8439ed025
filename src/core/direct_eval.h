// Evaluation without the graph walk, for callers that already hold the nodes in an order where
// every input is evaluated before its consumer (replay plans, src/transforms/replay_plan.h).
#pragma once

#include <mutex>

#include "backend/backend.h"
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

  // The kernel run() would call for `node` (a single-output node), or null where it would
  // decompose the node. A replay plan looks it up once and then calls run(kernel, node), which
  // skips the lookup; the kernel's choice must depend only on what the replay keeps fixed
  // (primitive, shapes, dtypes).
  Kernel kernel_for(const array& node) const;
  std::shared_ptr<Primitive> run(Kernel kernel, array& node);

 private:
  std::unique_lock<std::recursive_mutex> lock_;
  std::vector<array> outputs_;
};

}  // namespace tessera::detail
