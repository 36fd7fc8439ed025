#include "backend/common/elementwise_kernels.h"
#include "backend/common/elementwise_loops.h"
#include "backend/cpu/simd.h"
#include "core/convert.h"

namespace tessera {

namespace {

constexpr int64_t kBlock = 1024;

template <UnaryOp op, typename T>
void unary_typed(const array& a, array& o, const ElementwiseConfig& cfg) {
  using O = unary_out_t<op, T>;
  const T* src = a.data<T>();
  O* dst = o.data<O>();
  constexpr bool f32_path = std::is_same_v<T, float> && std::is_same_v<O, float>;
  constexpr bool half_path = is_half_v<T> && std::is_same_v<O, T>;
  auto contiguous_run = [&](const T* s, O* d, int64_t n) {
    if constexpr (f32_path) {
      if (cfg.simd && simd::unary_f32(op, s, d, n)) return;
    } else if constexpr (half_path) {
      if (cfg.simd && simd::has_unary_f32(op)) {
        float buf[kBlock];
        for (int64_t i = 0; i < n; i += kBlock) {
          int64_t m = std::min(kBlock, n - i);
          copy_convert(s + i, dtype_of<T>(), buf, float32, size_t(m));
          simd::unary_f32(op, buf, buf, m);
          copy_convert(buf, float32, d + i, dtype_of<T>(), size_t(m));
        }
        return;
      }
    }
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<O>(scalar::unary<op>(s[i]));
  };
  if (same_dense_layout({&a}) && o.flags().row_contiguous && a.flags().row_contiguous) {
    run_flat(int64_t(a.size()), cfg.threads,
             [&](int64_t b, int64_t e) { contiguous_run(src + b, dst + b, e - b); });
    return;
  }
  Shape shape = a.shape();
  std::vector<Strides> st{a.strides(), o.strides()};
  collapse_dims(shape, st);
  int64_t sa = st[0].back();
  run_rows(shape, st, cfg.threads, [&](const int64_t* off, int64_t n) {
    if (sa == 1) {
      contiguous_run(src + off[0], dst + off[1], n);
    } else {
      const T* s = src + off[0];
      O* d = dst + off[1];
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<O>(scalar::unary<op>(s[i * sa]));
    }
  });
}

}  // namespace

void unary_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                  const ElementwiseConfig& cfg) {
  UnaryOp op = static_cast<const Unary&>(p).op();
  const array& a = in[0];
  array& o = out[0];
  if (op == UnaryOp::StopGradient) {
    o.copy_shared_buffer(a);
    return;
  }
  prepare_output(o, in);
  if (o.size() == 0) return;
  bool done = false;
  dispatch_enum(op, [&](auto op_c) {
    constexpr UnaryOp kOp = decltype(op_c)::value;
    dispatch_all_types(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (unary_accepts<T>(kOp) && kOp != UnaryOp::StopGradient) {
        unary_typed<kOp, T>(a, o, cfg);
        done = true;
      }
    });
  });
  if (!done) {
    throw std::invalid_argument(std::string("[") + unary_info(op).name + "] Unsupported dtype " +
                                dtype_name(a.dtype()) + ".");
  }
}

}  // namespace tessera
