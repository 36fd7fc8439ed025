#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
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

class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop(); }

  int size() const { return num_threads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> run_lock(run_mu_);
    stop();
    num_threads_ = std::max(1, n);
    {
      std::lock_guard<std::mutex> l(mu_);
      shutdown_ = false;
    }
    // Workers start from the current generation so they never run a job that already finished.
    uint64_t gen = generation_;
    for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i, gen] { worker(i, gen); });
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    int64_t chunks = std::min<int64_t>(num_threads_, std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
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
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = &fn;
      job_n_ = n;
      job_chunks_ = chunks;
      pending_ = int(chunks - 1);
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    // The caller's own chunk may throw: the workers still run theirs on this job's fields, so
    // wait for them before leaving.
    std::exception_ptr own;
    try {
      run_chunk(0);
    } catch (...) {
      own = std::current_exception();
    }
    std::unique_lock<std::mutex> l(mu_);
    done_cv_.wait(l, [&] { return pending_ == 0; });
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
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return shutdown_ || generation_ != seen; });
      if (shutdown_) return;
      seen = generation_;
      if (index >= job_chunks_) continue;
      l.unlock();
      std::exception_ptr err;
      try {
        run_chunk(index);
      } catch (...) {
        err = std::current_exception();
      }
      l.lock();
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      shutdown_ = true;
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
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_chunks_ = 1;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool shutdown_ = false;
  std::exception_ptr error_;
  static thread_local bool in_worker_;
};

thread_local bool ThreadPool::in_worker_ = false;

ThreadPool& pool() {
  static ThreadPool* p = new ThreadPool(default_threads());
  return *p;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  pool().run(n, grain, fn);
}

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("[set_num_threads] Need at least one thread, got " + std::to_string(n) + ".");
  pool().resize(n);
}

}  // namespace tessera
