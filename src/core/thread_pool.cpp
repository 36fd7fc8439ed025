#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "tessera/ops.h"

namespace tessera {

namespace {

int default_threads() {
  if (const char* env = std::getenv("TESSERA_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : int(hc);
}

// Spin-wait budget in microseconds while any SpinWaitScope lives (the latest one's); 0 when none
// does: block at once.
std::atomic<int> g_spin_us{0};
std::atomic<int> g_spin_scopes{0};

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `done` until it holds or the spin budget runs out; true when it holds.
template <typename Done>
bool spin_until(Done done) {
  const int us = g_spin_us.load(std::memory_order_relaxed);
  if (us <= 0) return done();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    // The clock is read every 64 polls: it costs more than a poll.
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= deadline) return done();
  }
}

class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop(); }

  int size() const { return num_threads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    stop();
    num_threads_ = std::max(1, n);
    shutdown_.store(false);
    // Workers start from the current generation so they never run a job that already finished.
    uint64_t gen = generation_.load();
    for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i, gen] { worker(i, gen); });
  }

  void run(int64_t n, int64_t grain, const RangeFn& fn) {
    int64_t chunks = std::min<int64_t>({num_threads_, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)),
                                        int64_t(kChunkMask)});
    if (chunks <= 1 || in_worker_) {
      fn(0, n);
      return;
    }
    // One parallel region at a time; a nested call from a kernel runs serially above.
    std::unique_lock<std::mutex> run_lock(run_mu_, std::try_to_lock);
    if (!run_lock.owns_lock()) {
      fn(0, n);
      return;
    }
    bool wake;
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = &fn;
      job_n_ = n;
      job_chunks_ = chunks;
      pending_.store(int(chunks - 1), std::memory_order_relaxed);
      error_ = nullptr;
      // Publishes the fields above to the workers that take part, which poll the word without
      // the lock; the others learn from the word alone that they sit this job out.
      generation_.store(((generation_.load(std::memory_order_relaxed) >> kChunkBits) + 1) << kChunkBits |
                            uint64_t(chunks),
                        std::memory_order_release);
      wake = sleepers_ > 0;
    }
    if (wake) cv_.notify_all();
    // The caller's own chunk may throw: the workers still run theirs on this job's fields, so
    // wait for them before leaving.
    std::exception_ptr own;
    try {
      run_chunk(0);
    } catch (...) {
      own = std::current_exception();
    }
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> l(mu_);
      caller_waiting_ = true;
      done_cv_.wait(l, [&] { return pending_.load(std::memory_order_acquire) == 0; });
      caller_waiting_ = false;
    }
    std::lock_guard<std::mutex> l(mu_);
    job_ = nullptr;
    if (own) std::rethrow_exception(own);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_chunk(int64_t c) {
    int64_t begin = job_n_ * c / job_chunks_;
    int64_t end = job_n_ * (c + 1) / job_chunks_;
    (*job_)(begin, end);
  }

  void worker(int index, uint64_t seen) {
    in_worker_ = true;
    while (true) {
      auto fresh = [&] {
        return shutdown_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
      };
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> l(mu_);
        ++sleepers_;
        cv_.wait(l, fresh);
        --sleepers_;
      }
      if (shutdown_.load(std::memory_order_acquire)) return;
      seen = generation_.load(std::memory_order_acquire);
      if (uint64_t(index) >= (seen & kChunkMask)) continue;
      std::exception_ptr err;
      try {
        run_chunk(index);
      } catch (...) {
        err = std::current_exception();
      }
      if (err) {
        std::lock_guard<std::mutex> l(mu_);
        if (!error_) error_ = err;
      }
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The caller checks `pending_` under the lock before it sleeps, so taking the lock here
        // orders this wake-up after that check.
        std::lock_guard<std::mutex> l(mu_);
        if (caller_waiting_) done_cv_.notify_one();
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      shutdown_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int num_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::mutex run_mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  // Job fields: written under mu_ before generation_ changes, read by the workers that take part
  // after they see the new word (the caller waits for those before the next job).
  const RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_chunks_ = 1;
  std::atomic<int> pending_{0};
  // A job counter above the job's chunk count: one atomic word, so a worker that reads it knows
  // whether it takes part without reading fields the next job may be writing.
  static constexpr int kChunkBits = 16;
  static constexpr uint64_t kChunkMask = (uint64_t(1) << kChunkBits) - 1;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> shutdown_{false};
  int sleepers_ = 0;             // workers blocked on cv_ (under mu_)
  bool caller_waiting_ = false;  // the caller blocked on done_cv_ (under mu_)
  std::exception_ptr error_;
  static thread_local bool in_worker_;
};

thread_local bool ThreadPool::in_worker_ = false;

ThreadPool& pool() {
  static ThreadPool* p = new ThreadPool(default_threads());
  return *p;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, RangeFn fn) {
  if (n <= 0) return;
  pool().run(n, grain, fn);
}

int get_num_threads() { return pool().size(); }

SpinWaitScope::SpinWaitScope(int microseconds) {
  g_spin_scopes.fetch_add(1);
  g_spin_us.store(std::max(0, microseconds));
}

SpinWaitScope::~SpinWaitScope() {
  if (g_spin_scopes.fetch_sub(1) == 1) g_spin_us.store(0);
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("[set_num_threads] Need at least one thread, got " + std::to_string(n) + ".");
  pool().resize(n);
}

}  // namespace tessera
