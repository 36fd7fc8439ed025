#include "backend/common/creation_kernels.h"

#include "backend/common/elementwise_loops.h"
#include "primitives/creation.h"

namespace tessera {

void arange_kernel(const Primitive& p, const std::vector<array>&, std::vector<array>& out,
                   const ElementwiseConfig&) {
  auto& ap = static_cast<const Arange&>(p);
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  dispatch_all_types(o.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = o.data<T>();
    if constexpr (std::is_integral_v<T>) {
      // Integer ranges step exactly (no float64 rounding for large values).
      int64_t v = int64_t(ap.start()), st = int64_t(ap.step());
      if (double(v) == ap.start() && double(st) == ap.step()) {
        for (size_t i = 0; i < o.size(); ++i, v += st) d[i] = T(v);
        return;
      }
    }
    for (size_t i = 0; i < o.size(); ++i) d[i] = convert_value<T>(ap.start() + double(i) * ap.step());
  });
}

void full_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                 const ElementwiseConfig& cfg) {
  const array& v = in[0];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  if (o.size() == 0) return;
  if (v.data_size() == 1) {
    dispatch_by_size(o.itemsize(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      U val = *static_cast<const U*>(v.raw_data());
      U* d = static_cast<U*>(o.raw_data());
      run_flat(int64_t(o.size()), cfg.threads, [&](int64_t b, int64_t e) { std::fill(d + b, d + e, val); });
    });
    return;
  }
  copy_strided(v, o.raw_data(), o.strides(), cfg.threads);
}

}  // namespace tessera
