#include "backend/common/random_kernels.h"

#include "backend/common/elementwise_loops.h"
#include "primitives/random.h"

namespace tessera {

namespace {

// Element offset of flat (row-major) index `i` of `a`.
int64_t elem_offset(const array& a, int64_t i) {
  int64_t off = 0;
  for (int d = int(a.ndim()) - 1; d >= 0; --d) {
    int64_t n = a.shape(d);
    off += (i % n) * a.strides(d);
    i /= n;
  }
  return off;
}

}  // namespace

void random_bits_kernel(const Primitive&, const std::vector<array>& in, std::vector<array>& out,
                        const ElementwiseConfig& cfg) {
  const array& keys = in[0];
  array& o = out[0];
  o.set_data(allocator::malloc(o.nbytes()));
  size_t num_keys = keys.size() / 2;
  if (o.size() == 0 || num_keys == 0) return;
  const uint32_t* kp = keys.data<uint32_t>();
  size_t bytes_per_key = o.nbytes() / num_keys;
  threefry::Layout layout(bytes_per_key);
  auto* base = static_cast<uint8_t*>(o.raw_data());
  std::vector<threefry::Pair> key_vals(num_keys);
  for (size_t k = 0; k < num_keys; ++k) {
    key_vals[k] = {kp[elem_offset(keys, int64_t(2 * k))], kp[elem_offset(keys, int64_t(2 * k + 1))]};
  }
  // Work items are (key, pair) couples; every word depends only on its key and counter, so any
  // split across threads writes the same bytes.
  int64_t pairs = int64_t(std::max<size_t>(layout.half, 1));
  int64_t total = int64_t(num_keys) * pairs;
  auto body = [&](int64_t b, int64_t e) {
    while (b < e) {
      int64_t k = b / pairs;
      int64_t p0 = b % pairs;
      int64_t p1 = std::min<int64_t>(pairs, p0 + (e - b));
      uint8_t* dst = base + size_t(k) * bytes_per_key;
      // With half == 0 (one word) the single item fills the middle word.
      size_t lo = layout.half == 0 ? 0 : size_t(p0), hi = layout.half == 0 ? 0 : size_t(p1);
      threefry::fill_bits(key_vals[size_t(k)], layout, lo, hi, dst);
      b += p1 - p0;
    }
  };
  // Each pair writes 8 bytes; split in chunks of the elementwise grain measured in bytes.
  if (cfg.threads && total * 8 >= 2 * kElementwiseGrain * 4) {
    parallel_for(total, kElementwiseGrain / 2, body);
  } else {
    body(0, total);
  }
}

}  // namespace tessera
