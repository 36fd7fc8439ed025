// STREAM-style probe of this machine's limits, printed as JSON:
//   * memory bandwidth: copy, scale, add, triad (McCalpin's four kernels, STREAM's byte
//     counting: 2 or 3 arrays of 8-byte doubles moved per element, write-allocate traffic not
//     counted) plus a read-only kernel (sum) for reductions and copy/add with non-temporal
//     stores (copy_nt, add_nt: no read-for-ownership of the destination); 64 MiB per array, the
//     work split over T threads (default 2), best of N trials (default 20);
//   * core clock: a chain of dependent 64-bit multiplies (3 cycles each) timed on every thread;
//   * FMA throughput: independent fused multiply-adds on every thread (AVX-512 when the CPU
//     has it, else AVX2), i.e. the measured float32 FLOP/s ceiling.
// Usage: stream_probe [--threads T] [--trials N] [--mib M]
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs fn(thread_index) on `threads` threads (the caller is thread 0) in lock step; returns the
// wall time of each round, measured by thread 0 between two barriers, so a round ends when the
// slowest thread is done.
class Team {
 public:
  explicit Team(int threads) : n_(threads), start_(threads), done_(threads) {
    for (int t = 1; t < n_; ++t) workers_.emplace_back([this, t] { loop(t); });
  }
  ~Team() {
    job_ = nullptr;
    quit_ = true;
    start_.arrive_and_wait();
    for (auto& w : workers_) w.join();
  }
  double run(const std::function<void(int)>& fn) {
    job_ = &fn;
    start_.arrive_and_wait();
    auto t0 = Clock::now();
    fn(0);
    done_.arrive_and_wait();
    return seconds_since(t0);
  }
  int size() const { return n_; }

 private:
  void loop(int t) {
    for (;;) {
      start_.arrive_and_wait();
      if (quit_) return;
      (*job_)(t);
      done_.arrive_and_wait();
    }
  }
  int n_;
  std::barrier<> start_, done_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<bool> quit_{false};
  std::vector<std::thread> workers_;
};

struct Range {
  size_t begin, end;
};
Range chunk(size_t n, int t, int threads) {
  // 64-byte aligned chunk boundaries (8 doubles).
  size_t per = (n / threads + 7) & ~size_t(7);
  size_t b = std::min(n, per * size_t(t));
  size_t e = t == threads - 1 ? n : std::min(n, b + per);
  return {b, e};
}

struct Stat {
  double best_s = 1e30, sum_s = 0;
  int trials = 0;
  void add(double s) {
    best_s = std::min(best_s, s);
    sum_s += s;
    ++trials;
  }
};

// ---------------------------------------------------------------- clock
// A chain of 128 dependent 64-bit multiplies per iteration (3 cycles each on every x86 core
// since Nehalem/Zen; unlike `add $1`, which recent Intel cores can fold away at rename). The
// loop counter runs on other ports, so an iteration takes 384 cycles.
double measure_clock_hz(Team& team) {
  constexpr int64_t kIters = 100000;  // ~20 ms at 2 GHz
  constexpr double kCyclesPerIter = 128 * 3;
  std::vector<double> hz(team.size());
  for (int rep = 0; rep < 5; ++rep) {
    team.run([&](int t) {
      uint64_t x = uint64_t(t) + 1, one = 1;
      auto t0 = Clock::now();
      for (int64_t i = 0; i < kIters; ++i) {
        asm volatile(".rept 128\n\timulq %1, %0\n\t.endr" : "+r"(x) : "r"(one));
      }
      double s = seconds_since(t0);
      hz[t] = std::max(hz[t], double(kIters) * kCyclesPerIter / s);
    });
  }
  return *std::min_element(hz.begin(), hz.end());  // the all-core clock: the slowest thread
}

// ---------------------------------------------------------------- FMA throughput
// Independent accumulators (16 zmm, or 12 ymm) each doing acc += m * a, written in assembly
// so the compiler cannot spill them: enough chains to cover 2 FMA ports x 4-cycle latency.
__attribute__((target("avx512f"))) void fma_avx512(int64_t iters) {
  const float m = 0.999999f, a = 1e-7f;
  asm volatile(
      "vbroadcastss %[m], %%zmm16\n\t"
      "vbroadcastss %[a], %%zmm17\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
      "vxorps %%zmm\\r, %%zmm\\r, %%zmm\\r\n\t"
      ".endr\n\t"
      "1:\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
      "vfmadd231ps %%zmm16, %%zmm17, %%zmm\\r\n\t"
      ".endr\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(iters)
      : [m] "m"(m), [a] "m"(a)
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17");
}

__attribute__((target("avx2,fma"))) void fma_avx2(int64_t iters) {
  const float m = 0.999999f, a = 1e-7f;
  asm volatile(
      "vbroadcastss %[m], %%ymm12\n\t"
      "vbroadcastss %[a], %%ymm13\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11\n\t"
      "vxorps %%ymm\\r, %%ymm\\r, %%ymm\\r\n\t"
      ".endr\n\t"
      "1:\n\t"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm\\r\n\t"
      ".endr\n\t"
      "dec %[n]\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(iters)
      : [m] "m"(m), [a] "m"(a)
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13");
}

struct FmaResult {
  std::string isa;
  int lanes = 0, accumulators = 0;
  double flops_per_s = 0;
};

FmaResult measure_fma(Team& team) {
  FmaResult r;
  bool avx512 = __builtin_cpu_supports("avx512f");
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx512 && !avx2) return r;
  r.isa = avx512 ? "avx512f" : "avx2+fma";
  r.lanes = avx512 ? 16 : 8;
  r.accumulators = avx512 ? 16 : 12;
  constexpr int64_t kIters = 4'000'000;  // 64 FMAs per iteration: ~50 ms
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    double s = team.run([&](int) { avx512 ? fma_avx512(kIters) : fma_avx2(kIters); });
    best = std::min(best, s);
  }
  double flops = double(kIters) * r.accumulators * r.lanes * 2 * team.size();
  r.flops_per_s = flops / best;
  return r;
}

// ---------------------------------------------------------------- memory bandwidth
// The read kernel: 8 independent vector accumulators, so the adds never limit the loads (a
// single accumulator chain measured ~40% lower on the development machine).
__attribute__((target("avx512f"))) double read_sum_avx512(const double* p, size_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_add_pd(s0, _mm512_loadu_pd(p + i));
    s1 = _mm512_add_pd(s1, _mm512_loadu_pd(p + i + 8));
    s2 = _mm512_add_pd(s2, _mm512_loadu_pd(p + i + 16));
    s3 = _mm512_add_pd(s3, _mm512_loadu_pd(p + i + 24));
    s4 = _mm512_add_pd(s4, _mm512_loadu_pd(p + i + 32));
    s5 = _mm512_add_pd(s5, _mm512_loadu_pd(p + i + 40));
    s6 = _mm512_add_pd(s6, _mm512_loadu_pd(p + i + 48));
    s7 = _mm512_add_pd(s7, _mm512_loadu_pd(p + i + 56));
  }
  s0 = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)),
                     _mm512_add_pd(_mm512_add_pd(s4, s5), _mm512_add_pd(s6, s7)));
  double s = _mm512_reduce_add_pd(s0);
  for (; i < n; ++i) s += p[i];
  return s;
}

// copy and add again with non-temporal (streaming) stores, which skip the read-for-ownership of
// the destination: what a kernel that streams its output can reach. d is 64-byte aligned.
__attribute__((target("avx512f"))) void copy_nt_avx512(const double* a, double* d, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_stream_pd(d + i, _mm512_load_pd(a + i));
  for (; i < n; ++i) d[i] = a[i];
  _mm_sfence();
}
__attribute__((target("avx512f"))) void add_nt_avx512(const double* a, const double* b, double* d, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_stream_pd(d + i, _mm512_add_pd(_mm512_load_pd(a + i), _mm512_load_pd(b + i)));
  for (; i < n; ++i) d[i] = a[i] + b[i];
  _mm_sfence();
}
void copy_nt_sse2(const double* a, double* d, size_t n) {
  size_t i = 0;
  for (; i + 2 <= n; i += 2) _mm_stream_pd(d + i, _mm_load_pd(a + i));
  for (; i < n; ++i) d[i] = a[i];
  _mm_sfence();
}
void add_nt_sse2(const double* a, const double* b, double* d, size_t n) {
  size_t i = 0;
  for (; i + 2 <= n; i += 2) _mm_stream_pd(d + i, _mm_add_pd(_mm_load_pd(a + i), _mm_load_pd(b + i)));
  for (; i < n; ++i) d[i] = a[i] + b[i];
  _mm_sfence();
}

double read_sum(const double* p, size_t n) {
  double s[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += p[i + j];
  for (; i < n; ++i) s[0] += p[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

struct StreamResult {
  const char* name;
  int arrays;  // 8-byte words moved per element, STREAM's convention
  Stat stat;
};

double cpuinfo_mhz() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return std::atof(line.c_str() + p + 1);
    }
  }
  return 0;
}

std::string cpuinfo_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown";
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, trials = 20;
  size_t mib = 64;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--threads" || a == "--trials" || a == "--mib") && i + 1 < argc) {
      long v = std::atol(argv[++i]);
      if (v <= 0) {
        std::fprintf(stderr, "stream_probe: %s needs a positive value\n", a.c_str());
        return 2;
      }
      if (a == "--threads") threads = int(v);
      if (a == "--trials") trials = int(std::min<long>(v, 200));  // values grow 15x per trial
      if (a == "--mib") mib = size_t(v);
    } else if (a == "--help" || a == "-h") {
      std::puts("usage: stream_probe [--threads T] [--trials N] [--mib M]\n"
                "Prints JSON: STREAM copy/scale/add/triad/read/copy_nt/add_nt bandwidth (best of N,\n"
                "M MiB per array, T threads), the measured core clock and the measured FMA FLOP/s.");
      return 0;
    } else {
      std::fprintf(stderr, "stream_probe: unknown argument %s (try --help)\n", a.c_str());
      return 2;
    }
  }

  const size_t n = mib * 1024 * 1024 / sizeof(double);
  auto alloc = [&] { return static_cast<double*>(std::aligned_alloc(64, n * sizeof(double))); };
  double *a = alloc(), *b = alloc(), *c = alloc(), *d = alloc();
  if (!a || !b || !c || !d) {
    std::fprintf(stderr, "stream_probe: out of memory\n");
    return 1;
  }
  Team team(threads);
  // First touch by the thread that will use each chunk.
  team.run([&](int t) {
    auto r = chunk(n, t, threads);
    for (size_t i = r.begin; i < r.end; ++i) a[i] = 1.0, b[i] = 2.0, c[i] = 0.0, d[i] = 0.0;
  });

  const double q = 3.0;
  const bool have_avx512 = __builtin_cpu_supports("avx512f");
  std::vector<double> partial(threads);
  StreamResult res[] = {{"copy", 2, {}}, {"scale", 2, {}},   {"add", 3, {}},   {"triad", 3, {}},
                        {"read", 1, {}}, {"copy_nt", 2, {}}, {"add_nt", 3, {}}};
  for (int k = 0; k < trials; ++k) {
    res[0].stat.add(team.run([&](int t) {
      auto r = chunk(n, t, threads);
      for (size_t i = r.begin; i < r.end; ++i) c[i] = a[i];
    }));
    res[1].stat.add(team.run([&](int t) {
      auto r = chunk(n, t, threads);
      for (size_t i = r.begin; i < r.end; ++i) b[i] = q * c[i];
    }));
    res[2].stat.add(team.run([&](int t) {
      auto r = chunk(n, t, threads);
      for (size_t i = r.begin; i < r.end; ++i) c[i] = a[i] + b[i];
    }));
    res[3].stat.add(team.run([&](int t) {
      auto r = chunk(n, t, threads);
      for (size_t i = r.begin; i < r.end; ++i) a[i] = b[i] + q * c[i];
    }));
  }
  // The read kernel runs on its own, over and over on the same array, like a reduction
  // benchmark does: right after triad, the lines of `a` are dirty and reading them measures
  // write-back traffic too.
  for (int k = 0; k < trials; ++k) {
    res[4].stat.add(team.run([&](int t) {
      auto r = chunk(n, t, threads);
      partial[t] = have_avx512 ? read_sum_avx512(a + r.begin, r.end - r.begin) : read_sum(a + r.begin, r.end - r.begin);
    }));
  }
  // Streaming-store variants into a fourth array, so the STREAM arrays stay checkable.
  for (int k = 0; k < trials; ++k) {
    res[5].stat.add(team.run([&](int t) {
      auto r = chunk(n, t, threads);
      (have_avx512 ? copy_nt_avx512 : copy_nt_sse2)(a + r.begin, d + r.begin, r.end - r.begin);
    }));
    res[6].stat.add(team.run([&](int t) {
      auto r = chunk(n, t, threads);
      (have_avx512 ? add_nt_avx512 : add_nt_sse2)(a + r.begin, b + r.begin, d + r.begin, r.end - r.begin);
    }));
  }
  // STREAM's validation: replay the recurrences on scalars.
  double ea = 1.0, eb = 2.0, ec = 0.0;
  for (int k = 0; k < trials; ++k) {
    ec = ea;
    eb = q * ec;
    ec = ea + eb;
    ea = eb + q * ec;
  }
  double total = 0;
  for (double p : partial) total += p;
  bool valid = a[n / 3] == ea && b[n / 2] == eb && c[n - 1] == ec && std::fabs(total - ea * double(n)) <= 1e-6 * std::fabs(ea * double(n));

  double clock_hz = measure_clock_hz(team);
  FmaResult fma = measure_fma(team);
  double mhz = cpuinfo_mhz();

  std::printf("{\n  \"tool\": \"stream_probe\",\n  \"cpu_model\": \"%s\",\n  \"threads\": %d,\n", json_escape(cpuinfo_model()).c_str(), threads);
  std::printf("  \"array_mib\": %zu,\n  \"trials\": %d,\n  \"valid\": %s,\n  \"bandwidth\": {\n", mib, trials, valid ? "true" : "false");
  for (size_t i = 0; i < std::size(res); ++i) {
    const auto& r = res[i];
    double bytes = double(r.arrays) * sizeof(double) * double(n);
    std::printf("    \"%s\": {\"best_GBps\": %.3f, \"avg_GBps\": %.3f, \"best_s\": %.6f, \"bytes\": %.0f}%s\n", r.name,
                bytes / r.stat.best_s / 1e9, bytes / (r.stat.sum_s / r.stat.trials) / 1e9, r.stat.best_s, bytes,
                i + 1 < std::size(res) ? "," : "");
  }
  std::printf("  },\n  \"clock\": {\"measured_GHz\": %.4f, \"method\": \"dependent 64-bit imul chain (3 cycles each), all threads at once, slowest thread\", \"cpuinfo_MHz\": %.3f},\n",
              clock_hz / 1e9, mhz);
  std::printf("  \"fma\": {\"isa\": \"%s\", \"lanes\": %d, \"accumulators\": %d, \"measured_GFLOPs\": %.3f, \"fma_per_cycle_per_core\": %.3f}\n}\n",
              fma.isa.c_str(), fma.lanes, fma.accumulators, fma.flops_per_s / 1e9,
              fma.lanes ? fma.flops_per_s / (2.0 * fma.lanes * clock_hz * threads) : 0.0);
  std::free(a);
  std::free(b);
  std::free(c);
  std::free(d);
  return valid ? 0 : 1;
}
