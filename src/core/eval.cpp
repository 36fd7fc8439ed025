// Graph evaluation: an iterative depth-first topological sort (no recursion, so chains of
// millions of nodes are fine), then kernels in order. Each evaluated node drops its inputs at
// once, so an intermediate's buffer is freed right after its last consumer ran.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <optional>

#include "backend/backend.h"
#include "core/direct_eval.h"
#include "core/eval_stats.h"
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

constexpr int kNumDeviceTypes = 3;
std::atomic<uint64_t> g_kernel_runs[kNumDeviceTypes][num_primitive_kinds];

// Nodes run under the graph lock, so a plain increment suffices (a locked read-modify-write per
// node is measurable in a decode step).
void count_kernel_run(const Primitive& prim) {
  auto& runs = g_kernel_runs[static_cast<int>(prim.stream().device.type)][static_cast<int>(prim.kind())];
  runs.store(runs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Runs `kernel` for single-output node `a` with `outputs` (empty) as its output list. The node
// moves into the list for the kernel and back afterwards: a copy would cost two locked
// reference-count updates per node.
void run_single_output(Kernel kernel, array& a, std::vector<array>& outputs) {
  const Primitive& prim = a.primitive();
  const std::vector<array>& inputs = a.inputs();
  outputs.push_back(std::move(a));
  struct MoveBack {
    array& a;
    std::vector<array>& v;
    ~MoveBack() {
      a = std::move(v[0]);
      v.clear();
    }
  } back{a, outputs};
  kernel(prim, inputs, outputs);
  outputs[0].set_status(array::Status::evaluated);
  count_kernel_run(prim);
}

void run_node(array& a) {
  auto& prim = a.primitive();
  Backend& backend = backend_for(prim.stream().device);
  // Output vectors are reused across nodes (one per nesting level: a decomposition evaluates
  // its composite re-entrantly), which saves an allocation per node.
  // A deque, so growing it for a nested level keeps the outer levels' references valid.
  thread_local std::deque<std::vector<array>> pool;
  thread_local size_t depth = 0;
  while (pool.size() <= depth) pool.emplace_back();
  std::vector<array>& outputs = pool[depth];
  outputs.clear();
  struct DepthGuard {
    size_t& d;
    std::vector<array>& v;
    ~DepthGuard() {
      v.clear();
      --d;
    }
  } guard{++depth, outputs};
  const bool supported = backend.supports(a);
  if (supported && a.siblings().empty()) {
    run_single_output(backend.kernel(prim.kind()), a, outputs);
    return;
  }
  if (a.siblings().empty()) outputs.push_back(a);
  else outputs = a.outputs();
  if (supported) {
    backend.kernel(prim.kind())(prim, a.inputs(), outputs);
    count_kernel_run(prim);
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
  // Toposort. Nodes on the stack or the tape are marked `scheduled` (no hash set needed); the
  // marks are undone if anything throws so the graph can be evaluated again.
  // The two vectors keep their capacity from one eval to the next (one pair per nesting level:
  // a decomposition evaluates re-entrantly). Growing them afresh each time would make every
  // eval of a 50+ node graph request a block of over 1 KiB, and such a request makes malloc
  // consolidate the hundreds of small chunks the graph's nodes just freed.
  struct Scratch {
    // Pointers to the handles the walk found nodes through (in a consumer's inputs, or in
    // `outputs`), not copies: a copy would cost two locked reference-count updates per node. A
    // handle stays valid until its node's turn, because the consumer holding it comes later in
    // the order and is detached only after running.
    std::vector<array*> tape;
    std::vector<std::pair<array*, size_t>> stack;
  };
  thread_local std::deque<Scratch> scratch_pool;
  thread_local size_t depth = 0;
  while (scratch_pool.size() <= depth) scratch_pool.emplace_back();
  Scratch& scratch = scratch_pool[depth];
  struct DepthGuard {
    size_t& d;
    Scratch& s;
    ~DepthGuard() {
      s.tape.clear();
      s.stack.clear();
      // A very large graph's capacity is not worth keeping per thread.
      if (s.tape.capacity() > (size_t(1) << 16)) s = Scratch{};
      --d;
    }
  } guard{++depth, scratch};
  auto& tape = scratch.tape;
  auto& stack = scratch.stack;
  auto set_all = [](const array& a, array::Status st) {
    a.set_status(st);
    for (auto& s : a.siblings()) s.set_status(st);
  };
  auto pending = [](const array& a) { return a.status() == array::Status::unscheduled; };
  size_t next_run = 0;  // tape entries before it ran (their handles may be gone)
  try {
    for (auto& out : outputs) {
      if (!pending(out)) continue;
      if (!out.has_primitive()) {
        throw std::invalid_argument("[eval] Attempting to evaluate an array without a primitive or data.");
      }
      set_all(out, array::Status::scheduled);
      stack.emplace_back(&out, 0);
      while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs().size()) {
          array& in = node->inputs()[next++];
          if (!pending(in)) continue;
          if (!in.has_primitive()) {
            throw std::invalid_argument("[eval] Graph input has neither data nor a primitive.");
          }
          set_all(in, array::Status::scheduled);
          stack.emplace_back(&in, 0);
        } else {
          tape.push_back(node);
          stack.pop_back();
        }
      }
    }
    for (; next_run < tape.size(); ++next_run) {
      array& a = *tape[next_run];
      if (!a.is_evaluated()) {  // else a sibling computed it
        run_node(a);
        if (!a.is_tracer()) a.detach();
      }
    }
  } catch (...) {
    for (size_t i = next_run; i < tape.size(); ++i) {
      if (tape[i]->status() == array::Status::scheduled) set_all(*tape[i], array::Status::unscheduled);
    }
    for (auto& [node, next] : stack) {
      if (node->status() == array::Status::scheduled) set_all(*node, array::Status::unscheduled);
    }
    throw;
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

uint64_t kernel_run_count(Device::DeviceType device, PrimitiveKind kind) {
  return g_kernel_runs[static_cast<int>(device)][static_cast<int>(kind)].load();
}

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

namespace detail {

DirectEval::DirectEval() {
  if (g_async_used.load(std::memory_order_relaxed)) async_worker().drain();
  lock_ = std::unique_lock<std::recursive_mutex>(graph_mutex());
}

DirectEval::~DirectEval() = default;

std::shared_ptr<Primitive> DirectEval::run(array& node) {
  run_node(node);
  return node.detach_primitive();
}

Kernel DirectEval::kernel_for(const array& node) const {
  if (!node.siblings().empty()) return nullptr;
  const Backend& backend = backend_for(node.primitive().stream().device);
  return backend.supports(node) ? backend.kernel(node.primitive().kind()) : nullptr;
}

std::shared_ptr<Primitive> DirectEval::run(Kernel kernel, array& node) {
  outputs_.clear();
  run_single_output(kernel, node, outputs_);
  return node.detach_primitive();
}

}  // namespace detail
void synchronize(Stream) { synchronize(); }

}  // namespace tessera
