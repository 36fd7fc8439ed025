// Convolution by its definition: nested loops over output positions, output channels, kernel
// taps and input channels, float64 accumulation. Inputs are read through their strides.
#include "backend/reference/conv.h"

#include <stdexcept>
#include <string>

#include "core/dispatch.h"
#include "primitives/conv.h"

namespace tessera {

void reference_conv(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  auto& cp = static_cast<const Convolution&>(p);
  const array& x = in[0];
  const array& w = in[1];
  array& y = out[0];
  y.set_data(allocator::malloc(y.nbytes()));
  const int D = int(x.ndim()) - 2;
  const int64_t N = x.shape(0), c_in = x.shape(-1), c_out = w.shape(0);
  const int64_t groups = cp.groups(), cig = c_in / groups, cog = c_out / groups;
  std::vector<int64_t> L(D), K(D), O(D);
  int64_t n_out = 1, n_taps = 1;
  for (int d = 0; d < D; ++d) {
    L[d] = x.shape(1 + d);
    K[d] = w.shape(1 + d);
    O[d] = y.shape(1 + d);
    n_out *= O[d];
    n_taps *= K[d];
  }
  const auto& xs = x.strides();
  const auto& ws = w.strides();
  dispatch_all_types(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_float_v<T>) {
      const T* px = x.data<T>();
      const T* pw = w.data<T>();
      T* py = y.data<T>();
      std::vector<int64_t> o(D), k(D);
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t oi = 0; oi < n_out; ++oi) {
          for (int64_t r = oi, d = D - 1; d >= 0; --d) {
            o[d] = r % O[d];
            r /= O[d];
          }
          for (int64_t co = 0; co < c_out; ++co) {
            const int64_t g = co / cog;
            double acc = 0;
            for (int64_t ki = 0; ki < n_taps; ++ki) {
              for (int64_t r = ki, d = D - 1; d >= 0; --d) {
                k[d] = r % K[d];
                r /= K[d];
              }
              // Position in the dilated, padded input; skip the zeros of padding and dilation.
              bool valid = true;
              int64_t x_off = n * xs[0], w_off = co * ws[0];
              for (int d = 0; d < D && valid; ++d) {
                int64_t tap = cp.flip() ? K[d] - 1 - k[d] : k[d];
                int64_t pos = o[d] * cp.stride()[d] - cp.padding_lo()[d] + tap * cp.kernel_dilation()[d];
                int64_t idil = cp.input_dilation()[d];
                if (pos < 0 || pos % idil != 0 || pos / idil >= L[d]) {
                  valid = false;
                  break;
                }
                x_off += (pos / idil) * xs[1 + d];
                w_off += k[d] * ws[1 + d];
              }
              if (!valid) continue;
              for (int64_t ci = 0; ci < cig; ++ci) {
                acc += double(px[x_off + (g * cig + ci) * xs[D + 1]]) * double(pw[w_off + ci * ws[D + 1]]);
              }
            }
            py[(n * n_out + oi) * c_out + co] = T(acc);
          }
        }
      }
    } else {
      throw std::invalid_argument("[conv] has no reference kernel for " + std::string(dtype_name(y.dtype())));
    }
  });
}

}  // namespace tessera
