// Helpers shared by the Google Benchmark programs in this folder: deterministic inputs,
// the peak-memory counter and result checks. Header-only; not a benchmark itself (the
// CMake glob only picks up *_bench.cpp).
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/tessera.h"

namespace tessera_bench {

namespace tb = ::tessera;

// 16M elements, the size of the elementwise and reduction cases.
inline constexpr int kN16M = 16 * 1024 * 1024;

// Deterministic values in [lo, hi) from a 64-bit LCG (no dependency on the library's RNG, so
// the benchmark inputs don't change when random.cpp does).
inline std::vector<float> host_values(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    float u = float(s >> 40) * (1.0f / float(1 << 24));
    x = lo + (hi - lo) * u;
  }
  return v;
}

// An evaluated float32 array holding host_values(...).
inline tb::array make_input(const tb::Shape& shape, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  auto v = host_values(n, seed, lo, hi);
  tb::array a(v.begin(), shape, tb::float32);
  tb::eval(a);
  return a;
}

// Evaluates `out` and keeps the compiler from discarding the result.
inline void eval_keep(tb::array& out) {
  tb::eval(out);
  benchmark::DoNotOptimize(out.raw_data());
  benchmark::ClobberMemory();
}

// Peak-memory bookkeeping around the timed loop: reset before, report after. `peak_bytes` is
// the allocator's peak (inputs included, they are live); `peak_extra_bytes` is what the
// benchmarked op needed on top of what was already live when the loop started.
class PeakMemory {
 public:
  PeakMemory() : active_at_start_(tb::get_active_memory()) { tb::reset_peak_memory(); }
  void report(benchmark::State& state) const {
    size_t peak = tb::get_peak_memory();
    state.counters["peak_bytes"] = benchmark::Counter(double(peak), benchmark::Counter::kDefaults,
                                                      benchmark::Counter::kIs1024);
    state.counters["peak_extra_bytes"] =
        benchmark::Counter(double(peak > active_at_start_ ? peak - active_at_start_ : 0),
                           benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
  }

 private:
  size_t active_at_start_;
};

// FLOP/s counter: `flops` per iteration, reported as a rate.
inline void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

// Compares a sample of `got` against `want(i)` (flat index, row-contiguous output); marks the
// benchmark as failed (SkipWithError) on the first mismatch so a wrong kernel never reports
// a throughput.
template <typename Want>
bool check_sample(benchmark::State& state, const tb::array& got, Want want, double rtol, double atol,
                  size_t samples = 4099) {
  const float* p = got.data<float>();
  size_t n = got.size();
  size_t step = n > samples ? n / samples : 1;
  for (size_t i = 0; i < n; i += step) {
    double w = want(i), g = p[i];
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w))) {
      std::string msg = "wrong result at flat index " + std::to_string(i) + ": got " + std::to_string(g) +
                        ", want " + std::to_string(w);
      state.SkipWithError(msg.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace tessera_bench
