#include "backend/common/indexing_kernels.h"

#include <cstring>

#include "backend/common/elementwise_loops.h"
#include "backend/common/update_ops.h"
#include "primitives/indexing.h"

namespace tessera {

namespace {

// Element offset of the flat (row-major) position `flat` in an array of `shape` with `strides`,
// using only the first shape.size() strides starting at `first`.
int64_t offset_of(int64_t flat, const Shape& shape, const Strides& strides, size_t first = 0) {
  int64_t off = 0;
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    int64_t n = shape[d];
    off += (flat % n) * strides[first + d];
    flat /= n;
  }
  return off;
}

int64_t prod(const Shape& s, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < s.size(); ++i) n *= s[i];
  return n;
}

}  // namespace

void gather_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg) {
  auto& gp = static_cast<const Gather&>(p);
  const array& a = in[0];
  const size_t k = in.size() - 1;
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  const Shape idx_shape = k > 0 ? in[1].shape() : Shape{};
  const int64_t n_idx = prod(idx_shape);
  const Shape& ss = gp.slice_sizes();
  const int64_t slice_elems = prod(ss);
  Shape sshape = ss;
  std::vector<Strides> sst{a.strides(), row_strides(ss)};
  collapse_dims(sshape, sst);
  dispatch_by_size(o.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = static_cast<const U*>(a.raw_data());
    U* dst = static_cast<U*>(o.raw_data());
    auto body = [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int64_t base = 0;
        for (size_t j = 0; j < k; ++j) {
          const array& idx = in[1 + j];
          int ax = gp.axes()[j];
          int64_t v = load_index(idx, offset_of(i, idx_shape, idx.strides()));
          base += wrap_clamp(v, a.shape(ax), ss[ax]) * a.strides()[ax];
        }
        U* d = dst + i * slice_elems;
        if (slice_elems == 1) {
          *d = src[base];
          continue;
        }
        int64_t as = sst[0].back(), ds = sst[1].back();
        for_each_row(sshape, sst, 0, num_rows(sshape), [&](const int64_t* off, int64_t n) {
          const U* s = src + base + off[0];
          U* dd = d + off[1];
          for (int64_t t = 0; t < n; ++t) dd[t * ds] = s[t * as];
        });
      }
    };
    if (cfg.threads && n_idx * slice_elems >= 2 * kElementwiseGrain && n_idx > 1) {
      parallel_for(n_idx, std::max<int64_t>(1, kElementwiseGrain / slice_elems), body);
    } else {
      body(0, n_idx);
    }
  });
}

void scatter_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                    const ElementwiseConfig& cfg) {
  auto& sp = static_cast<const Scatter&>(p);
  const array& a = in[0];
  const array& upd = in.back();
  const size_t k = in.size() - 2;
  array& o = out[0];
  Strides rs = row_strides(o.shape());
  if (a.is_donatable() && a.flags().row_contiguous && a.data_size() == a.size() && a.itemsize() == o.itemsize()) {
    // Nothing else holds the source (a KV cache buffer written at a position given as data): the
    // output takes its buffer and only the updated elements are written.
    o.copy_shared_buffer(a);
  } else {
    o.set_data(allocator::malloc(o.nbytes()));
    if (o.size() == 0) return;
    copy_strided(a, o.raw_data(), rs, cfg.threads);
  }
  if (upd.size() == 0) return;
  const size_t idx_nd = upd.ndim() - a.ndim();
  const Shape idx_shape(upd.shape().begin(), upd.shape().begin() + idx_nd);
  const Shape slice(upd.shape().begin() + idx_nd, upd.shape().end());
  const int64_t n_idx = prod(idx_shape);
  Shape sshape = slice;
  std::vector<Strides> sst{rs, Strides(upd.strides().begin() + idx_nd, upd.strides().end())};
  collapse_dims(sshape, sst);
  const int64_t rows = num_rows(sshape);
  dispatch_all_types(o.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = o.data<T>();
    const T* u = static_cast<const T*>(upd.raw_data());
    dispatch_update_mode(sp.mode(), [&](auto mode) {
      constexpr UpdateMode M = decltype(mode)::value;
      const int64_t ds = sst[0].back(), us = sst[1].back();
      for (int64_t i = 0; i < n_idx; ++i) {
        int64_t base = 0;
        for (size_t j = 0; j < k; ++j) {
          const array& idx = in[1 + j];
          int ax = sp.axes()[j];
          int64_t v = load_index(idx, offset_of(i, idx_shape, idx.strides()));
          base += wrap_clamp(v, o.shape(ax), slice[ax]) * rs[ax];
        }
        int64_t ubase = offset_of(i, idx_shape, upd.strides());
        for_each_row(sshape, sst, 0, rows, [&](const int64_t* off, int64_t n) {
          T* d = dst + base + off[0];
          const T* uu = u + ubase + off[1];
          for (int64_t t = 0; t < n; ++t) apply_update<M>(d[t * ds], uu[t * us]);
        });
      }
    });
  });
}

void gather_axis_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                        const ElementwiseConfig& cfg) {
  int axis = static_cast<const GatherAxis&>(p).axis();
  const array& a = in[0];
  const array& idx = in[1];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  const int64_t ax_stride = a.strides()[axis];
  const int64_t dim = a.shape(axis);
  Strides as = a.strides();
  as[axis] = 0;
  Shape shape = o.shape();
  std::vector<Strides> st{row_strides(o.shape()), idx.strides(), as};
  collapse_dims(shape, st);
  dispatch_by_size(o.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = static_cast<const U*>(a.raw_data());
    U* dst = static_cast<U*>(o.raw_data());
    const int64_t os = st[0].back(), is = st[1].back(), sa = st[2].back();
    run_rows(shape, st, cfg.threads, [&](const int64_t* off, int64_t n) {
      for (int64_t t = 0; t < n; ++t) {
        int64_t v = wrap_clamp(load_index(idx, off[1] + t * is), dim, 1);
        dst[off[0] + t * os] = src[off[2] + t * sa + v * ax_stride];
      }
    });
  });
}

void scatter_axis_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                         const ElementwiseConfig& cfg) {
  auto& sp = static_cast<const ScatterAxis&>(p);
  int axis = sp.axis();
  const array& a = in[0];
  const array& idx = in[1];
  const array& upd = in[2];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  Strides rs = row_strides(o.shape());
  copy_strided(a, o.raw_data(), rs, cfg.threads);
  if (upd.size() == 0) return;
  const int64_t ax_stride = rs[axis];
  const int64_t dim = o.shape(axis);
  Strides os = rs;
  os[axis] = 0;
  Shape shape = upd.shape();
  std::vector<Strides> st{os, idx.strides(), upd.strides()};
  collapse_dims(shape, st);
  dispatch_all_types(o.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* dst = o.data<T>();
    const T* u = static_cast<const T*>(upd.raw_data());
    dispatch_update_mode(sp.mode(), [&](auto mode) {
      constexpr UpdateMode M = decltype(mode)::value;
      const int64_t ds = st[0].back(), is = st[1].back(), us = st[2].back();
      for_each_row(shape, st, 0, num_rows(shape), [&](const int64_t* off, int64_t n) {
        for (int64_t t = 0; t < n; ++t) {
          int64_t v = wrap_clamp(load_index(idx, off[1] + t * is), dim, 1);
          apply_update<M>(dst[off[0] + t * ds + v * ax_stride], u[off[2] + t * us]);
        }
      });
    });
  });
}

void masked_scatter_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                           const ElementwiseConfig& cfg) {
  const array& a = in[0];
  const array& mask = in[1];
  const array& src = in[2];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  Strides rs = row_strides(o.shape());
  copy_strided(a, o.raw_data(), rs, cfg.threads);
  const int64_t n_src = int64_t(src.size());
  const int64_t src_stride = src.ndim() > 0 ? src.strides()[0] : 1;
  Shape shape = o.shape();
  std::vector<Strides> st{rs, mask.strides()};
  collapse_dims(shape, st);
  const bool* m = mask.data<bool>();
  dispatch_by_size(o.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* s = static_cast<const U*>(src.raw_data());
    U* dst = static_cast<U*>(o.raw_data());
    const int64_t ds = st[0].back(), ms = st[1].back();
    int64_t next = 0;
    for_each_row(shape, st, 0, num_rows(shape), [&](const int64_t* off, int64_t n) {
      for (int64_t t = 0; t < n && next < n_src; ++t) {
        if (m[off[1] + t * ms]) dst[off[0] + t * ds] = s[(next++) * src_stride];
      }
    });
  });
}

}  // namespace tessera
