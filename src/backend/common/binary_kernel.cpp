#include "backend/common/elementwise_kernels.h"
#include "backend/common/elementwise_loops.h"
#include "backend/cpu/simd.h"
#include "core/convert.h"

namespace tessera {

namespace {

constexpr int64_t kBlock = 1024;

// Runs of n outputs where each input steps by 0 (a broadcast scalar) or 1.
template <BinaryOp op, typename T, typename O>
void binary_run(const T* a, int64_t sa, const T* b, int64_t sb, O* d, int64_t n, bool simd_ok) {
  if constexpr (std::is_same_v<T, float> && std::is_same_v<O, float>) {
    if (simd_ok && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) &&
        simd::binary_f32(op, a, sa == 0, b, sb == 0, d, n)) {
      return;
    }
  } else if constexpr (is_half_v<T> && std::is_same_v<O, T>) {
    if constexpr (std::is_same_v<T, bfloat16_t>) {
      if (simd_ok && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) &&
          simd::binary_bf16(op, reinterpret_cast<const uint16_t*>(a), sa == 0, reinterpret_cast<const uint16_t*>(b),
                            sb == 0, reinterpret_cast<uint16_t*>(d), n)) {
        return;
      }
    }
    if (simd_ok && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) && simd::has_binary_f32(op)) {
      float ba[kBlock], bb[kBlock];
      float av = sa == 0 ? float(a[0]) : 0.f, bv = sb == 0 ? float(b[0]) : 0.f;
      for (int64_t i = 0; i < n; i += kBlock) {
        int64_t m = std::min(kBlock, n - i);
        if (sa) copy_convert(a + i, dtype_of<T>(), ba, float32, size_t(m));
        if (sb) copy_convert(b + i, dtype_of<T>(), bb, float32, size_t(m));
        simd::binary_f32(op, sa ? ba : &av, sa == 0, sb ? bb : &bv, sb == 0, ba, m);
        copy_convert(ba, float32, d + i, dtype_of<T>(), size_t(m));
      }
      return;
    }
  }
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<O>(scalar::binary<op>(a[i], b[i]));
  } else if (sa == 0 && sb == 1) {
    T av = a[0];
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<O>(scalar::binary<op>(av, b[i]));
  } else if (sa == 1 && sb == 0) {
    T bv = b[0];
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<O>(scalar::binary<op>(a[i], bv));
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<O>(scalar::binary<op>(a[i * sa], b[i * sb]));
  }
}

template <BinaryOp op, typename T>
void binary_typed(const array& a, const array& b, array& o, const ElementwiseConfig& cfg) {
  using O = binary_out_t<op, T>;
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  O* po = o.data<O>();
  bool a_scalar = a.data_size() == 1, b_scalar = b.data_size() == 1;
  bool a_flat = a.flags().row_contiguous, b_flat = b.flags().row_contiguous;
  if ((a_flat || a_scalar) && (b_flat || b_scalar)) {
    int64_t sa = a_scalar ? 0 : 1, sb = b_scalar ? 0 : 1;
    run_flat(int64_t(o.size()), cfg.threads, [&](int64_t s, int64_t e) {
      binary_run<op, T, O>(pa + s * sa, sa, pb + s * sb, sb, po + s, e - s, cfg.simd);
    });
    return;
  }
  Shape shape = o.shape();
  std::vector<Strides> st{a.strides(), b.strides(), o.strides()};
  collapse_dims(shape, st);
  int64_t sa = st[0].back(), sb = st[1].back();
  run_rows(shape, st, cfg.threads, [&](const int64_t* off, int64_t n) {
    binary_run<op, T, O>(pa + off[0], sa, pb + off[1], sb, po + off[2], n, cfg.simd);
  });
}

}  // namespace

void binary_kernel(const Primitive& p, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg) {
  BinaryOp op = static_cast<const Binary&>(p).op();
  const array& a = in[0];
  const array& b = in[1];
  array& o = out[0];
  prepare_output(o, in);
  if (o.size() == 0) return;
  bool done = false;
  dispatch_enum(op, [&](auto op_c) {
    constexpr BinaryOp kOp = decltype(op_c)::value;
    dispatch_all_types(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (binary_accepts<T>(kOp)) {
        binary_typed<kOp, T>(a, b, o, cfg);
        done = true;
      }
    });
  });
  if (!done) {
    throw std::invalid_argument(std::string("[") + binary_info(op).name + "] Unsupported dtype " +
                                dtype_name(a.dtype()) + ".");
  }
}

void select_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg) {
  const array& c = in[0];
  const array& x = in[1];
  const array& y = in[2];
  array& o = out[0];
  prepare_output(o, {x, y});
  if (o.size() == 0) return;
  Shape shape = o.shape();
  std::vector<Strides> st{c.strides(), x.strides(), y.strides(), o.strides()};
  collapse_dims(shape, st);
  int64_t sc = st[0].back(), sx = st[1].back(), sy = st[2].back();
  dispatch_by_size(o.itemsize(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const bool* pc = c.data<bool>();
    const U* px = static_cast<const U*>(x.raw_data());
    const U* py = static_cast<const U*>(y.raw_data());
    U* po = static_cast<U*>(o.raw_data());
    run_rows(shape, st, cfg.threads, [&](const int64_t* off, int64_t n) {
      const bool* cc = pc + off[0];
      const U* xx = px + off[1];
      const U* yy = py + off[2];
      U* oo = po + off[3];
      // Unit-stride rows with at most one broadcast value (a causal mask over scores, its
      // gradient against a zero) select with a bit mask: both sides are read unconditionally,
      // so the compiler vectorizes the loop.
      auto blend = [](bool c, U a, U b) {
        const U m = U(0) - U(c);
        return U((a & m) | (b & ~m));
      };
      if (sc == 1 && sx == 1 && sy == 1) {
        for (int64_t i = 0; i < n; ++i) oo[i] = blend(cc[i], xx[i], yy[i]);
      } else if (sc == 1 && sx == 1 && sy == 0) {
        const U y = yy[0];
        for (int64_t i = 0; i < n; ++i) oo[i] = blend(cc[i], xx[i], y);
      } else if (sc == 1 && sx == 0 && sy == 1) {
        const U x = xx[0];
        for (int64_t i = 0; i < n; ++i) oo[i] = blend(cc[i], x, yy[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) oo[i] = cc[i * sc] ? xx[i * sx] : yy[i * sy];
      }
    });
  });
}

void astype_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                   const ElementwiseConfig& cfg) {
  const array& a = in[0];
  array& o = out[0];
  if (a.dtype() == o.dtype()) {
    o.copy_shared_buffer(a);
    return;
  }
  prepare_output(o, in);
  if (o.size() == 0) return;
  if (a.flags().row_contiguous) {
    const char* s = static_cast<const char*>(a.raw_data());
    char* d = static_cast<char*>(o.raw_data());
    size_t is = a.itemsize(), os = o.itemsize();
    run_flat(int64_t(a.size()), cfg.threads, [&](int64_t b, int64_t e) {
      copy_convert(s + b * is, a.dtype(), d + b * os, o.dtype(), size_t(e - b));
    });
    return;
  }
  Shape shape = a.shape();
  std::vector<Strides> st{a.strides(), o.strides()};
  collapse_dims(shape, st);
  int64_t sa = st[0].back();
  size_t is = a.itemsize(), os = o.itemsize();
  const char* s = static_cast<const char*>(a.raw_data());
  char* d = static_cast<char*>(o.raw_data());
  run_rows(shape, st, cfg.threads, [&](const int64_t* off, int64_t n) {
    if (sa == 1) {
      copy_convert(s + off[0] * int64_t(is), a.dtype(), d + off[1] * int64_t(os), o.dtype(), size_t(n));
    } else {
      for (int64_t i = 0; i < n; ++i) {
        copy_convert(s + (off[0] + i * sa) * int64_t(is), a.dtype(), d + (off[1] + i) * int64_t(os), o.dtype(), 1);
      }
    }
  });
}

}  // namespace tessera
