// Textbook triple loop with float64 accumulation.
#include "backend/common/layout.h"
#include "backend/reference/reference_kernels.h"
#include "core/dispatch.h"
#include "primitives/linalg.h"

namespace tessera {

namespace {

void gemm(const array& a, const array& b, array& out, double alpha, double beta, const array* c) {
  int64_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  int64_t batch = M * N == 0 ? 0 : int64_t(out.size()) / (M * N);
  int nd = int(out.ndim());
  out.set_data(allocator::malloc(out.nbytes()));
  dispatch_all_types(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_float_v<T>) {
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* po = out.data<T>();
      for (int64_t bi = 0; bi < batch; ++bi) {
        // Offsets of this batch entry in each (possibly broadcast, strided) input.
        int64_t oa = 0, ob = 0, oc = 0, rem = bi;
        for (int d = nd - 3; d >= 0; --d) {
          int64_t i = rem % out.shape(d);
          rem /= out.shape(d);
          oa += i * a.strides()[d];
          ob += i * b.strides()[d];
          if (c) oc += i * c->strides()[d];
        }
        for (int64_t i = 0; i < M; ++i) {
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) {
              acc += double(pa[oa + i * a.strides()[nd - 2] + k * a.strides()[nd - 1]]) *
                     double(pb[ob + k * b.strides()[nd - 2] + j * b.strides()[nd - 1]]);
            }
            double r = alpha * acc;
            if (c) r += beta * double(c->data<T>()[oc + i * c->strides()[nd - 2] + j * c->strides()[nd - 1]]);
            po[bi * M * N + i * N + j] = T(r);
          }
        }
      }
    } else {
      throw std::invalid_argument("[matmul] has no kernel on reference for " + std::string(dtype_name(out.dtype())));
    }
  });
}

}  // namespace

void reference_matmul(const Primitive&, const std::vector<array>& in, std::vector<array>& out) {
  gemm(in[0], in[1], out[0], 1.0, 0.0, nullptr);
}

void reference_addmm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& ap = static_cast<const AddMM&>(p);
  gemm(in[0], in[1], out[0], ap.alpha(), ap.beta(), &in[2]);
}

}  // namespace tessera
