// The kernels every host-memory backend shares, listed once. Each backend instantiates the list
// with its own configuration: the CPU backend with SIMD and threads, the reference backend with
// plain scalar loops.
#pragma once

#include "backend/backend.h"
#include "backend/common/creation_kernels.h"
#include "backend/common/data_movement_kernels.h"
#include "backend/common/elementwise_kernels.h"
#include "backend/common/indexing_kernels.h"
#include "backend/common/layout.h"
#include "backend/common/random_kernels.h"
#include "backend/common/reduce_kernels.h"
#include "backend/common/scan_sort_kernels.h"
#include "backend/common/views.h"

namespace tessera {

using ConfiguredKernel = void (*)(const Primitive&, const std::vector<array>&, std::vector<array>&,
                                  const ElementwiseConfig&);

template <ConfiguredKernel K, const ElementwiseConfig& C>
void bind_config(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  K(p, in, out, C);
}

template <const ElementwiseConfig& C>
void register_shared_kernels(Backend& b) {
  b.register_kernel(PrimitiveKind::Reshape, bind_config<reshape_kernel, C>);
  b.register_kernel(PrimitiveKind::Transpose, bind_config<transpose_kernel, C>);
  b.register_kernel(PrimitiveKind::Broadcast, bind_config<broadcast_kernel, C>);
  b.register_kernel(PrimitiveKind::Slice, bind_config<slice_kernel, C>);
  b.register_kernel(PrimitiveKind::AsStrided, bind_config<as_strided_kernel, C>);
  b.register_kernel(PrimitiveKind::View, bind_config<view_kernel, C>);
  b.register_kernel(PrimitiveKind::Copy, bind_config<copy_kernel, C>);
  b.register_kernel(PrimitiveKind::Contiguous, bind_config<contiguous_kernel, C>);
  b.register_kernel(PrimitiveKind::Arange, bind_config<arange_kernel, C>);
  b.register_kernel(PrimitiveKind::Full, bind_config<full_kernel, C>);
  b.register_kernel(PrimitiveKind::Unary, bind_config<unary_kernel, C>);
  b.register_kernel(PrimitiveKind::Binary, bind_config<binary_kernel, C>);
  b.register_kernel(PrimitiveKind::Select, bind_config<select_kernel, C>);
  b.register_kernel(PrimitiveKind::AsType, bind_config<astype_kernel, C>);
  b.register_kernel(PrimitiveKind::Reduce, bind_config<reduce_kernel, C>);
  b.register_kernel(PrimitiveKind::ArgReduce, bind_config<arg_reduce_kernel, C>);
  b.register_kernel(PrimitiveKind::RandomBits, bind_config<random_bits_kernel, C>);
  b.register_kernel(PrimitiveKind::Scan, bind_config<scan_kernel, C>);
  b.register_kernel(PrimitiveKind::Sort, bind_config<sort_kernel, C>);
  b.register_kernel(PrimitiveKind::ArgSort, bind_config<sort_kernel, C>);
  b.register_kernel(PrimitiveKind::Partition, bind_config<sort_kernel, C>);
  b.register_kernel(PrimitiveKind::ArgPartition, bind_config<sort_kernel, C>);
  b.register_kernel(PrimitiveKind::SearchSorted, bind_config<search_sorted_kernel, C>);
  b.register_kernel(PrimitiveKind::Concatenate, bind_config<concatenate_kernel, C>);
  b.register_kernel(PrimitiveKind::Pad, bind_config<pad_kernel, C>);
  b.register_kernel(PrimitiveKind::SliceUpdate, bind_config<slice_update_kernel, C>);
  b.register_kernel(PrimitiveKind::Gather, bind_config<gather_kernel, C>);
  b.register_kernel(PrimitiveKind::Scatter, bind_config<scatter_kernel, C>);
  b.register_kernel(PrimitiveKind::GatherAxis, bind_config<gather_axis_kernel, C>);
  b.register_kernel(PrimitiveKind::ScatterAxis, bind_config<scatter_axis_kernel, C>);
  b.register_kernel(PrimitiveKind::MaskedScatter, bind_config<masked_scatter_kernel, C>);
}

}  // namespace tessera
