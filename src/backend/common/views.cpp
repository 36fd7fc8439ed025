// View kernels: outputs share the input's buffer with new shape/strides/offset. Identical on
// every backend whose memory is addressable from the host.
#include <numeric>

#include "backend/backend.h"
#include "backend/common/layout.h"
#include "backend/common/views.h"
#include "primitives/elementwise.h"
#include "primitives/shape.h"

namespace tessera {

namespace {

void share(array& out, const array& in, Strides strides, int64_t offset) {
  Layout l = layout_of(out.shape(), strides);
  out.copy_shared_buffer(in, std::move(strides), l.flags, l.data_size, offset);
}

// Strides for viewing `in` as `shape` without copying, if possible (NumPy's no-copy reshape).
bool nocopy_reshape(const array& in, const Shape& shape, Strides& out) {
  Shape od;
  Strides os;
  for (size_t i = 0; i < in.ndim(); ++i) {
    if (in.shape(i) != 1) {
      od.push_back(in.shape(i));
      os.push_back(in.strides()[i]);
    }
  }
  out.assign(shape.size(), 0);
  size_t oi = 0, oj = 1, ni = 0, nj = 1;
  const size_t oldnd = od.size(), newnd = shape.size();
  while (ni < newnd && oi < oldnd) {
    int64_t np = shape[ni], op = od[oi];
    while (np != op) {
      if (np < op) {
        if (nj >= newnd) return false;
        np *= shape[nj++];
      } else {
        if (oj >= oldnd) return false;
        op *= od[oj++];
      }
    }
    for (size_t ok = oi; ok + 1 < oj; ++ok) {
      if (os[ok] != od[ok + 1] * os[ok + 1]) return false;
    }
    out[nj - 1] = os[oj - 1];
    for (size_t nk = nj - 1; nk > ni; --nk) out[nk - 1] = out[nk] * shape[nk];
    ni = nj++;
    oi = oj++;
  }
  int64_t last = ni > 0 ? out[ni - 1] : 1;
  for (size_t nk = ni; nk < newnd; ++nk) out[nk] = last;
  return oi >= oldnd || oldnd == 0;
}

}  // namespace

void reshape_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  const array& a = in[0];
  array& o = out[0];
  if (a.flags().row_contiguous) {
    share(o, a, row_strides(o.shape()), 0);
    return;
  }
  Strides st;
  if (a.size() > 0 && nocopy_reshape(a, o.shape(), st)) {
    share(o, a, std::move(st), 0);
    return;
  }
  o.set_data(allocator::malloc(o.nbytes()));
  copy_strided(a, o.raw_data(), row_strides(a.shape()), cfg.threads);
}

void transpose_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  auto& axes = static_cast<const Transpose&>(p).axes();
  Strides st(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) st[i] = in[0].strides()[axes[i]];
  share(out[0], in[0], std::move(st), 0);
}

void broadcast_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  const array& a = in[0];
  array& o = out[0];
  size_t diff = o.ndim() - a.ndim();
  Strides st(o.ndim(), 0);
  for (size_t i = 0; i < a.ndim(); ++i) st[diff + i] = (a.shape(i) == 1 && o.shape(diff + i) != 1) ? 0 : a.strides()[i];
  Layout l = layout_of(o.shape(), st);
  // A broadcast view is never dense unless nothing was broadcast.
  out[0].copy_shared_buffer(a, st, l.flags, l.flags.contiguous ? l.data_size : a.data_size(), 0);
}

void slice_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  auto& sp = static_cast<const Slice&>(p);
  const array& a = in[0];
  if (out[0].size() == 0) {
    out[0].set_data(allocator::malloc(0));
    return;
  }
  int64_t offset = 0;
  Strides st(a.ndim());
  for (size_t i = 0; i < a.ndim(); ++i) {
    offset += int64_t(sp.start()[i]) * a.strides()[i];
    st[i] = a.strides()[i] * sp.strides()[i];
  }
  share(out[0], a, std::move(st), offset);
}

void as_strided_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  auto& ap = static_cast<const AsStrided&>(p);
  // The op guarantees the input is row-contiguous, so offsets are in its element order.
  share(out[0], in[0], ap.strides(), int64_t(ap.offset()));
}

void view_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  const array& a = in[0];
  array& o = out[0];
  if (a.itemsize() == o.itemsize()) {
    o.copy_shared_buffer(a, a.strides(), a.flags(), a.data_size());
    return;
  }
  if (a.flags().row_contiguous) {
    o.copy_shared_buffer(a, row_strides(o.shape()), array::Flags{true, true, o.ndim() <= 1},
                         a.data_size() * a.itemsize() / o.itemsize());
    return;
  }
  // Copy to row-major first, then reinterpret.
  array tmp(a.shape(), a.dtype(), nullptr, {});
  copy_to_row_contiguous(a, tmp, cfg.threads);
  o.copy_shared_buffer(tmp, row_strides(o.shape()), array::Flags{true, true, o.ndim() <= 1},
                       tmp.size() * tmp.itemsize() / o.itemsize());
}

void copy_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  copy_to_row_contiguous(in[0], out[0], cfg.threads);
}

void contiguous_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  const array& a = in[0];
  bool col_ok = static_cast<const Contiguous&>(p).allow_col_major() && a.flags().col_contiguous;
  if (a.flags().row_contiguous || col_ok) {
    out[0].copy_shared_buffer(a);
    return;
  }
  copy_to_row_contiguous(a, out[0], cfg.threads);
}

}  // namespace tessera
