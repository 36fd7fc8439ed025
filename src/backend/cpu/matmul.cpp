// GEMM on the CPU through oneDNN (large float32) and OpenBLAS's cblas (small float32, float64).
// 16-bit floats are widened per matrix.
#include <cblas.h>
#ifdef TESSERA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <cstring>

#include "backend/common/layout.h"
#include "backend/common/matmul_layout.h"
#include "backend/cpu/cpu_kernels.h"
#include "core/convert.h"
#include "primitives/linalg.h"

namespace tessera {

namespace {

void gemm_f32(const MatrixView& a, const MatrixView& b, const float* pa, const float* pb, float* c, int64_t M,
              int64_t N, int64_t K, float alpha, float beta) {
#ifdef TESSERA_HAVE_DNNL
  // oneDNN's JIT reaches the AVX-512 rate whatever OPENBLAS_CORETYPE says (measured: 2-5x
  // OpenBLAS at 2048-4096 on the development machine); its per-call setup only pays off for
  // products that are not tiny.
  if (M * N * K >= 64 * 64 * 64) {
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

// C = alpha * A @ B + beta * C over the batch; C row-contiguous and already holding beta's input.
void batched_gemm(const array& a_in, const array& b_in, array& out, float alpha, float beta) {
  int64_t M = a_in.shape(-2), K = a_in.shape(-1), N = b_in.shape(-1);
  Shape batch(out.shape().begin(), out.shape().end() - 2);
  if (out.size() == 0) return;
  if (K == 0) {
    // Empty inner dimension: the product is zero.
    if (beta == 0.f) std::memset(out.raw_data(), 0, out.nbytes());
    return;
  }
  Dtype d = out.dtype();
  array ac(a_in), bc(b_in);
  if (d == float16 || d == bfloat16) {
    ac = array(a_in.shape(), float32, nullptr, {});
    bc = array(b_in.shape(), float32, nullptr, {});
    for (auto [src, dst] : {std::pair<const array*, array*>{&a_in, &ac}, {&b_in, &bc}}) {
      array rc(src->shape(), src->dtype(), nullptr, {});
      copy_to_row_contiguous(*src, rc, true);
      dst->set_data(allocator::malloc(dst->nbytes()));
      copy_convert(rc.raw_data(), d, dst->raw_data(), float32, rc.size());
    }
  }
  array tmp_a = ac, tmp_b = bc;
  MatrixView va = matrix_view(ac, tmp_a, true);
  MatrixView vb = matrix_view(bc, tmp_b, true);
  if (d == float64) {
    double* c = out.data<double>();
    for_each_batch(batch, va.batch_strides, vb.batch_strides, [&](int64_t i, int64_t oa, int64_t ob) {
      gemm_f64(va, vb, static_cast<const double*>(va.data) + oa, static_cast<const double*>(vb.data) + ob,
               c + i * M * N, M, N, K, alpha, beta);
    });
    return;
  }
  float* c32;
  array c_wide(out.shape(), float32, nullptr, {});
  if (d == float32) {
    c32 = out.data<float>();
  } else {
    c_wide.set_data(allocator::malloc(c_wide.nbytes()));
    c32 = c_wide.data<float>();
    if (beta != 0.f) copy_convert(out.raw_data(), d, c32, float32, out.size());
  }
  for_each_batch(batch, va.batch_strides, vb.batch_strides, [&](int64_t i, int64_t oa, int64_t ob) {
    gemm_f32(va, vb, static_cast<const float*>(va.data) + oa, static_cast<const float*>(vb.data) + ob,
             c32 + i * M * N, M, N, K, alpha, beta);
  });
  if (d != float32) copy_convert(c32, float32, out.raw_data(), d, out.size());
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
