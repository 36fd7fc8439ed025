// Combining rules for slice_update / scatter modes, and index loading for gathers/scatters.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/dispatch.h"
#include "primitives/shape.h"
#include "tessera/array.h"

namespace tessera {

template <UpdateMode M, typename T>
inline void apply_update(T& dst, const T& v) {
  if constexpr (M == UpdateMode::Set) {
    dst = v;
  } else if constexpr (std::is_same_v<T, bool>) {
    if constexpr (M == UpdateMode::Add || M == UpdateMode::Max) dst = dst || v;
    else dst = dst && v;
  } else if constexpr (is_half_v<T>) {
    float a = float(dst), b = float(v);
    if constexpr (M == UpdateMode::Add) dst = T(a + b);
    else if constexpr (M == UpdateMode::Prod) dst = T(a * b);
    else if constexpr (M == UpdateMode::Max) dst = (b > a || b != b) ? v : dst;
    else dst = (b < a || b != b) ? v : dst;
  } else if constexpr (is_complex_v<T>) {
    if constexpr (M == UpdateMode::Add) dst = dst + v;
    else if constexpr (M == UpdateMode::Prod) dst = dst * v;
    else if constexpr (M == UpdateMode::Max) dst = v.real() > dst.real() ? v : dst;
    else dst = v.real() < dst.real() ? v : dst;
  } else {
    if constexpr (M == UpdateMode::Add) dst = T(dst + v);
    else if constexpr (M == UpdateMode::Prod) dst = T(dst * v);
    else if constexpr (M == UpdateMode::Max) dst = (v > dst || v != v) ? v : dst;
    else dst = (v < dst || v != v) ? v : dst;
  }
}

template <typename F>
void dispatch_update_mode(UpdateMode m, F&& f) {
  switch (m) {
    case UpdateMode::Set: f(std::integral_constant<UpdateMode, UpdateMode::Set>{}); break;
    case UpdateMode::Add: f(std::integral_constant<UpdateMode, UpdateMode::Add>{}); break;
    case UpdateMode::Prod: f(std::integral_constant<UpdateMode, UpdateMode::Prod>{}); break;
    case UpdateMode::Max: f(std::integral_constant<UpdateMode, UpdateMode::Max>{}); break;
    case UpdateMode::Min: f(std::integral_constant<UpdateMode, UpdateMode::Min>{}); break;
  }
}

// Reads element `off` (in elements, from data()) of an integer index array as int64.
inline int64_t load_index(const array& idx, int64_t off) {
  const void* p = idx.raw_data();
  switch (idx.dtype().val) {
    case Dtype::Val::uint8: return static_cast<const uint8_t*>(p)[off];
    case Dtype::Val::uint16: return static_cast<const uint16_t*>(p)[off];
    case Dtype::Val::uint32: return static_cast<const uint32_t*>(p)[off];
    case Dtype::Val::uint64: return int64_t(static_cast<const uint64_t*>(p)[off]);
    case Dtype::Val::int8: return static_cast<const int8_t*>(p)[off];
    case Dtype::Val::int16: return static_cast<const int16_t*>(p)[off];
    case Dtype::Val::int32: return static_cast<const int32_t*>(p)[off];
    case Dtype::Val::int64: return static_cast<const int64_t*>(p)[off];
    default: throw std::logic_error("[gather/scatter] non-integer index array");
  }
}

// Wraps a negative index once and clamps so a slice of `size` starting there fits in `dim`.
inline int64_t wrap_clamp(int64_t i, int64_t dim, int64_t size) {
  if (i < 0) i += dim;
  return std::clamp<int64_t>(i, 0, std::max<int64_t>(dim - size, 0));
}

}  // namespace tessera
