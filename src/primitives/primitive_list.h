// The one list of Tessera's primitives. Each entry is a class in src/primitives/ with its rules;
// backends register kernels by this kind. Adding a primitive: add it here, define its class in
// the family's header, register kernels (or give a decomposition).
#pragma once

#define TESSERA_PRIMITIVE_KINDS(X) \
  X(Arange)                        \
  X(Full)                          \
  X(AsType)                        \
  X(Copy)                          \
  X(Unary)                         \
  X(Binary)                        \
  X(Select)                        \
  X(Reshape)                       \
  X(Transpose)                     \
  X(Broadcast)                     \
  X(Slice)                         \
  X(AsStrided)                     \
  X(View)                          \
  X(Contiguous)                    \
  X(Concatenate)                   \
  X(Pad)                           \
  X(SliceUpdate)                   \
  X(DynamicSlice)                  \
  X(DynamicSliceUpdate)            \
  X(Gather)                        \
  X(GatherAxis)                    \
  X(Scatter)                       \
  X(ScatterAxis)                   \
  X(MaskedScatter)                 \
  X(Reduce)                        \
  X(ArgReduce)                     \
  X(Scan)                          \
  X(Sort)                          \
  X(ArgSort)                       \
  X(Partition)                     \
  X(ArgPartition)                  \
  X(SearchSorted)                  \
  X(Matmul)                        \
  X(AddMM)                         \
  X(GatherMM)                      \
  X(BlockMaskedMM)                 \
  X(Convolution)                   \
  X(Softmax)                       \
  X(LogSumExp)                     \
  X(RandomBits)                    \
  X(AffineQuantize)                \
  X(QuantizedMatmul)               \
  X(GatherQMM)                     \
  X(RMSNorm)                       \
  X(RMSNormVjp)                    \
  X(LayerNorm)                     \
  X(RoPE)                          \
  X(ScaledDotProductAttention)     \
  X(ScaledDotProductAttentionVjp)  \
  X(AttentionWeights)              \
  X(AttentionWeightsVjp)           \
  X(Depends)                       \
  X(Compiled)                      \
  X(Custom)

namespace tessera {

enum class PrimitiveKind : int {
#define TESSERA_KIND_ENTRY(name) name,
  TESSERA_PRIMITIVE_KINDS(TESSERA_KIND_ENTRY)
#undef TESSERA_KIND_ENTRY
      Count
};

inline constexpr int num_primitive_kinds = static_cast<int>(PrimitiveKind::Count);

const char* primitive_kind_name(PrimitiveKind k);

}  // namespace tessera
