// The worker pool behind every parallel kernel: chunks cover the range exactly once, jobs that
// use fewer threads than the previous one do not confuse the workers left out, exceptions reach
// the caller, and the pool survives resizing. Run with many back-to-back jobs, the decode-step
// pattern where a lost wake-up or a stale job would show.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "tessera/tessera.h"

namespace tessera {
namespace {

// 3,000 back-to-back jobs on `threads` threads over 1..size indices (n stepping by `stride`),
// widths 1..threads in a rotating pattern so consecutive jobs leave different workers out; each
// must cover every index once. With `errors`, every 100th job is followed by one whose last chunk
// throws, which must reach the caller.
void back_to_back_jobs(int threads, int64_t size, int64_t stride, bool errors) {
  set_num_threads(threads);
  std::vector<std::atomic<int>> hits(static_cast<size_t>(size));
  for (int job = 0; job < 3000; ++job) {
    const int64_t n = 1 + (job * stride) % size;
    const int64_t grain = std::max<int64_t>(1, n / (1 + job % threads));
    for (int64_t i = 0; i < n; ++i) hits[size_t(i)].store(0, std::memory_order_relaxed);
    parallel_for(n, grain, [&](int64_t a, int64_t b) {
      for (int64_t i = a; i < b; ++i) hits[size_t(i)].fetch_add(1, std::memory_order_relaxed);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "job " << job << " index " << i;
    if (errors && job % 100 == 0) {
      EXPECT_THROW(parallel_for(threads, 1,
                                [&](int64_t a, int64_t) {
                                  if (a == threads - 1) throw std::runtime_error("chunk failed");
                                }),
                   std::runtime_error);
    }
  }
}

TEST(ThreadPool, BackToBackJobsOfVaryingWidthCoverEveryIndexOnce) {
  const int saved = get_num_threads();
  for (int threads : {2, 3, 4}) back_to_back_jobs(threads, 4096, 37, false);
  set_num_threads(saved);
}

// The same with idle threads polling (SpinWaitScope, as generation runs): jobs are picked up
// from the polled word, completions seen without a wake-up, and errors still arrive.
TEST(ThreadPool, PollingWorkersCoverEveryIndexOnceAndReportErrors) {
  const int saved = get_num_threads();
  SpinWaitScope spin(300);
  for (int threads : {2, 4}) back_to_back_jobs(threads, 2048, 53, true);
  set_num_threads(saved);
}

TEST(ThreadPool, ExceptionsFromAnyChunkReachTheCaller) {
  const int saved = get_num_threads();
  set_num_threads(3);
  for (int round = 0; round < 50; ++round) {
    const int64_t bad = round % 3;  // the chunk that throws: the caller's own or a worker's
    EXPECT_THROW(parallel_for(3, 1,
                              [&](int64_t a, int64_t) {
                                if (a == bad) throw std::runtime_error("chunk failed");
                              }),
                 std::runtime_error);
    // The pool is still usable afterwards.
    std::atomic<int64_t> sum{0};
    parallel_for(1000, 1, [&](int64_t a, int64_t b) { sum += b - a; });
    EXPECT_EQ(sum.load(), 1000);
  }
  set_num_threads(saved);
}

TEST(ThreadPool, NestedCallsRunSeriallyInsideAChunk) {
  const int saved = get_num_threads();
  set_num_threads(2);
  std::atomic<int64_t> total{0};
  parallel_for(8, 1, [&](int64_t a, int64_t b) {
    for (int64_t i = a; i < b; ++i) parallel_for(100, 1, [&](int64_t c, int64_t d) { total += d - c; });
  });
  EXPECT_EQ(total.load(), 800);
  set_num_threads(saved);
}

TEST(ThreadPool, JobsAfterIdlePeriodsWakeSleepingWorkers) {
  const int saved = get_num_threads();
  set_num_threads(2);
  for (int round = 0; round < 5; ++round) {
    // Idle long enough for the worker to be asleep on the condition variable.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::atomic<int> chunks{0};
    parallel_for(2, 1, [&](int64_t, int64_t) { chunks++; });
    EXPECT_EQ(chunks.load(), 2);
  }
  set_num_threads(saved);
}

}  // namespace
}  // namespace tessera
