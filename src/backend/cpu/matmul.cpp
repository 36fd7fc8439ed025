// GEMM on the CPU. float32: oneDNN's sgemm for products that are not tiny, OpenBLAS's cblas
// otherwise; float64: cblas. bfloat16: oneDNN's matmul primitive on the 16-bit inputs directly
// (AVX512-BF16 / AMX kernels, float32 accumulation, one rounding of the result), with the
// primitives cached by shape. float16 (which oneDNN 2.6 has no CPU matmul for) and bfloat16
// without oneDNN go through float32 GEMM a row panel at a time, so only the right-hand matrix
// is ever widened whole.
#include <cblas.h>
#ifdef TESSERA_HAVE_DNNL
#include <dlfcn.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

#include <array>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <cctype>
#include <unordered_map>
#include <vector>

#include "backend/cpu/skinny_gemm.h"
#include "backend/cpu/thread_scratch.h"
#include "backend/common/layout.h"
#include "backend/common/matmul_layout.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/convert.h"
#include "primitives/linalg.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

#ifdef TESSERA_HAVE_DNNL

// oneDNN runs on OpenMP, whose thread count is a per-thread setting: make the calling thread's
// match tessera's (set_num_threads) before each call. Looked up at run time (libgomp comes in
// with oneDNN) so the library needs no OpenMP flags of its own. Products under ~2 MFLOP run on
// the calling thread: waking the team costs more than it saves, and on a busy machine an
// OpenMP barrier waiting for a descheduled worker costs milliseconds.
void sync_omp_threads(int64_t flops) {
  using SetFn = void (*)(int);
  static SetFn set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  thread_local int applied = 0;
  int want = flops < (int64_t(1) << 21) ? 1 : get_num_threads();
  if (set && applied != want) {
    set(want);
    applied = want;
  }
}

namespace dn = dnnl;
using dt = dn::memory::data_type;

dn::engine& dnnl_engine() {
  // Never destroyed: worker threads' streams may be torn down after static destructors ran.
  static dn::engine* eng = new dn::engine(dn::engine::kind::cpu, 0);
  return *eng;
}

// A 3-D (batch, rows, cols) operand: dims and strides in elements.
struct Operand3 {
  int64_t dims[3];
  int64_t strides[3];
};

struct MatmulKey {
  std::array<int64_t, 18> v;
  float alpha, beta;
  bool operator==(const MatmulKey& o) const { return v == o.v && alpha == o.alpha && beta == o.beta; }
};

struct MatmulEntry {
  dn::matmul prim;
  dn::memory::desc a, b, c, scratch;
  size_t scratch_bytes;
};

// A small LRU of created primitives (creation costs 0.1-2 ms, a repeat call microseconds).
class MatmulCache {
 public:
  std::shared_ptr<MatmulEntry> get(const MatmulKey& k, dt src_t, dt dst_t, const Operand3& a, const Operand3& b,
                                   const Operand3& c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = items_.begin(); it != items_.end(); ++it) {
        if (it->first == k) {
          items_.splice(items_.begin(), items_, it);
          return items_.front().second;
        }
      }
    }
    auto md = [](const Operand3& o, dt t) {
      return dn::memory::desc(dn::memory::dims(o.dims, o.dims + 3), t, dn::memory::dims(o.strides, o.strides + 3));
    };
    auto e = std::make_shared<MatmulEntry>();
    e->a = md(a, src_t);
    e->b = md(b, src_t);
    e->c = md(c, dst_t);
    dn::primitive_attr attr;
    attr.set_scratchpad_mode(dn::scratchpad_mode::user);  // executes may run concurrently
    if (k.alpha != 1.f) attr.set_output_scales(0, {k.alpha});
    if (k.beta != 0.f) {
      dn::post_ops po;
      po.append_sum(k.beta);
      attr.set_post_ops(po);
    }
    dn::matmul::primitive_desc pd(dn::matmul::desc(e->a, e->b, e->c), attr, dnnl_engine());
    e->prim = dn::matmul(pd);
    e->scratch = pd.scratchpad_desc();
    e->scratch_bytes = e->scratch.get_size();
    std::lock_guard<std::mutex> l(mu_);
    items_.emplace_front(k, e);
    if (items_.size() > kCapacity) items_.pop_back();
    return e;
  }

 private:
  static constexpr size_t kCapacity = 32;
  std::mutex mu_;
  std::list<std::pair<MatmulKey, std::shared_ptr<MatmulEntry>>> items_;
};

MatmulCache& matmul_cache() {
  static MatmulCache* c = new MatmulCache();  // never destroyed: primitives may outlive statics
  return *c;
}

// Batch strides that walk the flattened batch with one stride: returns false otherwise.
// A stride of 0 (every entry broadcast) comes back as 0.
bool collapse_batch(const Shape& batch, const Strides& s, int64_t& stride) {
  bool seen = false;
  int64_t run = 1;
  stride = 0;
  for (int d = int(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (!seen) {
      stride = s[d];
      seen = true;
    } else if (s[d] != stride * run) {
      return false;
    }
    run *= batch[d];
  }
  return true;
}

Operand3 operand3(const MatrixView& v, int64_t batch, int64_t batch_stride, int64_t rows, int64_t cols) {
  Operand3 o;
  bool bcast = batch_stride == 0;
  o.dims[0] = bcast ? 1 : batch;
  o.dims[1] = rows;
  o.dims[2] = cols;
  if (v.transposed) {
    o.strides[1] = 1;
    o.strides[2] = v.ld;
  } else {
    o.strides[1] = v.ld;
    o.strides[2] = 1;
  }
  o.strides[0] = bcast ? rows * cols : batch_stride;
  return o;
}

// One oneDNN matmul over `nb` matrices: a (nb or 1 by stride sa), b likewise, c row-contiguous.
bool dnnl_matmul_run(dt src_t, dt dst_t, const MatrixView& va, const MatrixView& vb, const void* pa,
                     const void* pb, void* c, int64_t nb, int64_t sa, int64_t sb, int64_t M, int64_t N, int64_t K,
                     float alpha, float beta) {
  Operand3 a = operand3(va, nb, sa, M, K), b = operand3(vb, nb, sb, K, N);
  Operand3 o{{nb, M, N}, {M * N, N, 1}};
  MatmulKey key;
  key.v = {int64_t(src_t), int64_t(dst_t), a.dims[0], a.dims[1], a.dims[2], a.strides[0], a.strides[1],
           a.strides[2], b.dims[0], b.dims[1], b.dims[2], b.strides[0], b.strides[1], b.strides[2], o.dims[0],
           0, 0, 0};
  key.alpha = alpha;
  key.beta = beta;
  try {
    auto e = matmul_cache().get(key, src_t, dst_t, a, b, o);
    sync_omp_threads(2 * nb * M * N * K);
    dn::engine& eng = dnnl_engine();
    thread_local dn::stream st(eng);
    dn::memory ma(e->a, eng, const_cast<void*>(pa)), mb(e->b, eng, const_cast<void*>(pb)), mc(e->c, eng, c);
    std::unordered_map<int, dn::memory> args{{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    if (e->scratch_bytes) {
      void* sp = thread_scratch(e->scratch_bytes);
      if (!sp) return false;
      args.emplace(DNNL_ARG_SCRATCHPAD, dn::memory(e->scratch, eng, sp));
    }
    e->prim.execute(st, args);
    st.wait();
    return true;
  } catch (const dn::error&) {
    return false;
  }
}

// The batched product through oneDNN matmul, one primitive for the whole batch when both
// operands walk it with one stride, else one per matrix. False if oneDNN has no kernel.
bool dnnl_batched(dt src_t, dt dst_t, const MatrixView& va, const MatrixView& vb, void* c, size_t item,
                  const Shape& batch, int64_t M, int64_t N, int64_t K, float alpha, float beta) {
  int64_t nb = 1;
  for (auto d : batch) nb *= d;
  int64_t sa, sb;
  if (collapse_batch(batch, va.batch_strides, sa) && collapse_batch(batch, vb.batch_strides, sb)) {
    return dnnl_matmul_run(src_t, dst_t, va, vb, va.data, vb.data, c, nb, sa, sb, M, N, K, alpha, beta);
  }
  bool ok = true;
  for_each_batch(batch, va.batch_strides, vb.batch_strides, [&](int64_t i, int64_t oa, int64_t ob) {
    if (!ok) return;
    ok = dnnl_matmul_run(src_t, dst_t, va, vb, static_cast<const char*>(va.data) + oa * item,
                         static_cast<const char*>(vb.data) + ob * item, static_cast<char*>(c) + i * M * N * item, 1,
                         0, 0, M, N, K, alpha, beta);
  });
  return ok;
}

#endif  // TESSERA_HAVE_DNNL

// True when OpenBLAS runs its AVX-512 kernels. Measured on the development machine: OpenBLAS's
// SkylakeX sgemm reaches ~81% of the f32 peak and oneDNN's ~70%, but OpenBLAS 0.3.21 does not
// know newer CPUs and falls back to a generic (SSE3) or, under OPENBLAS_CORETYPE=Haswell, an AVX2
// core at 1/8-1/2 the rate; then oneDNN, whose JIT targets the CPU it finds, is the faster one.
bool openblas_has_avx512_core() {
  static const bool avx512 = [] {
    const char* name = openblas_get_corename();
    if (!name) return false;
    std::string core(name);
    for (auto& ch : core) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    return core.find("skylakex") != std::string::npos || core.find("cooperlake") != std::string::npos ||
           core.find("sapphirerapids") != std::string::npos;
  }();
  return avx512;
}

void gemm_f32(const MatrixView& a, const MatrixView& b, const float* pa, const float* pb, float* c, int64_t M,
              int64_t N, int64_t K, float alpha, float beta) {
#ifdef TESSERA_HAVE_DNNL
  // oneDNN's per-call setup only pays off for products that are not tiny.
  if (M * N * K >= 64 * 64 * 64 && !openblas_has_avx512_core()) {
    sync_omp_threads(2 * M * N * K);
    if (dnnl_sgemm(a.transposed ? 'T' : 'N', b.transposed ? 'T' : 'N', M, N, K, alpha, pa, a.ld, pb, b.ld, beta, c,
                   std::max<int64_t>(N, 1)) == dnnl_success) {
      return;
    }
  }
#endif
  cblas_sgemm(CblasRowMajor, a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
              int(M), int(N), int(K), alpha, pa, int(a.ld), pb, int(b.ld), beta, c, int(std::max<int64_t>(N, 1)));
}

void gemm_f64(const MatrixView& a, const MatrixView& b, const double* pa, const double* pb, double* c, int64_t M,
              int64_t N, int64_t K, double alpha, double beta) {
  cblas_dgemm(CblasRowMajor, a.transposed ? CblasTrans : CblasNoTrans, b.transposed ? CblasTrans : CblasNoTrans,
              int(M), int(N), int(K), alpha, pa, int(a.ld), pb, int(b.ld), beta, c, int(std::max<int64_t>(N, 1)));
}

// Widens a stored (rows x cols, or cols x rows when transposed) 16-bit matrix to dense float32
// in the same orientation.
void widen_matrix(const char* src, Dtype d, bool transposed, int64_t ld, int64_t rows, int64_t cols, float* dst) {
  int64_t n = transposed ? cols : rows, len = transposed ? rows : cols;
  for (int64_t r = 0; r < n; ++r) copy_convert(src + r * ld * 2, d, dst + r * len, float32, size_t(len));
}

// float16 / bfloat16 through float32 GEMM: the right-hand matrix is widened once per distinct
// batch entry, the left-hand one and the result a row panel (a few MiB) at a time.
void half_gemm_panels(Dtype d, const MatrixView& va, const MatrixView& vb, char* out, const Shape& batch, int64_t M,
                      int64_t N, int64_t K, float alpha, float beta) {
  std::vector<float> bw(size_t(K * N));
  MatrixView wb{bw.data(), vb.transposed, vb.transposed ? K : N, {}};
  const int64_t MB = std::max<int64_t>(16, std::min<int64_t>(M, (int64_t(1) << 20) / std::max<int64_t>(K + N, 1)));
  std::vector<float> aw(size_t(std::min(MB, M) * K)), cw(size_t(std::min(MB, M) * N));
  const char* last_b = nullptr;
  for_each_batch(batch, va.batch_strides, vb.batch_strides, [&](int64_t i, int64_t oa, int64_t ob) {
    const char* pb = static_cast<const char*>(vb.data) + ob * 2;
    if (pb != last_b) {
      widen_matrix(pb, d, vb.transposed, vb.ld, K, N, bw.data());
      last_b = pb;
    }
    const char* pa = static_cast<const char*>(va.data) + oa * 2;
    char* pc = out + i * M * N * 2;
    for (int64_t m0 = 0; m0 < M; m0 += MB) {
      int64_t mb = std::min(MB, M - m0);
      MatrixView wa{aw.data(), va.transposed, va.transposed ? mb : K, {}};
      if (!va.transposed) {
        for (int64_t r = 0; r < mb; ++r) copy_convert(pa + (m0 + r) * va.ld * 2, d, aw.data() + r * K, float32, size_t(K));
      } else {
        for (int64_t k = 0; k < K; ++k) copy_convert(pa + (k * va.ld + m0) * 2, d, aw.data() + k * mb, float32, size_t(mb));
      }
      if (beta != 0.f) copy_convert(pc + m0 * N * 2, d, cw.data(), float32, size_t(mb * N));
      gemm_f32(wa, wb, aw.data(), bw.data(), cw.data(), mb, N, K, alpha, beta);
      copy_convert(cw.data(), float32, pc + m0 * N * 2, d, size_t(mb * N));
    }
  });
}

// C = alpha * A @ B + beta * C over the batch; C row-contiguous and already holding beta's input.
void batched_gemm(const array& a_in, const array& b_in, array& out, float alpha, float beta) {
  int64_t M = a_in.shape(-2), K = a_in.shape(-1), N = b_in.shape(-1);
  Shape batch(out.shape().begin(), out.shape().end() - 2);
  if (out.size() == 0) return;
  if (K == 0) {
    // Empty inner dimension: the product is zero.
    if (beta == 0.f) std::memset(out.raw_data(), 0, out.nbytes());
    else if (beta != 1.f) {
      array s(out.shape(), float32, nullptr, {});
      s.set_data(allocator::malloc(s.nbytes()));
      copy_convert(out.raw_data(), out.dtype(), s.raw_data(), float32, out.size());
      for (size_t i = 0; i < out.size(); ++i) s.data<float>()[i] *= beta;
      copy_convert(s.raw_data(), float32, out.raw_data(), out.dtype(), out.size());
    }
    return;
  }
  Dtype d = out.dtype();
  std::optional<array> tmp_a, tmp_b;
  MatrixView va = matrix_view(a_in, tmp_a, true);
  MatrixView vb = matrix_view(b_in, tmp_b, true);
  if (M <= kSkinnyRows && (d == float32 || d == bfloat16 || d == float16)) {
    bool ok = true;
    const size_t item = d.size;
    for_each_batch(batch, va.batch_strides, vb.batch_strides, [&](int64_t i, int64_t oa, int64_t ob) {
      ok = ok && skinny_gemm(d, va, vb, static_cast<const char*>(va.data) + oa * item,
                             static_cast<const char*>(vb.data) + ob * item,
                             static_cast<char*>(out.raw_data()) + size_t(i * M * N) * item, M, N, K, alpha, beta);
    });
    if (ok) return;
  }
  if (d == float64) {
    double* c = out.data<double>();
    for_each_batch(batch, va.batch_strides, vb.batch_strides, [&](int64_t i, int64_t oa, int64_t ob) {
      gemm_f64(va, vb, static_cast<const double*>(va.data) + oa, static_cast<const double*>(vb.data) + ob,
               c + i * M * N, M, N, K, alpha, beta);
    });
    return;
  }
  if (d == float32) {
    float* c = out.data<float>();
    for_each_batch(batch, va.batch_strides, vb.batch_strides, [&](int64_t i, int64_t oa, int64_t ob) {
      gemm_f32(va, vb, static_cast<const float*>(va.data) + oa, static_cast<const float*>(vb.data) + ob,
               c + i * M * N, M, N, K, alpha, beta);
    });
    return;
  }
#ifdef TESSERA_HAVE_DNNL
  // Tiny products go the widening way: creating a primitive for a new shape costs up to a
  // couple of milliseconds, far more than widening a few KiB.
  if (d == bfloat16 && M * N * K >= 32 * 32 * 32 && dnnl_batched(dt::bf16, dt::bf16, va, vb, out.raw_data(), 2, batch, M, N, K, alpha, beta)) {
    return;
  }
#endif
  half_gemm_panels(d, va, vb, static_cast<char*>(out.raw_data()), batch, M, N, K, alpha, beta);
}

}  // namespace

void cpu_matmul(const Primitive&, const std::vector<array>& in, std::vector<array>& out) {
  out[0].set_data(allocator::malloc(out[0].nbytes()));
  batched_gemm(in[0], in[1], out[0], 1.f, 0.f);
}

void cpu_addmm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& ap = static_cast<const AddMM&>(p);
  copy_to_row_contiguous(in[2], out[0], true);
  batched_gemm(in[0], in[1], out[0], ap.alpha(), ap.beta());
}

}  // namespace tessera
