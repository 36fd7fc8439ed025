// Matrix-vector products with 4- and 8-bit affine-quantized weights (the decode step of a
// quantized model): out[m, n] = sum_g scale[n, g] * (q[n, g] . x[m, g]) + bias[n, g] * sum(x[m, g]).
// Bytes of w are widened in registers and scales and biases are read in their stored type, so
// the product reads each weight byte once and nothing else of size; threads split the rows of w.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "backend/cpu/float_type_code.h"
#include "core/convert.h"
#include "tessera/dtype.h"

namespace tessera {

// The sums of x [M, K] over consecutive groups of group_size values: [M, K / group_size], the
// factor of each group's bias in an affine-quantized product.
std::vector<float> group_sums(const float* x, int64_t M, int64_t K, int64_t group_size);

// True when quantized_matvec handles this layout on this CPU: bits 4 or 8, a group size the
// vector width divides (4 bits: two vectors' worth of values), scales in float32, bfloat16 or
// float16, and at most four rows of x.
bool quantized_matvec_supported(int bits, int group_size, Dtype scale_type, int64_t M);

// x [M, K] float32 rows; w [N, K * bits / 32] words; scales, biases [N, K / group_size] in
// scale_type; out [M, N] float32 (row stride N).
void quantized_matvec(int bits, int group_size, const uint32_t* w, const void* scales, const void* biases,
                      Dtype scale_type, const float* x, int64_t M, int64_t N, int64_t K, float* out);

// The same product for 4 bits on AVX512-BF16 dot products (quantized_matvec_bf16.cpp):
// group sizes that are multiples of 32, K a multiple of 64, float32 x of up to four rows.
bool quantized_matvec_bf16_supported(int bits, int group_size, Dtype scale_type, int64_t M, int64_t K);
void quantized_matvec_bf16(int group_size, const uint32_t* w, const void* scales, const void* biases,
                           Dtype scale_type, const float* x, int64_t M, int64_t N, int64_t K, float* out);

// The same product with x quantized to int8 per 32 values (scale max|x| / 127, llama.cpp's Q8_0
// scheme) on AVX512-VNNI int8 dot products (quantized_matvec_int8.cpp): bits 4 or 8, group sizes
// that are multiples of 32 and tile (or are tiled by) 128 values for 4 bits / 64 for 8 bits, K a
// multiple of 64, up to four rows. Returns false, having written nothing, when x holds a NaN or
// an infinity (int8 codes cannot carry them): the caller runs an exact kernel instead.
// Per-row scales (or biases) of G groups, stored as S, handed to a kernel as float32 a window of
// rows at a time: about 2048 values per conversion (a multiple of 4 rows), where a conversion per
// block of four rows cost more than the conversion itself for short rows (a 576-wide row has 18
// groups), and small enough to stay in L1 beside the weights. The window keeps kPad zeros after
// its last row for kernels that read a vector of groups at once.
template <typename S>
class WidenedRows {
 public:
  static constexpr int64_t kPad = 16;
  WidenedRows(const S* src, int64_t G, int64_t end)
      : src_(src), G_(G), end_(end), window_(std::max<int64_t>(4, 2048 / std::max<int64_t>(G, 1) / 4 * 4)),
        buf_(size_t(window_ * G + kPad)) {}
  // Rows per conversion: a multiple of 4, at least 4.
  int64_t window() const { return window_; }
  // Rows [n, n + rows) as float32 (row stride G); rows <= window(), n + rows <= end.
  const float* at(int64_t n, int64_t rows) {
    if (n < first_ || n + rows > first_ + count_) {
      first_ = n;
      count_ = std::min(window_, end_ - n);
      copy_convert(src_ + n * G_, float_dtype_of<S>(), buf_.data(), float32, size_t(count_ * G_));
      std::fill(buf_.begin() + count_ * G_, buf_.end(), 0.f);
    }
    return buf_.data() + (n - first_) * G_;
  }

 private:
  const S* src_;
  int64_t G_, end_, window_, first_ = 0, count_ = 0;
  std::vector<float> buf_;
};

bool quantized_matvec_int8_supported(int bits, int group_size, Dtype scale_type, int64_t M, int64_t K);
bool quantized_matvec_int8(int bits, int group_size, const uint32_t* w, const void* scales, const void* biases,
                           Dtype scale_type, const float* x, int64_t M, int64_t N, int64_t K, float* out);

}  // namespace tessera
