// The reference backend: scalar loops, no SIMD, no threads. It is the oracle the test harness
// runs every primitive against; it favours obviously-correct code over speed. Fused ops
// (softmax, norms, rope, attention, quantized products) have no kernel here on purpose, so the
// suite also exercises their decompositions.
#include "backend/common/shared_kernels.h"
#include "backend/reference/conv.h"
#include "backend/reference/reference_kernels.h"

namespace tessera {

namespace {
constexpr ElementwiseConfig kReference{false, false};
}  // namespace

void register_reference_kernels(Backend& b) {
  register_shared_kernels<kReference>(b);
  b.register_kernel(PrimitiveKind::Matmul, reference_matmul);
  b.register_kernel(PrimitiveKind::AddMM, reference_addmm);
  b.register_kernel(PrimitiveKind::Convolution, reference_conv);
}

}  // namespace tessera
