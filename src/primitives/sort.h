// Sorting, partitioning and binary search. Sorts are stable and put NaN last, like NumPy.
#pragma once

#include "primitives/primitive.h"

namespace tessera {

// Sort / ArgSort / Partition / ArgPartition along `axis`. Partition kernels may fully sort.
class SortLike : public Primitive {
 public:
  SortLike(Stream s, int axis, int kth = 0) : Primitive(s), axis_(axis), kth_(kth) {}
  int axis() const { return axis_; }
  int kth() const { return kth_; }
  // Sort and Partition route cotangents through the permutation their arg variant computes (the
  // kernels of a pair must order equal keys alike); ArgSort and ArgPartition are not differentiable.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const SortLike&>(o).axis_ == axis_ &&
           static_cast<const SortLike&>(o).kth_ == kth_;
  }

 private:
  int axis_, kth_;
};

class Sort : public SortLike {
 public:
  using SortLike::SortLike;
  PrimitiveKind kind() const override { return PrimitiveKind::Sort; }
};
class ArgSort : public SortLike {
 public:
  using SortLike::SortLike;
  PrimitiveKind kind() const override { return PrimitiveKind::ArgSort; }
};
class Partition : public SortLike {
 public:
  using SortLike::SortLike;
  PrimitiveKind kind() const override { return PrimitiveKind::Partition; }
};
class ArgPartition : public SortLike {
 public:
  using SortLike::SortLike;
  PrimitiveKind kind() const override { return PrimitiveKind::ArgPartition; }
};

// inputs: sorted 1-D `a`, values `v` (same dtype). Output uint32 with v's shape.
class SearchSorted : public Primitive {
 public:
  SearchSorted(Stream s, bool right) : Primitive(s), right_(right) {}
  PrimitiveKind kind() const override { return PrimitiveKind::SearchSorted; }
  bool right() const { return right_; }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;
  bool is_equivalent(const Primitive& o) const override {
    return o.kind() == kind() && static_cast<const SearchSorted&>(o).right_ == right_;
  }

 private:
  bool right_;
};

}  // namespace tessera
