// Graph evaluation: an iterative depth-first topological sort (no recursion, so chains of
// millions of nodes are fine), then kernels in order. Each evaluated node drops its inputs at
// once, so an intermediate's buffer is freed right after its last consumer ran.
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "backend/backend.h"
#include "primitives/primitive.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

// Graph state is mutated only under this lock; async_eval's worker holds it while it runs.
std::recursive_mutex& graph_mutex() {
  static std::recursive_mutex m;
  return m;
}

[[noreturn]] void throw_no_kernel(const array& a, const Backend& b) {
  std::ostringstream os;
  os << "[" << a.primitive().name() << "] has no kernel on " << b.name() << " for " << a.dtype();
  if (!a.inputs().empty()) os << " (input dtype " << a.inputs()[0].dtype() << ")";
  os << " and no decomposition.";
  throw std::invalid_argument(os.str());
}

void run_node(array& a) {
  auto& prim = a.primitive();
  Backend& backend = backend_for(prim.stream().device);
  std::vector<array> outputs = a.outputs();
  if (backend.supports(a)) {
    backend.kernel(prim.kind())(prim, a.inputs(), outputs);
  } else {
    std::vector<array> composite = prim.decompose(a.inputs());
    if (composite.empty()) throw_no_kernel(a, backend);
    if (composite.size() != outputs.size()) {
      throw std::logic_error(std::string("[eval] decomposition of ") + prim.name() + " returned the wrong number of outputs.");
    }
    eval(composite);
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (composite[i].dtype() != outputs[i].dtype() || composite[i].shape() != outputs[i].shape()) {
        throw std::logic_error(std::string("[eval] decomposition of ") + prim.name() + " changed shape or dtype.");
      }
      outputs[i].copy_shared_buffer(composite[i]);
    }
  }
  for (auto& o : outputs) o.set_status(array::Status::evaluated);
}

void eval_impl(std::vector<array>& outputs) {
  std::lock_guard<std::recursive_mutex> lock(graph_mutex());
  // Toposort. `seen` marks nodes already on the tape or on the stack.
  std::vector<array> tape;
  std::unordered_set<uintptr_t> seen;
  std::vector<std::pair<array, size_t>> stack;
  for (auto& out : outputs) {
    if (out.is_evaluated() || seen.count(out.id())) continue;
    if (!out.has_primitive()) {
      throw std::invalid_argument("[eval] Attempting to evaluate an array without a primitive or data.");
    }
    seen.insert(out.id());
    stack.emplace_back(out, 0);
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node.inputs().size()) {
        const array& in = node.inputs()[next++];
        if (in.is_evaluated() || seen.count(in.id())) continue;
        if (!in.has_primitive()) {
          throw std::invalid_argument("[eval] Graph input has neither data nor a primitive.");
        }
        seen.insert(in.id());
        for (auto& s : in.siblings()) seen.insert(s.id());
        stack.emplace_back(in, 0);
      } else {
        tape.push_back(std::move(node));
        stack.pop_back();
      }
    }
  }
  for (auto& node : tape) {
    if (node.is_evaluated()) continue;  // a sibling computed it
    array a = std::move(node);
    run_node(a);
    if (!a.is_tracer()) a.detach();
  }
}

class AsyncWorker {
 public:
  AsyncWorker() : thread_([this] { loop(); }) {}
  ~AsyncWorker() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void submit(std::vector<array> arrays) {
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(std::move(arrays));
    }
    cv_.notify_all();
  }
  // Waits until everything submitted so far has been evaluated.
  void drain() {
    std::unique_lock<std::mutex> l(mu_);
    idle_cv_.wait(l, [&] { return queue_.empty() && !busy_; });
  }

 private:
  void loop() {
    while (true) {
      std::vector<array> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
      }
      try {
        eval_impl(job);
      } catch (...) {
        // The error surfaces again when the caller evaluates the same arrays synchronously.
      }
      job.clear();
      {
        std::lock_guard<std::mutex> l(mu_);
        busy_ = false;
      }
      idle_cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::vector<array>> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

AsyncWorker& async_worker() {
  static AsyncWorker* w = new AsyncWorker();
  return *w;
}

std::atomic<bool> g_async_used{false};

}  // namespace

void eval(std::vector<array> outputs) {
  if (g_async_used.load(std::memory_order_relaxed)) async_worker().drain();
  eval_impl(outputs);
}

void async_eval(std::vector<array> outputs) {
  bool all_done = true;
  for (auto& a : outputs) all_done = all_done && a.is_evaluated();
  if (all_done) return;
  g_async_used.store(true);
  async_worker().submit(std::move(outputs));
}

void synchronize() {
  if (g_async_used.load()) async_worker().drain();
}
void synchronize(Stream) { synchronize(); }

}  // namespace tessera
