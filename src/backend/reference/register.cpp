// The reference backend: scalar loops, no SIMD, no threads. It is the oracle the test harness
// runs every primitive against; it favours obviously-correct code over speed.
#include "backend/backend.h"
#include "backend/common/creation_kernels.h"
#include "backend/common/data_movement_kernels.h"
#include "backend/common/indexing_kernels.h"
#include "backend/common/elementwise_kernels.h"
#include "backend/common/layout.h"
#include "backend/common/random_kernels.h"
#include "backend/common/reduce_kernels.h"
#include "backend/common/scan_sort_kernels.h"
#include "backend/reference/conv.h"
#include "backend/reference/reference_kernels.h"

namespace tessera {

namespace {

constexpr ElementwiseConfig kReference{false, false};

template <void (*K)(const Primitive&, const std::vector<array>&, std::vector<array>&, const ElementwiseConfig&)>
void with_ref(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  K(p, in, out, kReference);
}

}  // namespace

void register_reference_kernels(Backend& b) {
  register_view_kernels(b, false);
  b.register_kernel(PrimitiveKind::Arange, with_ref<arange_kernel>);
  b.register_kernel(PrimitiveKind::Full, with_ref<full_kernel>);
  b.register_kernel(PrimitiveKind::Unary, with_ref<unary_kernel>);
  b.register_kernel(PrimitiveKind::Binary, with_ref<binary_kernel>);
  b.register_kernel(PrimitiveKind::Select, with_ref<select_kernel>);
  b.register_kernel(PrimitiveKind::AsType, with_ref<astype_kernel>);
  b.register_kernel(PrimitiveKind::Reduce, with_ref<reduce_kernel>);
  b.register_kernel(PrimitiveKind::ArgReduce, with_ref<arg_reduce_kernel>);
  b.register_kernel(PrimitiveKind::RandomBits, with_ref<random_bits_kernel>);
  b.register_kernel(PrimitiveKind::Matmul, reference_matmul);
  b.register_kernel(PrimitiveKind::AddMM, reference_addmm);
  b.register_kernel(PrimitiveKind::Convolution, reference_conv);
  b.register_kernel(PrimitiveKind::Scan, with_ref<scan_kernel>);
  b.register_kernel(PrimitiveKind::Sort, with_ref<sort_kernel>);
  b.register_kernel(PrimitiveKind::ArgSort, with_ref<sort_kernel>);
  b.register_kernel(PrimitiveKind::Partition, with_ref<sort_kernel>);
  b.register_kernel(PrimitiveKind::ArgPartition, with_ref<sort_kernel>);
  b.register_kernel(PrimitiveKind::SearchSorted, with_ref<search_sorted_kernel>);
  b.register_kernel(PrimitiveKind::Concatenate, with_ref<concatenate_kernel>);
  b.register_kernel(PrimitiveKind::Pad, with_ref<pad_kernel>);
  b.register_kernel(PrimitiveKind::SliceUpdate, with_ref<slice_update_kernel>);
  b.register_kernel(PrimitiveKind::Gather, with_ref<gather_kernel>);
  b.register_kernel(PrimitiveKind::Scatter, with_ref<scatter_kernel>);
  b.register_kernel(PrimitiveKind::GatherAxis, with_ref<gather_axis_kernel>);
  b.register_kernel(PrimitiveKind::ScatterAxis, with_ref<scatter_axis_kernel>);
  b.register_kernel(PrimitiveKind::MaskedScatter, with_ref<masked_scatter_kernel>);
}

}  // namespace tessera
