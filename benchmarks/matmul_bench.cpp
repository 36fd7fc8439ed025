// Square matmul: float32 at 2048 and 4096, bfloat16 at 2048. FLOP/s counts 2*M*N*K per
// product. The label names the GEMM libraries in the process and the core OpenBLAS picked at
// load time (it reads OPENBLAS_CORETYPE; without it, OpenBLAS 0.3.21 does not recognise every
// new Xeon and falls back to its generic SSE3 core), because that choice decides the result
// wherever OpenBLAS does the work.
#include <dlfcn.h>

#include <cmath>
#include <string>
#include <vector>

#include "bench_common.h"

namespace {

namespace tb = ::tessera;

// Which GEMM libraries this process holds: oneDNN when linked (the library sends large float32
// products there), and OpenBLAS's core name (small products, float64). Looked up at run time
// so the benchmark links neither itself.
std::string gemm_backends() {
  using Fn = char* (*)();
  std::string s = dlsym(RTLD_DEFAULT, "dnnl_sgemm") ? "onednn+" : "";
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return s + (fn ? std::string("openblas:") + fn() : std::string("blas:unknown"));
}

// Checks a few entries of C = A @ B against a double-precision dot product of the inputs as
// they were rounded to `dt` (so bfloat16 is checked against bf16 inputs with a wide accumulator).
bool check_product(benchmark::State& state, const tb::array& a, const tb::array& b, const tb::array& c, int n,
                   double rtol) {
  tb::array a32 = tb::astype(a, tb::float32), b32 = tb::astype(b, tb::float32), c32 = tb::astype(c, tb::float32);
  tb::eval(a32, b32, c32);
  const float* pa = a32.data<float>();
  const float* pb = b32.data<float>();
  const float* pc = c32.data<float>();
  for (int s = 0; s < 64; ++s) {
    int i = (s * 977) % n, j = (s * 1231 + 17) % n;
    double want = 0, mag = 0;
    for (int k = 0; k < n; ++k) {
      want += double(pa[size_t(i) * n + k]) * pb[size_t(k) * n + j];
      mag += std::fabs(double(pa[size_t(i) * n + k]) * pb[size_t(k) * n + j]);
    }
    double got = pc[size_t(i) * n + j];
    if (!(std::fabs(got - want) <= rtol * mag)) {
      std::string msg = "wrong C[" + std::to_string(i) + "," + std::to_string(j) + "]: got " + std::to_string(got) +
                        ", want " + std::to_string(want);
      state.SkipWithError(msg.c_str());
      return false;
    }
  }
  return true;
}

void run_matmul(benchmark::State& state, tb::Dtype dt, double rtol) {
  const int n = int(state.range(0));
  tb::array a = tessera_bench::make_input({n, n}, 11);
  tb::array b = tessera_bench::make_input({n, n}, 12);
  if (dt != tb::float32) {
    a = tb::astype(a, dt);
    b = tb::astype(b, dt);
    tb::eval(a, b);
  }
  {
    tb::array c = tb::matmul(a, b);
    tessera_bench::eval_keep(c);
    if (!check_product(state, a, b, c, n, rtol)) return;
  }
  tessera_bench::PeakMemory mem;
  for (auto _ : state) {
    tb::array c = tb::matmul(a, b);
    tessera_bench::eval_keep(c);
  }
  mem.report(state);
  tessera_bench::set_flops(state, 2.0 * n * n * double(n));
  state.SetLabel(gemm_backends());
}

void BM_MatmulF32(benchmark::State& state) { run_matmul(state, tb::float32, 1e-5); }
// The bf16 output is rounded to 8 bits of mantissa: 2^-8 relative to the magnitude sum.
void BM_MatmulBF16(benchmark::State& state) { run_matmul(state, tb::bfloat16, 4e-3); }

BENCHMARK(BM_MatmulF32)->Arg(2048)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatmulBF16)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
