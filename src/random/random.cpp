// tessera::random (follows MLX's random.cpp: names, argument order and methods). Every sampler is
// built from RandomBits (Threefry-2x32) and ordinary ops, so it is deterministic for a given key
// on every backend and thread count, and each backend only needs the one bits kernel.
#include "tessera/random.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>

#include "ops/op_utils.h"
#include "primitives/random.h"

namespace tessera::random {

namespace {

void check_key(const array& key, const char* op) {
  if (key.dtype() != uint32) {
    throw_invalid(op, "Expected key type uint32 but received ", dtype_name(key.dtype()), ".");
  }
  if (key.shape() != Shape{2}) throw_invalid(op, "Expected key shape (2) but received ", shape_str(key.shape()), ".");
}

array key_from_words(uint32_t k0, uint32_t k1) {
  uint32_t w[2] = {k0, k1};
  return array(w, Shape{2}, uint32);
}

// The global key sequence: split on each draw that gets no key. The state normally lives on the
// host and is split there (with the same Threefry layout as split(key)), so the default key never
// grows a lazy graph and concurrent callers each get a distinct key. Setting the state to an array
// that is not evaluated yet (a compile tracer, or a compiled function's key output) switches the
// sequence to that array: draws then split it as graph ops, which is how a compiled step given the
// random state as captured input draws fresh numbers on every call. The same splits happen either
// way, so both modes hand out the same keys.
class KeySequence {
 public:
  explicit KeySequence(uint64_t s) { seed(s); }
  void seed(uint64_t s) {
    std::lock_guard<std::mutex> l(mu_);
    key_ = {uint32_t(s >> 32), uint32_t(s)};
    lazy_.reset();
  }
  array next() {
    std::lock_guard<std::mutex> l(mu_);
    if (lazy_) {
      auto [state, handed] = split(*lazy_);
      lazy_ = state;
      return handed;
    }
    // split(key) = bits({2, 2}, key): row 0 becomes the new state, row 1 is handed out.
    uint32_t w[4];
    threefry::fill_bits(key_, sizeof(w), reinterpret_cast<uint8_t*>(w));
    key_ = {w[0], w[1]};
    return key_from_words(w[2], w[3]);
  }
  array get() {
    std::lock_guard<std::mutex> l(mu_);
    return lazy_ ? *lazy_ : key_from_words(key_.first, key_.second);
  }
  void set(threefry::Pair k) {
    std::lock_guard<std::mutex> l(mu_);
    key_ = k;
    lazy_.reset();
  }
  void set_lazy(const array& k) {
    std::lock_guard<std::mutex> l(mu_);
    lazy_ = k;
  }

 private:
  std::mutex mu_;
  threefry::Pair key_;
  std::optional<array> lazy_;
};

KeySequence& default_keys() {
  static KeySequence* ks =
      new KeySequence(uint64_t(std::chrono::system_clock::now().time_since_epoch().count()));
  return *ks;
}

array get_key(const std::optional<array>& key, const char* op) {
  if (!key) return default_keys().next();
  check_key(*key, op);
  return *key;
}

array make_bits(const Shape& shape, int width, const array& key, StreamOrDevice s) {
  Dtype dt = width == 1 ? uint8 : width == 2 ? uint16 : uint32;
  return make_node<RandomBits>(shape, dt, {key}, to_stream(s), shape, width);
}

// Significand bits (with the implicit one) of a floating dtype.
int precision_bits(Dtype d) {
  switch (d.val) {
    case Dtype::Val::float16: return 11;
    case Dtype::Val::bfloat16: return 8;
    case Dtype::Val::float64: return 53;
    default: return 24;
  }
}

bool is_real_floating(Dtype d) { return issubdtype(d, floating); }

// Uniform values k * 2^-p, k in [0, 2^p), exactly representable in `dtype` (p its precision):
// never 1. float64 draws 64 bits per value, the others one bits word of their size.
array unit_uniform(const Shape& shape, Dtype dtype, const array& key, StreamOrDevice s) {
  int p = precision_bits(dtype);
  if (dtype == float64) {
    Shape two = shape;
    two.push_back(2);
    array b = make_bits(two, 4, key, s);
    int nd = int(shape.size());
    Shape start(nd + 1, 0), stop = two;
    stop.back() = 1;
    array hi = squeeze(slice(b, start, stop, s), -1, s);
    start.back() = 1;
    stop.back() = 2;
    array lo = squeeze(slice(b, start, stop, s), -1, s);
    // hi * 2^-32 + (lo >> 11) * 2^-53: the top 53 bits, exact in float64.
    array a = multiply(astype(hi, float64, s), array(std::ldexp(1.0, -32), float64), s);
    array c = multiply(astype(right_shift(lo, array(uint32_t(11)), s), float64, s), array(std::ldexp(1.0, -53), float64), s);
    return add(a, c, s);
  }
  int width = int(size_of(dtype));
  array b = make_bits(shape, width, key, s);
  int shift = width * 8 - p;
  if (width == 2) {
    b = right_shift(b, array(uint16_t(shift)), s);
  } else {
    b = right_shift(b, array(uint32_t(shift)), s);
  }
  return multiply(astype(b, dtype, s), array(std::ldexp(1.0, -p), dtype), s);
}

// The neighbour of `from` in the direction of `to` (nextafter, elementwise, in from's float dtype),
// through the integer view of the bits.
array next_toward(const array& from, const array& to, StreamOrDevice s) {
  Dtype d = from.dtype();
  Dtype it = size_of(d) == 8 ? int64 : size_of(d) == 4 ? int32 : int16;
  array i = view(from, it, s);
  array one = astype(array(1), it, s);
  array down = less(to, from, s);
  array zero = zeros({}, d, s);
  array positive = greater(from, zero, s);
  // Toward zero shrinks the magnitude (bits - 1), away from zero grows it (bits + 1).
  array stepped = where(equal(positive, down, s), subtract(i, one, s), add(i, one, s), s);
  // From +-0 the result is the smallest subnormal of the direction's sign.
  int64_t neg_tiny = -(int64_t(1) << (size_of(d) * 8 - 1)) + 1;
  array tiny = where(down, astype(array(neg_tiny), it, s), one, s);
  array res = view(where(equal(from, zero, s), tiny, stepped, s), d, s);
  return where(logical_or(equal(from, to, s), isnan(from, s), s), from, res, s);
}

Shape broadcast_shape_of(const array& a, const array& b, const char* op) {
  return broadcast_shapes(a.shape(), b.shape(), op);
}

void check_broadcasts_to(const Shape& param, const Shape& shape, const char* op) {
  Shape out = broadcast_shapes(shape, param, op);
  if (out != shape) {
    throw_invalid(op, "Cannot generate random values of shape ", shape_str(shape), " from broadcasted shape ",
                  shape_str(out), ".");
  }
}

array uniform_impl(const array& low, const array& high, const Shape& shape, Dtype dtype, const array& key,
                   StreamOrDevice s) {
  array lo = astype(low, dtype, s);
  array hi = astype(high, dtype, s);
  array u = unit_uniform(shape, dtype, key, s);
  array out = add(lo, multiply(subtract(hi, lo, s), u, s), s);
  // Rounding can land on `high`; keep the result inside [low, high) (or (high, low] when reversed).
  array cap = next_toward(hi, lo, s);
  return clip(out, minimum(lo, cap, s), maximum(lo, cap, s), s);
}

}  // namespace

array key(uint64_t seed) { return key_from_words(uint32_t(seed >> 32), uint32_t(seed)); }

void seed(uint64_t seed) { default_keys().seed(seed); }

array get_state() { return default_keys().get(); }

void set_state(const array& key) {
  check_key(key, "random.set_state");
  if (!key.is_evaluated()) {
    default_keys().set_lazy(key);
    return;
  }
  array k = contiguous(key);
  k.eval();
  const uint32_t* w = k.data<uint32_t>();
  default_keys().set({w[0], w[1]});
}

array bits(const Shape& shape, int width, const std::optional<array>& key, StreamOrDevice s) {
  if (width != 1 && width != 2 && width != 4) {
    throw_invalid("random.bits", "Bit width must be in {1, 2, 4} but got ", width, ".");
  }
  detail::shape_size(shape, "random.bits");
  return make_bits(shape, width, get_key(key, "random.bits"), s);
}

array split(const array& key, int num, StreamOrDevice s) {
  check_key(key, "random.split");
  if (num < 0) throw_invalid("random.split", "Number of keys must be non-negative, got ", num, ".");
  return make_bits({num, 2}, 4, key, s);
}

std::pair<array, array> split(const array& key, StreamOrDevice s) {
  array keys = random::split(key, 2, s);
  return {reshape(slice(keys, {0, 0}, {1, 2}, s), {2}, s), reshape(slice(keys, {1, 0}, {2, 2}, s), {2}, s)};
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype, const std::optional<array>& key,
              StreamOrDevice s) {
  if (!is_real_floating(dtype)) {
    throw_invalid("random.uniform", "Can only generate uniform numbers with real floating point type, got ",
                  dtype_name(dtype), ".");
  }
  detail::shape_size(shape, "random.uniform");
  check_broadcasts_to(broadcast_shape_of(low, high, "random.uniform"), shape, "random.uniform");
  return uniform_impl(low, high, shape, dtype, get_key(key, "random.uniform"), s);
}

array uniform(const Shape& shape, Dtype dtype, const std::optional<array>& key, StreamOrDevice s) {
  return uniform(array(0.0f), array(1.0f), shape, dtype, key, s);
}

array normal(const Shape& shape, Dtype dtype, const std::optional<array>& loc, const std::optional<array>& scale,
             const std::optional<array>& key, StreamOrDevice s) {
  if (!is_real_floating(dtype)) {
    throw_invalid("random.normal", "Can only generate normal numbers with real floating point type, got ",
                  dtype_name(dtype), ".");
  }
  detail::shape_size(shape, "random.normal");
  if (loc) check_broadcasts_to(loc->shape(), shape, "random.normal");
  if (scale) check_broadcasts_to(scale->shape(), shape, "random.normal");
  // sqrt(2) * erfinv(u) with u uniform on (-1, 1): the low end is the float just above -1 in
  // `dtype`, so erfinv stays finite.
  double lo = -(1.0 - std::ldexp(1.0, -precision_bits(dtype)));
  array u = uniform_impl(array(lo, dtype), array(1.0, dtype), shape, dtype, get_key(key, "random.normal"), s);
  array applied_scale(std::sqrt(2.0), dtype);
  if (scale) applied_scale = multiply(applied_scale, astype(*scale, dtype, s), s);
  array out = multiply(applied_scale, erfinv(u, s), s);
  if (loc) out = add(astype(*loc, dtype, s), out, s);
  return out;
}

array normal(const Shape& shape, Dtype dtype, const float loc, const float scale, const std::optional<array>& key,
             StreamOrDevice s) {
  std::optional<array> l, sc;
  if (loc != 0.0f) l = array(loc, dtype);
  if (scale != 1.0f) sc = array(scale, dtype);
  return normal(shape, dtype, l, sc, key, s);
}

array multivariate_normal(const array& mean, const array& cov, const Shape& shape, Dtype dtype,
                          const std::optional<array>& key, StreamOrDevice s) {
  const char* op = "random.multivariate_normal";
  if (!is_real_floating(dtype)) throw_invalid(op, "dtype must be a real floating point type, got ", dtype_name(dtype), ".");
  if (mean.ndim() < 1) throw_invalid(op, "mean must have at least one dimension.");
  if (cov.ndim() < 2) throw_invalid(op, "cov must have at least two dimensions.");
  int n = mean.shape(-1);
  if (cov.shape(-1) != cov.shape(-2)) throw_invalid(op, "The last two dimensions of cov must be equal, got ", shape_str(cov.shape()), ".");
  if (cov.shape(-1) != n) {
    throw_invalid(op, "mean ", shape_str(mean.shape()), " and cov ", shape_str(cov.shape()), " have incompatible shapes.");
  }
  Shape mean_batch(mean.shape().begin(), mean.shape().end() - 1);
  Shape cov_batch(cov.shape().begin(), cov.shape().end() - 2);
  Shape out_shape = broadcast_shapes(shape, broadcast_shapes(mean_batch, cov_batch, op), op);
  detail::shape_size(out_shape, op);
  array k = get_key(key, op);
  out_shape.push_back(n);

  // Lower Cholesky factor L (cov = L L^T), built column by column from plain ops so it stays lazy
  // and batched. A pivot that is zero (positive semi-definite cov) gives a zero column.
  Dtype ct = dtype == float64 ? float64 : float32;
  array c = astype(cov, ct, s);
  Shape cs = c.shape();
  array idx = arange(0, n, s);
  array L = zeros(cs, ct, s);
  for (int j = 0; j < n; ++j) {
    Shape start(cs.size(), 0), stop = cs;
    start.back() = j;
    stop.back() = j + 1;
    array v = squeeze(slice(c, start, stop, s), -1, s);  // cov[..., :, j]
    if (j > 0) {
      Shape rs(cs.size(), 0), re = cs;
      rs[cs.size() - 2] = j;
      re[cs.size() - 2] = j + 1;
      array row = swapaxes(slice(L, rs, re, s), -1, -2, s);  // L[..., j, :] as a column
      v = subtract(v, squeeze(matmul(L, row, s), -1, s), s);
    }
    Shape ds(v.ndim(), 0), de = v.shape();
    ds.back() = j;
    de.back() = j + 1;
    array pivot = sqrt(maximum(slice(v, ds, de, s), zeros({}, ct, s), s), s);
    array col = where(greater(pivot, zeros({}, ct, s), s), divide(v, pivot, s), zeros({}, ct, s), s);
    col = multiply(col, astype(greater_equal(idx, array(j), s), ct, s), s);
    array onehot = astype(equal(idx, array(j), s), ct, s);
    L = add(L, multiply(expand_dims(col, -1, s), onehot, s), s);
  }
  array z = normal(out_shape, ct, std::nullopt, std::nullopt, k, s);
  array x = squeeze(matmul(expand_dims(z, -2, s), swapaxes(L, -1, -2, s), s), -2, s);
  return astype(add(astype(mean, ct, s), x, s), dtype, s);
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype, const std::optional<array>& key,
              StreamOrDevice s) {
  if (issubdtype(dtype, inexact)) {
    throw_invalid("random.randint", "randint only accepts integer dtypes and bool, got ", dtype_name(dtype), ".");
  }
  detail::shape_size(shape, "random.randint");
  check_broadcasts_to(broadcast_shape_of(low, high, "random.randint"), shape, "random.randint");
  array k = get_key(key, "random.randint");
  // The integers in [low, high) are [ceil(low), ceil(high)); pick one as floor(range * u) in
  // float64. 64-bit dtypes use 53 random bits, the others 32 (exact for ranges up to 2^32).
  array lo = ceil(astype(low, float64, s), s);
  array hi = ceil(astype(high, float64, s), s);
  array u = size_of(dtype) == 8
                ? unit_uniform(shape, float64, k, s)
                : multiply(astype(make_bits(shape, 4, k, s), float64, s), array(std::ldexp(1.0, -32), float64), s);
  array v = add(lo, floor(multiply(subtract(hi, lo, s), u, s), s), s);
  return astype(maximum(v, lo, s), dtype, s);  // an empty range gives low
}

array bernoulli(const array& p, const Shape& shape, const std::optional<array>& key, StreamOrDevice s) {
  if (!is_real_floating(p.dtype())) {
    throw_invalid("random.bernoulli", "The probability p must be a floating point array, got ", dtype_name(p.dtype()), ".");
  }
  detail::shape_size(shape, "random.bernoulli");
  Shape out = broadcast_shapes(p.shape(), shape, "random.bernoulli");
  if (out != shape) {
    throw_invalid("random.bernoulli", "Shape of p ", shape_str(p.shape()), " is incompatible with shape ", shape_str(shape), ".");
  }
  array u = unit_uniform(shape, p.dtype(), get_key(key, "random.bernoulli"), s);
  return less(u, p, s);
}

array bernoulli(const array& p, const std::optional<array>& key, StreamOrDevice s) {
  return bernoulli(p, p.shape(), key, s);
}

array bernoulli(const std::optional<array>& key, StreamOrDevice s) { return bernoulli(array(0.5f), key, s); }

array truncated_normal(const array& lower, const array& upper, const Shape& shape, Dtype dtype,
                       const std::optional<array>& key, StreamOrDevice s) {
  const char* op = "random.truncated_normal";
  if (!is_real_floating(dtype)) {
    throw_invalid(op, "Can only generate truncated normal numbers with real floating point type, got ", dtype_name(dtype), ".");
  }
  detail::shape_size(shape, op);
  check_broadcasts_to(broadcast_shape_of(lower, upper, op), shape, op);
  array k = get_key(key, op);
  // Inverse CDF: u uniform on [erf(lower/sqrt2), erf(upper/sqrt2)), x = sqrt2 * erfinv(u), clipped
  // to the bounds against rounding (the method of JAX's and MLX's truncated_normal).
  array sqrt2(std::sqrt(2.0), dtype);
  array lo = astype(lower, dtype, s);
  array hi = astype(upper, dtype, s);
  array a = erf(divide(lo, sqrt2, s), s);
  array b = erf(divide(hi, sqrt2, s), s);
  array u = uniform_impl(a, b, shape, dtype, k, s);
  array out = multiply(sqrt2, erfinv(u, s), s);
  return maximum(minimum(hi, out, s), lo, s);
}

array truncated_normal(const array& lower, const array& upper, Dtype dtype, const std::optional<array>& key,
                       StreamOrDevice s) {
  return truncated_normal(lower, upper, broadcast_shape_of(lower, upper, "random.truncated_normal"), dtype, key, s);
}

array gumbel(const Shape& shape, Dtype dtype, const std::optional<array>& key, StreamOrDevice s) {
  if (!is_real_floating(dtype)) {
    throw_invalid("random.gumbel", "Can only generate Gumbel numbers with real floating point type, got ", dtype_name(dtype), ".");
  }
  detail::shape_size(shape, "random.gumbel");
  // -log(-log(u)) with u in [tiny, 1), tiny the smallest normal of dtype, so the result is finite.
  double tiny = dtype == float64 ? std::numeric_limits<double>::min()
                : dtype == float16 ? std::ldexp(1.0, -14)
                                   : double(std::numeric_limits<float>::min());
  array u = uniform_impl(array(tiny, dtype), array(1.0, dtype), shape, dtype, get_key(key, "random.gumbel"), s);
  return negative(log(negative(log(u, s), s), s), s);
}

namespace {

array categorical_impl(const array& logits, int axis, const Shape& shape, const std::optional<array>& key,
                       StreamOrDevice s) {
  Dtype d = at_least_float(logits.dtype());
  if (!is_real_floating(d)) {
    throw_invalid("random.categorical", "logits must be real, got ", dtype_name(logits.dtype()), ".");
  }
  array g = gumbel(shape, d, get_key(key, "random.categorical"), s);
  return argmax(add(astype(logits, d, s), g, s), axis, false, s);
}

}  // namespace

array categorical(const array& logits, int axis, const Shape& shape, const std::optional<array>& key,
                  StreamOrDevice s) {
  int ax = normalize_axis(axis, int(logits.ndim()), "random.categorical");
  detail::shape_size(shape, "random.categorical");
  // `shape` broadcasts against logits without `axis`, aligned on the right; the class axis goes
  // back in at the matching position (MLX's rule when shape has logits.ndim() - 1 dims).
  int trailing = int(logits.ndim()) - 1 - ax;
  int pos = int(shape.size()) - trailing;
  auto incompatible = [&] {
    throw_invalid("random.categorical", "Requested shape ", shape_str(shape), " is not compatible with logits shape ",
                  shape_str(logits.shape()), ".");
  };
  if (pos < 0) incompatible();
  Shape with_axis = shape;
  with_axis.insert(with_axis.begin() + pos, logits.shape(ax));
  if (broadcast_shapes(with_axis, logits.shape(), "random.categorical") != with_axis) incompatible();
  return categorical_impl(logits, pos, with_axis, key, s);
}

array categorical(const array& logits_, int axis, int num_samples, const std::optional<array>& key,
                  StreamOrDevice s) {
  int ax = normalize_axis(axis, int(logits_.ndim()), "random.categorical");
  if (num_samples < 0) throw_invalid("random.categorical", "num_samples must be non-negative, got ", num_samples, ".");
  array logits = expand_dims(logits_, -1, s);
  Shape shape = logits.shape();
  shape.back() = num_samples;
  return categorical_impl(logits, ax, shape, key, s);
}

array categorical(const array& logits, int axis, const std::optional<array>& key, StreamOrDevice s) {
  int ax = normalize_axis(axis, int(logits.ndim()), "random.categorical");
  return categorical_impl(logits, ax, logits.shape(), key, s);
}

array laplace(const Shape& shape, Dtype dtype, const float loc, const float scale, const std::optional<array>& key,
              StreamOrDevice s) {
  if (!is_real_floating(dtype)) {
    throw_invalid("random.laplace", "Can only generate Laplace numbers with real floating point type, got ", dtype_name(dtype), ".");
  }
  detail::shape_size(shape, "random.laplace");
  // Inverse CDF: u uniform on (-1, 1), x = -sign(u) * log1p(-|u|); computed in float32 (float64
  // stays float64) as MLX does, then cast.
  Dtype ct = dtype == float64 ? float64 : float32;
  double lo = -(1.0 - std::ldexp(1.0, -precision_bits(ct)));
  array u = uniform_impl(array(lo, ct), array(1.0, ct), shape, ct, get_key(key, "random.laplace"), s);
  array x = multiply(sign(u, s), log1p(negative(abs(u, s), s), s), s);
  x = multiply(array(-double(scale), ct), x, s);
  if (loc != 0.0f) x = add(array(double(loc), ct), x, s);
  return astype(x, dtype, s);
}

array permutation(int x, const std::optional<array>& key, StreamOrDevice s) {
  if (x < 0) throw_invalid("random.permutation", "Size must be non-negative, got ", x, ".");
  // The (stable) order of random 32-bit keys.
  return argsort(make_bits({x}, 4, get_key(key, "random.permutation"), s), 0, s);
}

array permutation(const array& x, int axis, const std::optional<array>& key, StreamOrDevice s) {
  int ax = normalize_axis(axis, int(x.ndim()), "random.permutation");
  return take(x, permutation(x.shape(ax), key, s), ax, s);
}

}  // namespace tessera::random
