// The CPU backend's kernel table: SIMD and multithreaded paths on.
#include "backend/backend.h"
#include "backend/common/creation_kernels.h"
#include "backend/common/data_movement_kernels.h"
#include "backend/common/indexing_kernels.h"
#include "backend/common/elementwise_kernels.h"
#include "backend/common/layout.h"
#include "backend/common/random_kernels.h"
#include "backend/common/reduce_kernels.h"
#include "backend/common/scan_sort_kernels.h"
#include "backend/cpu/conv_kernels.h"
#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/quantized_kernels.h"
#include "backend/cpu/fast_kernels.h"

namespace tessera {

namespace {

constexpr ElementwiseConfig kCpu{true, true};

template <void (*K)(const Primitive&, const std::vector<array>&, std::vector<array>&, const ElementwiseConfig&)>
void with_cpu(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  K(p, in, out, kCpu);
}

}  // namespace

void register_cpu_kernels(Backend& b) {
  register_view_kernels(b, true);
  b.register_kernel(PrimitiveKind::Arange, with_cpu<arange_kernel>);
  b.register_kernel(PrimitiveKind::Full, with_cpu<full_kernel>);
  b.register_kernel(PrimitiveKind::Unary, with_cpu<unary_kernel>);
  b.register_kernel(PrimitiveKind::Binary, with_cpu<binary_kernel>);
  b.register_kernel(PrimitiveKind::Select, with_cpu<select_kernel>);
  b.register_kernel(PrimitiveKind::AsType, with_cpu<astype_kernel>);
  b.register_kernel(PrimitiveKind::Reduce, with_cpu<reduce_kernel>);
  b.register_kernel(PrimitiveKind::ArgReduce, with_cpu<arg_reduce_kernel>);
  b.register_kernel(PrimitiveKind::RandomBits, with_cpu<random_bits_kernel>);
  b.register_kernel(PrimitiveKind::Matmul, cpu_matmul);
  b.register_kernel(PrimitiveKind::AddMM, cpu_addmm);
  b.register_kernel(PrimitiveKind::Convolution, cpu_conv);
  b.register_kernel(PrimitiveKind::AffineQuantize, cpu_affine_quantize);
  b.register_kernel(PrimitiveKind::QuantizedMatmul, cpu_quantized_matmul);
  b.register_kernel(PrimitiveKind::GatherQMM, cpu_gather_qmm);
  b.register_kernel(PrimitiveKind::Scan, with_cpu<scan_kernel>);
  b.register_kernel(PrimitiveKind::Sort, with_cpu<sort_kernel>);
  b.register_kernel(PrimitiveKind::ArgSort, with_cpu<sort_kernel>);
  b.register_kernel(PrimitiveKind::Partition, with_cpu<sort_kernel>);
  b.register_kernel(PrimitiveKind::ArgPartition, with_cpu<sort_kernel>);
  b.register_kernel(PrimitiveKind::SearchSorted, with_cpu<search_sorted_kernel>);
  b.register_kernel(PrimitiveKind::Concatenate, with_cpu<concatenate_kernel>);
  b.register_kernel(PrimitiveKind::Pad, with_cpu<pad_kernel>);
  b.register_kernel(PrimitiveKind::SliceUpdate, with_cpu<slice_update_kernel>);
  b.register_kernel(PrimitiveKind::Gather, with_cpu<gather_kernel>);
  b.register_kernel(PrimitiveKind::Scatter, with_cpu<scatter_kernel>);
  b.register_kernel(PrimitiveKind::GatherAxis, with_cpu<gather_axis_kernel>);
  b.register_kernel(PrimitiveKind::ScatterAxis, with_cpu<scatter_axis_kernel>);
  b.register_kernel(PrimitiveKind::MaskedScatter, with_cpu<masked_scatter_kernel>);
  b.register_kernel(PrimitiveKind::Softmax, cpu_softmax);
  b.register_kernel(PrimitiveKind::RMSNorm, cpu_rms_norm);
  b.register_kernel(PrimitiveKind::LayerNorm, cpu_layer_norm);
  b.register_kernel(PrimitiveKind::RoPE, cpu_rope);
  b.register_kernel(PrimitiveKind::ScaledDotProductAttention, cpu_sdpa);
}

}  // namespace tessera
