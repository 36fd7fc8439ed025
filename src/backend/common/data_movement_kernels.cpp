#include "backend/common/data_movement_kernels.h"

#include <cstring>

#include "backend/common/elementwise_loops.h"
#include "backend/common/update_ops.h"
#include "primitives/shape.h"

namespace tessera {

namespace {

char* byte_ptr(array& a, int64_t elem_offset) {
  return static_cast<char*>(a.raw_data()) + elem_offset * int64_t(a.itemsize());
}

}  // namespace

void concatenate_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                        const ElementwiseConfig& cfg) {
  int axis = static_cast<const Concatenate&>(p).axis();
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  Strides rs = row_strides(o.shape());
  int64_t pos = 0;
  for (auto& a : in) {
    copy_strided(a, byte_ptr(o, pos * rs[axis]), rs, cfg.threads);
    pos += a.shape(axis);
  }
}

void pad_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                const ElementwiseConfig& cfg) {
  auto& pp = static_cast<const Pad&>(p);
  const array& a = in[0];
  const array& v = in[1];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  dispatch_by_size(o.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U val;
    std::memcpy(&val, v.raw_data(), sizeof(U));
    U* d = static_cast<U*>(o.raw_data());
    run_flat(int64_t(o.size()), cfg.threads, [&](int64_t b, int64_t e) { std::fill(d + b, d + e, val); });
  });
  Strides rs = row_strides(o.shape());
  int64_t off = 0;
  for (size_t i = 0; i < pp.axes().size(); ++i) off += int64_t(pp.low()[i]) * rs[pp.axes()[i]];
  copy_strided(a, byte_ptr(o, off), rs, cfg.threads);
}

void slice_update_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                         const ElementwiseConfig& cfg) {
  auto& sp = static_cast<const SliceUpdate&>(p);
  const array& src = in[0];
  const array& upd = in[1];
  array& o = out[0];
  Strides rs = row_strides(o.shape());
  if (src.is_donatable() && src.flags().row_contiguous && src.data_size() == src.size() &&
      src.itemsize() == o.itemsize()) {
    // Nothing else holds the source (a KV cache buffer replaced by its own update): the output
    // takes its buffer and only the updated region is written, so appending one token to a
    // preallocated cache costs the token, not the cache.
    o.copy_shared_buffer(src);
  } else {
    o.set_data(allocator::malloc(o.nbytes()));
    if (o.size() == 0) return;
    copy_strided(src, o.raw_data(), rs, cfg.threads);
  }
  if (upd.size() == 0) return;
  int64_t off = 0;
  Strides region(o.ndim());
  for (size_t i = 0; i < o.ndim(); ++i) {
    off += int64_t(sp.start()[i]) * rs[i];
    region[i] = rs[i] * sp.strides()[i];
  }
  if (sp.mode() == UpdateMode::Set) {
    copy_strided(upd, byte_ptr(o, off), region, cfg.threads);
    return;
  }
  Shape shape = upd.shape();
  std::vector<Strides> st{region, upd.strides()};
  collapse_dims(shape, st);
  dispatch_all_types(o.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = o.data<T>() + off;
    const T* u = upd.data<T>();
    dispatch_update_mode(sp.mode(), [&](auto mode) {
      constexpr UpdateMode M = decltype(mode)::value;
      int64_t ds = st[0].back(), us = st[1].back();
      // Distinct destinations (a slice never aliases itself), so rows may run in parallel.
      run_rows(shape, st, cfg.threads, [&](const int64_t* offs, int64_t n) {
        T* dd = d + offs[0];
        const T* uu = u + offs[1];
        for (int64_t i = 0; i < n; ++i) apply_update<M>(dd[i * ds], uu[i * us]);
      });
    });
  });
}

}  // namespace tessera
