// The CPU backend's kernel table: the shared kernels with SIMD and threads on, plus the
// CPU-only kernels (BLAS/oneDNN products, fused fast ops, quantized matmul).
#include "backend/common/shared_kernels.h"
#include "backend/cpu/conv_kernels.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/fast_kernels.h"
#include "backend/cpu/fused_elementwise.h"
#include "backend/cpu/quantized_kernels.h"

namespace tessera {

namespace {
constexpr ElementwiseConfig kCpu{true, true};
}  // namespace

void register_cpu_kernels(Backend& b) {
  register_shared_kernels<kCpu>(b);
  b.register_kernel(PrimitiveKind::Matmul, cpu_matmul);
  b.register_kernel(PrimitiveKind::AddMM, cpu_addmm);
  b.register_kernel(PrimitiveKind::Convolution, cpu_conv);
  b.register_kernel(PrimitiveKind::AffineQuantize, cpu_affine_quantize);
  b.register_kernel(PrimitiveKind::QuantizedMatmul, cpu_quantized_matmul);
  b.register_kernel(PrimitiveKind::GatherQMM, cpu_gather_qmm);
  b.register_kernel(PrimitiveKind::Softmax, cpu_softmax);
  b.register_kernel(PrimitiveKind::LogSumExp, cpu_logsumexp);
  b.register_kernel(PrimitiveKind::RMSNorm, cpu_rms_norm);
  b.register_kernel(PrimitiveKind::RMSNormVjp, cpu_rms_norm_vjp);
  b.register_kernel(PrimitiveKind::LayerNorm, cpu_layer_norm);
  b.register_kernel(PrimitiveKind::RoPE, cpu_rope);
  b.register_kernel(PrimitiveKind::ScaledDotProductAttention, cpu_sdpa);
  b.register_kernel(PrimitiveKind::ScaledDotProductAttentionVjp, cpu_sdpa_vjp);
  b.register_kernel(PrimitiveKind::AttentionWeights, cpu_attention_weights);
  b.register_kernel(PrimitiveKind::AttentionWeightsVjp, cpu_attention_weights_vjp);
  b.register_kernel(PrimitiveKind::Compiled, cpu_compiled);
}

}  // namespace tessera
