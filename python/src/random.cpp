// tessera.core.random with MLX's signatures: shape=[] and key=None defaults, keys from key(seed).
#include "common.h"

namespace tessera::py_bind {

namespace {

std::optional<array> opt_key(py::handle k) {
  if (k.is_none()) return std::nullopt;
  return to_array(k);
}

Shape opt_shape(py::handle s, const Shape& fallback) { return s.is_none() ? fallback : to_shape(s); }

}  // namespace

void init_random(py::module_& parent) {
  py::module_ m = parent.def_submodule("random", "Random number generation (counter-based, threefry).");
  m.def("seed", &random::seed, "seed"_a);
  m.def("key", &random::key, "seed"_a);
  // The global key, behind mx.random.state (tessera/_random_state.py).
  m.def("_get_state", &random::get_state);
  m.def("_set_state", &random::set_state, "key"_a);
  m.def(
      "split", [](const array& key, int num, StreamOrDevice s) { return random::split(key, num, s); }, "key"_a,
      "num"_a = 2, kStream());
  m.def(
      "bits",
      [](py::object shape, int width, py::object key, StreamOrDevice s) {
        return random::bits(to_shape(shape), width, opt_key(key), s);
      },
      "shape"_a = py::list(), "width"_a = 4, "key"_a = py::none(), kStream());
  m.def(
      "uniform",
      [](py::object low, py::object high, py::object shape, Dtype dtype, py::object key, StreamOrDevice s) {
        return random::uniform(to_array_weak(low, dtype), to_array_weak(high, dtype), to_shape(shape), dtype,
                               opt_key(key), s);
      },
      "low"_a = 0, "high"_a = 1, "shape"_a = py::list(), "dtype"_a = float32, "key"_a = py::none(), kStream());
  m.def(
      "normal",
      [](py::object shape, Dtype dtype, py::object loc, py::object scale, py::object key, StreamOrDevice s) {
        std::optional<array> l, sc;
        if (!loc.is_none()) l = to_array_weak(loc, dtype);
        if (!scale.is_none()) sc = to_array_weak(scale, dtype);
        return random::normal(to_shape(shape), dtype, l, sc, opt_key(key), s);
      },
      "shape"_a = py::list(), "dtype"_a = float32, "loc"_a = py::none(), "scale"_a = py::none(),
      "key"_a = py::none(), kStream());
  m.def(
      "randint",
      [](py::object low, py::object high, py::object shape, Dtype dtype, py::object key, StreamOrDevice s) {
        return random::randint(to_array_weak(low, dtype), to_array_weak(high, dtype), to_shape(shape), dtype,
                               opt_key(key), s);
      },
      "low"_a, "high"_a, "shape"_a = py::list(), "dtype"_a = int32, "key"_a = py::none(), kStream());
  m.def(
      "bernoulli",
      [](py::object p, py::object shape, py::object key, StreamOrDevice s) {
        array pa = to_array_weak(p, float32);
        return random::bernoulli(pa, opt_shape(shape, pa.shape()), opt_key(key), s);
      },
      "p"_a = 0.5, "shape"_a = py::none(), "key"_a = py::none(), kStream());
  m.def(
      "truncated_normal",
      [](py::object lower, py::object upper, py::object shape, Dtype dtype, py::object key, StreamOrDevice s) {
        array lo = to_array_weak(lower, dtype), hi = to_array_weak(upper, dtype);
        if (shape.is_none()) return random::truncated_normal(lo, hi, dtype, opt_key(key), s);
        return random::truncated_normal(lo, hi, to_shape(shape), dtype, opt_key(key), s);
      },
      "lower"_a, "upper"_a, "shape"_a = py::none(), "dtype"_a = float32, "key"_a = py::none(), kStream());
  m.def(
      "gumbel",
      [](py::object shape, Dtype dtype, py::object key, StreamOrDevice s) {
        return random::gumbel(to_shape(shape), dtype, opt_key(key), s);
      },
      "shape"_a = py::list(), "dtype"_a = float32, "key"_a = py::none(), kStream());
  m.def(
      "categorical",
      [](const array& logits, int axis, py::object shape, std::optional<int> num_samples, py::object key,
         StreamOrDevice s) {
        if (!shape.is_none() && num_samples) {
          throw py::value_error("[categorical] At most one of shape or num_samples can be specified.");
        }
        if (!shape.is_none()) return random::categorical(logits, axis, to_shape(shape), opt_key(key), s);
        if (num_samples) return random::categorical(logits, axis, *num_samples, opt_key(key), s);
        return random::categorical(logits, axis, opt_key(key), s);
      },
      "logits"_a, "axis"_a = -1, "shape"_a = py::none(), "num_samples"_a = py::none(), "key"_a = py::none(),
      kStream());
  m.def(
      "laplace",
      [](py::object shape, Dtype dtype, float loc, float scale, py::object key, StreamOrDevice s) {
        return random::laplace(to_shape(shape), dtype, loc, scale, opt_key(key), s);
      },
      "shape"_a = py::list(), "dtype"_a = float32, "loc"_a = 0.0f, "scale"_a = 1.0f, "key"_a = py::none(), kStream());
  m.def(
      "multivariate_normal",
      [](const array& mean, const array& cov, py::object shape, Dtype dtype, py::object key, StreamOrDevice s) {
        return random::multivariate_normal(mean, cov, to_shape(shape), dtype, opt_key(key), s);
      },
      "mean"_a, "cov"_a, "shape"_a = py::list(), "dtype"_a = float32, "key"_a = py::none(), kStream());
  m.def(
      "permutation",
      [](py::object x, int axis, py::object key, StreamOrDevice s) {
        if (PyLong_Check(x.ptr())) return random::permutation(x.cast<int>(), opt_key(key), s);
        return random::permutation(to_array(x), axis, opt_key(key), s);
      },
      "x"_a, "axis"_a = 0, "key"_a = py::none(), kStream());
}

}  // namespace tessera::py_bind
