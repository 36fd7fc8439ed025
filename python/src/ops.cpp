// tessera.core ops (creation, shapes, elementwise, products, convolution, quantization) with
// MLX's Python names, keyword arguments and defaults. Reductions, scans, sorting and indexing
// ops are in ops_reduce.cpp.
#include "common.h"

namespace tessera::py_bind {

namespace {

using UnaryFn = array (*)(const array&, StreamOrDevice);
using BinaryFn = array (*)(const array&, const array&, StreamOrDevice);

template <UnaryFn F>
void def_unary(py::module_& m, const char* name) {
  m.def(
      name, [](const array& a, StreamOrDevice s) { return F(a, s); }, "a"_a, py::pos_only(), py::kw_only(), kStream());
}

template <BinaryFn F>
void def_binary(py::module_& m, const char* name) {
  m.def(
      name,
      [](py::object a, py::object b, StreamOrDevice s) {
        auto [x, y] = to_arrays(a, b);
        return F(x, y, s);
      },
      "a"_a, "b"_a, py::pos_only(), py::kw_only(), kStream());
}

Dtype scalar_dtype(py::handle v) {
  if (PyBool_Check(v.ptr())) return bool_;
  if (PyLong_Check(v.ptr())) return int32;
  if (PyFloat_Check(v.ptr())) return float32;
  return to_array(v).dtype();
}

// Conv arguments: an int or a tuple of ints, one per spatial dimension.
std::vector<int> per_dim(py::handle v, size_t n) {
  auto out = to_int_vector(v);
  if (out.size() == 1 && n > 1) out.assign(n, out[0]);
  if (out.size() != n) {
    throw py::value_error("Expected an int or " + std::to_string(n) + " ints, got " + std::to_string(out.size()) + ".");
  }
  return out;
}
std::pair<int, int> pair_of(py::handle v) {
  auto x = per_dim(v, 2);
  return {x[0], x[1]};
}
std::tuple<int, int, int> triple_of(py::handle v) {
  auto x = per_dim(v, 3);
  return {x[0], x[1], x[2]};
}

std::optional<array> opt_array(py::handle v) {
  if (v.is_none()) return std::nullopt;
  return to_array(v);
}

}  // namespace

void init_ops(py::module_& m) {
  // ---------------------------------------------------------------- creation
  m.def(
      "arange",
      [](py::object start, py::object stop, py::object step, std::optional<Dtype> dtype, StreamOrDevice s) {
        if (stop.is_none()) {
          stop = start;
          start = py::int_(0);
        }
        bool is_float = PyFloat_Check(start.ptr()) || PyFloat_Check(stop.ptr()) || PyFloat_Check(step.ptr());
        Dtype t = dtype.value_or(is_float ? float32 : int32);
        double st = step.is_none() ? 1.0 : step.cast<double>();
        return arange(start.cast<double>(), stop.cast<double>(), st, t, s);
      },
      "start"_a, "stop"_a = py::none(), "step"_a = py::none(), "dtype"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "linspace",
      [](double start, double stop, int num, Dtype dtype, StreamOrDevice s) {
        return linspace(start, stop, num, dtype, s);
      },
      "start"_a, "stop"_a, "num"_a = 50, "dtype"_a = float32, kStream());
  m.def(
      "zeros", [](py::object shape, Dtype dtype, StreamOrDevice s) { return zeros(to_shape(shape), dtype, s); },
      "shape"_a, "dtype"_a = float32, py::kw_only(), kStream());
  m.def(
      "ones", [](py::object shape, Dtype dtype, StreamOrDevice s) { return ones(to_shape(shape), dtype, s); },
      "shape"_a, "dtype"_a = float32, py::kw_only(), kStream());
  m.def(
      "full",
      [](py::object shape, py::object vals, std::optional<Dtype> dtype, StreamOrDevice s) {
        array v = to_array(vals, is_array(vals) || !is_py_scalar(vals) ? dtype : dtype.value_or(scalar_dtype(vals)));
        return full(to_shape(shape), v, s);
      },
      "shape"_a, "vals"_a, "dtype"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "zeros_like", [](const array& a, StreamOrDevice s) { return zeros_like(a, s); }, "a"_a, py::pos_only(),
      py::kw_only(), kStream());
  m.def(
      "ones_like", [](const array& a, StreamOrDevice s) { return ones_like(a, s); }, "a"_a, py::pos_only(),
      py::kw_only(), kStream());
  m.def(
      "eye",
      [](int n, std::optional<int> mm, int k, Dtype dtype, StreamOrDevice s) { return eye(n, mm.value_or(n), k, dtype, s); },
      "n"_a, "m"_a = py::none(), "k"_a = 0, "dtype"_a = float32, py::kw_only(), kStream());
  m.def(
      "identity", [](int n, Dtype dtype, StreamOrDevice s) { return identity(n, dtype, s); }, "n"_a,
      "dtype"_a = float32, py::kw_only(), kStream());
  m.def(
      "tri",
      [](int n, std::optional<int> mm, int k, Dtype dtype, StreamOrDevice s) { return tri(n, mm.value_or(n), k, dtype, s); },
      "n"_a, "m"_a = py::none(), "k"_a = 0, "dtype"_a = float32, py::kw_only(), kStream());
  m.def(
      "tril", [](const array& x, int k, StreamOrDevice s) { return tril(x, k, s); }, "x"_a, "k"_a = 0, py::kw_only(),
      kStream());
  m.def(
      "triu", [](const array& x, int k, StreamOrDevice s) { return triu(x, k, s); }, "x"_a, "k"_a = 0, py::kw_only(),
      kStream());
  m.def(
      "meshgrid",
      [](py::args arrays, bool sparse, const std::string& indexing, StreamOrDevice s) {
        return meshgrid(to_array_list(arrays), sparse, indexing, s);
      },
      "sparse"_a = false, "indexing"_a = "xy", kStream());
  m.def(
      "astype", [](const array& a, Dtype dtype, StreamOrDevice s) { return astype(a, dtype, s); }, "a"_a, "dtype"_a,
      py::kw_only(), kStream());
  m.def(
      "as_strided",
      [](const array& a, py::object shape, py::object strides, size_t offset, StreamOrDevice s) {
        Shape sh = shape.is_none() ? a.shape() : to_shape(shape);
        Strides st;
        if (strides.is_none()) {
          int64_t acc = 1;
          st.assign(sh.size(), 0);
          for (int i = int(sh.size()) - 1; i >= 0; --i) {
            st[i] = acc;
            acc *= sh[i];
          }
        } else {
          for (auto v : strides) st.push_back(v.cast<int64_t>());
        }
        return as_strided(a, sh, st, offset, s);
      },
      "a"_a, py::pos_only(), "shape"_a = py::none(), "strides"_a = py::none(), "offset"_a = 0, py::kw_only(), kStream());
  m.def(
      "copy", [](const array& a, StreamOrDevice s) { return copy(a, s); }, "a"_a, py::pos_only(), py::kw_only(),
      kStream());

  // ---------------------------------------------------------------- shapes and views
  m.def(
      "reshape", [](const array& a, py::object shape, StreamOrDevice s) { return reshape(a, to_shape(shape), s); },
      "a"_a, py::pos_only(), "shape"_a, py::kw_only(), kStream());
  m.def(
      "flatten",
      [](const array& a, int start_axis, int end_axis, StreamOrDevice s) { return flatten(a, start_axis, end_axis, s); },
      "a"_a, py::pos_only(), "start_axis"_a = 0, "end_axis"_a = -1, py::kw_only(), kStream());
  m.def(
      "unflatten",
      [](const array& a, int axis, py::object shape, StreamOrDevice s) { return unflatten(a, axis, to_shape(shape), s); },
      "a"_a, py::pos_only(), "axis"_a, "shape"_a, py::kw_only(), kStream());
  m.def(
      "squeeze",
      [](const array& a, py::object axis, StreamOrDevice s) {
        auto ax = to_axes(axis);
        return ax ? squeeze(a, *ax, s) : squeeze(a, s);
      },
      "a"_a, py::pos_only(), "axis"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "expand_dims",
      [](const array& a, py::object axis, StreamOrDevice s) { return expand_dims(a, to_int_vector(axis), s); }, "a"_a,
      py::pos_only(), "axis"_a, py::kw_only(), kStream());
  auto atleast = [](array (*f)(const array&, StreamOrDevice)) {
    return [f](py::args arys, StreamOrDevice s) -> py::object {
      std::vector<array> out;
      for (auto& a : to_array_list(arys)) out.push_back(f(a, s));
      if (out.size() == 1) return py::cast(out[0]);
      return py::cast(out);
    };
  };
  m.def("atleast_1d", atleast(&atleast_1d), kStream());
  m.def("atleast_2d", atleast(&atleast_2d), kStream());
  m.def("atleast_3d", atleast(&atleast_3d), kStream());
  m.def(
      "slice",
      [](const array& a, const array& start_indices, py::object axes, py::object slice_size, StreamOrDevice s) {
        return slice(a, start_indices, to_int_vector(axes), to_shape(slice_size), s);
      },
      "a"_a, "start_indices"_a, "axes"_a, "slice_size"_a, py::kw_only(), kStream());
  m.def(
      "slice_update",
      [](const array& a, const array& update, const array& start_indices, py::object axes, StreamOrDevice s) {
        return slice_update(a, update, start_indices, to_int_vector(axes), s);
      },
      "a"_a, "update"_a, "start_indices"_a, "axes"_a, py::kw_only(), kStream());
  m.def(
      "split",
      [](const array& a, py::object ios, int axis, StreamOrDevice s) {
        if (PyLong_Check(ios.ptr())) return split(a, ios.cast<int>(), axis, s);
        return split(a, to_shape(ios), axis, s);
      },
      "a"_a, py::pos_only(), "indices_or_sections"_a, "axis"_a = 0, py::kw_only(), kStream());
  auto concat = [](py::object arrays, std::optional<int> axis, StreamOrDevice s) {
    auto list = to_array_list(arrays);
    return axis ? concatenate(list, *axis, s) : concatenate(list, s);
  };
  m.def("concatenate", concat, "arrays"_a, "axis"_a = 0, py::kw_only(), kStream());
  m.def("concat", concat, "arrays"_a, "axis"_a = 0, py::kw_only(), kStream());
  m.def(
      "stack", [](py::object arrays, int axis, StreamOrDevice s) { return stack(to_array_list(arrays), axis, s); },
      "arrays"_a, "axis"_a = 0, py::kw_only(), kStream());
  m.def(
      "unstack", [](const array& a, int axis, StreamOrDevice s) { return unstack(a, axis, s); }, "a"_a,
      py::pos_only(), "axis"_a = 0, py::kw_only(), kStream());
  m.def(
      "repeat",
      [](const array& a, int repeats, std::optional<int> axis, StreamOrDevice s) {
        return axis ? repeat(a, repeats, *axis, s) : repeat(a, repeats, s);
      },
      "array"_a, "repeats"_a, "axis"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "tile", [](const array& a, py::object reps, StreamOrDevice s) { return tile(a, to_int_vector(reps), s); }, "a"_a,
      "reps"_a, py::pos_only(), py::kw_only(), kStream());
  auto transpose_fn = [](const array& a, py::object axes, StreamOrDevice s) {
    auto ax = to_axes(axes);
    return ax ? transpose(a, *ax, s) : transpose(a, s);
  };
  m.def("transpose", transpose_fn, "a"_a, py::pos_only(), "axes"_a = py::none(), py::kw_only(), kStream());
  m.def("permute_dims", transpose_fn, "a"_a, py::pos_only(), "axes"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "swapaxes", [](const array& a, int a1, int a2, StreamOrDevice s) { return swapaxes(a, a1, a2, s); }, "a"_a,
      py::pos_only(), "axis1"_a, "axis2"_a, py::kw_only(), kStream());
  m.def(
      "moveaxis", [](const array& a, int src, int dst, StreamOrDevice s) { return moveaxis(a, src, dst, s); }, "a"_a,
      py::pos_only(), "source"_a, "destination"_a, py::kw_only(), kStream());
  m.def(
      "pad",
      [](const array& a, py::object pad_width, const std::string& mode, py::object constant_values, StreamOrDevice s) {
        array cv = to_array_weak(constant_values, a.dtype());
        if (PyLong_Check(pad_width.ptr())) return pad(a, pad_width.cast<int>(), cv, mode, s);
        std::vector<std::pair<int, int>> widths;
        py::sequence seq = pad_width.cast<py::sequence>();
        if (seq.size() == 2 && PyLong_Check(py::object(seq[0]).ptr())) {
          return pad(a, std::make_pair(seq[0].cast<int>(), seq[1].cast<int>()), cv, mode, s);
        }
        for (auto item : seq) {
          auto v = to_int_vector(item);
          if (v.size() == 1) widths.emplace_back(v[0], v[0]);
          else if (v.size() == 2) widths.emplace_back(v[0], v[1]);
          else throw py::value_error("[pad] Each pad width must be an int or a (before, after) pair.");
        }
        if (widths.size() == 1 && a.ndim() > 1) widths.assign(a.ndim(), widths[0]);
        return pad(a, widths, cv, mode, s);
      },
      "a"_a, "pad_width"_a, "mode"_a = "constant", "constant_values"_a = 0, py::kw_only(), kStream());
  m.def(
      "broadcast_to", [](const array& a, py::object shape, StreamOrDevice s) { return broadcast_to(a, to_shape(shape), s); },
      "a"_a, py::pos_only(), "shape"_a, py::kw_only(), kStream());
  m.def(
      "broadcast_arrays", [](py::args arrays, StreamOrDevice s) { return broadcast_arrays(to_array_list(arrays), s); },
      kStream());
  m.def(
      "roll",
      [](const array& a, py::object shift, py::object axis, StreamOrDevice s) {
        Shape sh = to_shape(shift);
        auto ax = to_axes(axis);
        if (!ax) {
          if (sh.size() != 1) throw py::value_error("[roll] A tuple shift needs matching axes.");
          return roll(a, sh[0], s);
        }
        return roll(a, sh, *ax, s);
      },
      "a"_a, "shift"_a, "axis"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "flip",
      [](const array& a, py::object axis, StreamOrDevice s) {
        auto ax = to_axes(axis);
        return ax ? flip(a, *ax, s) : flip(a, s);
      },
      "a"_a, py::pos_only(), "axis"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "diagonal",
      [](const array& a, int offset, int axis1, int axis2, StreamOrDevice s) {
        return diagonal(a, offset, axis1, axis2, s);
      },
      "a"_a, "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, kStream());
  m.def(
      "diag", [](const array& a, int k, StreamOrDevice s) { return diag(a, k, s); }, "a"_a, py::pos_only(), "k"_a = 0,
      py::kw_only(), kStream());
  m.def(
      "trace",
      [](const array& a, int offset, int axis1, int axis2, std::optional<Dtype> dtype, StreamOrDevice s) {
        return dtype ? trace(a, offset, axis1, axis2, *dtype, s) : trace(a, offset, axis1, axis2, s);
      },
      "a"_a, py::pos_only(), "offset"_a = 0, "axis1"_a = 0, "axis2"_a = 1, "dtype"_a = py::none(), py::kw_only(),
      kStream());
  m.def(
      "contiguous", [](const array& a, bool allow_col_major, StreamOrDevice s) { return contiguous(a, allow_col_major, s); },
      "a"_a, py::pos_only(), "allow_col_major"_a = false, py::kw_only(), kStream());
  m.def(
      "view", [](const array& a, Dtype dtype, StreamOrDevice s) { return view(a, dtype, s); }, "a"_a, "dtype"_a,
      kStream());

  // ---------------------------------------------------------------- elementwise
  def_unary<tessera::abs>(m, "abs");
  def_unary<negative>(m, "negative");
  def_unary<sign>(m, "sign");
  def_unary<logical_not>(m, "logical_not");
  def_unary<reciprocal>(m, "reciprocal");
  def_unary<square>(m, "square");
  def_unary<tessera::sqrt>(m, "sqrt");
  def_unary<rsqrt>(m, "rsqrt");
  def_unary<tessera::exp>(m, "exp");
  def_unary<tessera::expm1>(m, "expm1");
  def_unary<tessera::log>(m, "log");
  def_unary<tessera::log2>(m, "log2");
  def_unary<tessera::log10>(m, "log10");
  def_unary<tessera::log1p>(m, "log1p");
  def_unary<tessera::sin>(m, "sin");
  def_unary<tessera::cos>(m, "cos");
  def_unary<tessera::tan>(m, "tan");
  def_unary<arcsin>(m, "arcsin");
  def_unary<arccos>(m, "arccos");
  def_unary<arctan>(m, "arctan");
  def_unary<tessera::sinh>(m, "sinh");
  def_unary<tessera::cosh>(m, "cosh");
  def_unary<tessera::tanh>(m, "tanh");
  def_unary<arcsinh>(m, "arcsinh");
  def_unary<arccosh>(m, "arccosh");
  def_unary<arctanh>(m, "arctanh");
  def_unary<degrees>(m, "degrees");
  def_unary<radians>(m, "radians");
  def_unary<tessera::floor>(m, "floor");
  def_unary<tessera::ceil>(m, "ceil");
  def_unary<sigmoid>(m, "sigmoid");
  def_unary<tessera::erf>(m, "erf");
  def_unary<erfinv>(m, "erfinv");
  def_unary<stop_gradient>(m, "stop_gradient");
  def_unary<tessera::isnan>(m, "isnan");
  def_unary<tessera::isinf>(m, "isinf");
  def_unary<tessera::isfinite>(m, "isfinite");
  def_unary<isposinf>(m, "isposinf");
  def_unary<isneginf>(m, "isneginf");
  def_unary<tessera::real>(m, "real");
  def_unary<tessera::imag>(m, "imag");
  def_unary<conjugate>(m, "conjugate");
  def_unary<conjugate>(m, "conj");
  def_unary<bitwise_invert>(m, "bitwise_invert");
  m.def(
      "round", [](const array& a, int decimals, StreamOrDevice s) { return tessera::round(a, decimals, s); }, "a"_a,
      py::pos_only(), "decimals"_a = 0, py::kw_only(), kStream());

  def_binary<add>(m, "add");
  def_binary<subtract>(m, "subtract");
  def_binary<multiply>(m, "multiply");
  def_binary<divide>(m, "divide");
  def_binary<floor_divide>(m, "floor_divide");
  def_binary<remainder>(m, "remainder");
  def_binary<power>(m, "power");
  def_binary<maximum>(m, "maximum");
  def_binary<minimum>(m, "minimum");
  def_binary<arctan2>(m, "arctan2");
  def_binary<logaddexp>(m, "logaddexp");
  def_binary<equal>(m, "equal");
  def_binary<not_equal>(m, "not_equal");
  def_binary<greater>(m, "greater");
  def_binary<greater_equal>(m, "greater_equal");
  def_binary<less>(m, "less");
  def_binary<less_equal>(m, "less_equal");
  def_binary<logical_and>(m, "logical_and");
  def_binary<logical_or>(m, "logical_or");
  def_binary<bitwise_and>(m, "bitwise_and");
  def_binary<bitwise_or>(m, "bitwise_or");
  def_binary<bitwise_xor>(m, "bitwise_xor");
  def_binary<left_shift>(m, "left_shift");
  def_binary<right_shift>(m, "right_shift");
  m.def(
      "divmod",
      [](py::object a, py::object b, StreamOrDevice s) {
        auto [x, y] = to_arrays(a, b);
        auto r = divmod(x, y, s);
        return py::make_tuple(r[0], r[1]);
      },
      "a"_a, "b"_a, py::pos_only(), py::kw_only(), kStream());
  m.def(
      "array_equal",
      [](py::object a, py::object b, bool equal_nan, StreamOrDevice s) {
        auto [x, y] = to_arrays(a, b);
        return array_equal(x, y, equal_nan, s);
      },
      "a"_a, "b"_a, py::pos_only(), "equal_nan"_a = false, py::kw_only(), kStream());
  m.def(
      "isclose",
      [](py::object a, py::object b, double rtol, double atol, bool equal_nan, StreamOrDevice s) {
        auto [x, y] = to_arrays(a, b);
        return isclose(x, y, rtol, atol, equal_nan, s);
      },
      "a"_a, "b"_a, py::pos_only(), "rtol"_a = 1e-5, "atol"_a = 1e-8, py::kw_only(), "equal_nan"_a = false, kStream());
  m.def(
      "allclose",
      [](py::object a, py::object b, double rtol, double atol, bool equal_nan, StreamOrDevice s) {
        auto [x, y] = to_arrays(a, b);
        return allclose(x, y, rtol, atol, equal_nan, s);
      },
      "a"_a, "b"_a, py::pos_only(), "rtol"_a = 1e-5, "atol"_a = 1e-8, py::kw_only(), "equal_nan"_a = false, kStream());
  m.def(
      "where",
      [](py::object condition, py::object x, py::object y, StreamOrDevice s) {
        auto [a, b] = to_arrays(x, y);
        return where(to_array(condition), a, b, s);
      },
      "condition"_a, "x"_a, "y"_a, py::pos_only(), py::kw_only(), kStream());
  m.def(
      "clip",
      [](const array& a, py::object a_min, py::object a_max, StreamOrDevice s) {
        std::optional<array> lo, hi;
        if (!a_min.is_none()) lo = to_array_weak(a_min, a.dtype());
        if (!a_max.is_none()) hi = to_array_weak(a_max, a.dtype());
        return clip(a, lo, hi, s);
      },
      "a"_a, py::pos_only(), "a_min"_a, "a_max"_a, py::kw_only(), kStream());
  m.def(
      "nan_to_num",
      [](const array& a, float nan, std::optional<float> posinf, std::optional<float> neginf, StreamOrDevice s) {
        return nan_to_num(a, nan, posinf, neginf, s);
      },
      "a"_a, "nan"_a = 0.0f, "posinf"_a = py::none(), "neginf"_a = py::none(), py::kw_only(), kStream());

  // ---------------------------------------------------------------- products
  m.def(
      "matmul", [](const array& a, const array& b, StreamOrDevice s) { return matmul(a, b, s); }, "a"_a, "b"_a,
      py::pos_only(), py::kw_only(), kStream());
  m.def(
      "addmm",
      [](const array& c, const array& a, const array& b, float alpha, float beta, StreamOrDevice s) {
        return addmm(c, a, b, alpha, beta, s);
      },
      "c"_a, "a"_a, "b"_a, py::pos_only(), "alpha"_a = 1.0f, "beta"_a = 1.0f, py::kw_only(), kStream());
  m.def(
      "inner", [](const array& a, const array& b, StreamOrDevice s) { return inner(a, b, s); }, "a"_a, "b"_a,
      py::pos_only(), py::kw_only(), kStream());
  m.def(
      "outer", [](const array& a, const array& b, StreamOrDevice s) { return outer(a, b, s); }, "a"_a, "b"_a,
      py::pos_only(), py::kw_only(), kStream());
  m.def(
      "kron", [](const array& a, const array& b, StreamOrDevice s) { return kron(a, b, s); }, "a"_a, "b"_a,
      py::pos_only(), py::kw_only(), kStream());
  m.def(
      "tensordot",
      [](const array& a, const array& b, py::object axes, StreamOrDevice s) {
        if (PyLong_Check(axes.ptr())) return tensordot(a, b, axes.cast<int>(), s);
        py::sequence seq = axes.cast<py::sequence>();
        if (seq.size() != 2) throw py::value_error("[tensordot] axes must be an int or a pair of axis lists.");
        return tensordot(a, b, to_int_vector(seq[0]), to_int_vector(seq[1]), s);
      },
      "a"_a, "b"_a, py::pos_only(), "axes"_a = 2, py::kw_only(), kStream());
  m.def(
      "einsum",
      [](const std::string& subscripts, py::args operands, StreamOrDevice s) {
        return einsum(subscripts, to_array_list(operands), s);
      },
      "subscripts"_a, kStream());
  m.def(
      "gather_mm",
      [](const array& a, const array& b, py::object lhs, py::object rhs, bool sorted, StreamOrDevice s) {
        return gather_mm(a, b, opt_array(lhs), opt_array(rhs), sorted, s);
      },
      "a"_a, "b"_a, py::pos_only(), "lhs_indices"_a = py::none(), "rhs_indices"_a = py::none(), py::kw_only(),
      "sorted_indices"_a = false, kStream());
  m.def(
      "block_masked_mm",
      [](const array& a, const array& b, int block_size, py::object mo, py::object ml, py::object mr,
         StreamOrDevice s) { return block_masked_mm(a, b, block_size, opt_array(mo), opt_array(ml), opt_array(mr), s); },
      "a"_a, "b"_a, py::pos_only(), "block_size"_a = 64, "mask_out"_a = py::none(), "mask_lhs"_a = py::none(),
      "mask_rhs"_a = py::none(), py::kw_only(), kStream());

  // ---------------------------------------------------------------- convolution
  m.def(
      "conv1d",
      [](const array& in, const array& w, int stride, int padding, int dilation, int groups, StreamOrDevice s) {
        return conv1d(in, w, stride, padding, dilation, groups, s);
      },
      "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1,
      py::kw_only(), kStream());
  m.def(
      "conv2d",
      [](const array& in, const array& w, py::object stride, py::object padding, py::object dilation, int groups,
         StreamOrDevice s) { return conv2d(in, w, pair_of(stride), pair_of(padding), pair_of(dilation), groups, s); },
      "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1,
      py::kw_only(), kStream());
  m.def(
      "conv3d",
      [](const array& in, const array& w, py::object stride, py::object padding, py::object dilation, int groups,
         StreamOrDevice s) {
        return conv3d(in, w, triple_of(stride), triple_of(padding), triple_of(dilation), groups, s);
      },
      "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1,
      py::kw_only(), kStream());
  m.def(
      "conv_general",
      [](const array& in, const array& w, py::object stride, py::object padding, py::object kernel_dilation,
         py::object input_dilation, int groups, bool flip, StreamOrDevice s) {
        size_t nsp = in.ndim() >= 2 ? in.ndim() - 2 : 0;
        std::vector<int> lo, hi;
        if (py::isinstance<py::sequence>(padding) && py::len(padding) == 2 &&
            py::isinstance<py::sequence>(padding.cast<py::sequence>()[0])) {
          py::sequence p = padding.cast<py::sequence>();
          lo = per_dim(p[0], nsp);
          hi = per_dim(p[1], nsp);
        } else {
          lo = hi = per_dim(padding, nsp);
        }
        return conv_general(in, w, per_dim(stride, nsp), lo, hi, per_dim(kernel_dilation, nsp),
                            per_dim(input_dilation, nsp), groups, flip, s);
      },
      "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "kernel_dilation"_a = 1,
      "input_dilation"_a = 1, "groups"_a = 1, "flip"_a = false, py::kw_only(), kStream());
  m.def(
      "conv_transpose1d",
      [](const array& in, const array& w, int stride, int padding, int dilation, int output_padding, int groups,
         StreamOrDevice s) { return conv_transpose1d(in, w, stride, padding, dilation, output_padding, groups, s); },
      "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "output_padding"_a = 0, "groups"_a = 1, py::kw_only(), kStream());
  m.def(
      "conv_transpose2d",
      [](const array& in, const array& w, py::object stride, py::object padding, py::object dilation,
         py::object output_padding, int groups, StreamOrDevice s) {
        return conv_transpose2d(in, w, pair_of(stride), pair_of(padding), pair_of(dilation), pair_of(output_padding),
                                groups, s);
      },
      "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "output_padding"_a = 0, "groups"_a = 1, py::kw_only(), kStream());
  m.def(
      "conv_transpose3d",
      [](const array& in, const array& w, py::object stride, py::object padding, py::object dilation,
         py::object output_padding, int groups, StreamOrDevice s) {
        return conv_transpose3d(in, w, triple_of(stride), triple_of(padding), triple_of(dilation),
                                triple_of(output_padding), groups, s);
      },
      "input"_a, "weight"_a, py::pos_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "output_padding"_a = 0, "groups"_a = 1, py::kw_only(), kStream());

  // ---------------------------------------------------------------- quantization
  m.def(
      "quantize",
      [](const array& w, std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
         StreamOrDevice s) { return py::tuple(py::cast(quantize(w, group_size, bits, mode, s))); },
      "w"_a, py::pos_only(), "group_size"_a = py::none(), "bits"_a = py::none(), "mode"_a = "affine", py::kw_only(),
      kStream());
  m.def(
      "dequantize",
      [](const array& w, const array& scales, py::object biases, std::optional<int> group_size,
         std::optional<int> bits, const std::string& mode, std::optional<Dtype> dtype, StreamOrDevice s) {
        return dequantize(w, scales, opt_array(biases), group_size, bits, mode, dtype, s);
      },
      "w"_a, py::pos_only(), "scales"_a, "biases"_a = py::none(), "group_size"_a = py::none(), "bits"_a = py::none(),
      "mode"_a = "affine", "dtype"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "quantized_matmul",
      [](const array& x, const array& w, const array& scales, py::object biases, bool transpose,
         std::optional<int> group_size, std::optional<int> bits, const std::string& mode, StreamOrDevice s) {
        return quantized_matmul(x, w, scales, opt_array(biases), transpose, group_size, bits, mode, s);
      },
      "x"_a, "w"_a, py::pos_only(), "scales"_a, "biases"_a = py::none(), "transpose"_a = true,
      "group_size"_a = py::none(), "bits"_a = py::none(), "mode"_a = "affine", py::kw_only(), kStream());
  m.def(
      "gather_qmm",
      [](const array& x, const array& w, const array& scales, py::object biases, py::object lhs, py::object rhs,
         bool transpose, std::optional<int> group_size, std::optional<int> bits, const std::string& mode,
         bool sorted_indices, StreamOrDevice s) {
        return gather_qmm(x, w, scales, opt_array(biases), opt_array(lhs), opt_array(rhs), transpose, group_size,
                          bits, mode, sorted_indices, s);
      },
      "x"_a, "w"_a, py::pos_only(), "scales"_a, "biases"_a = py::none(), "lhs_indices"_a = py::none(),
      "rhs_indices"_a = py::none(), "transpose"_a = true, "group_size"_a = py::none(), "bits"_a = py::none(),
      "mode"_a = "affine", py::kw_only(), "sorted_indices"_a = false, kStream());

  m.def(
      "softmax",
      [](const array& a, py::object axis, bool precise, StreamOrDevice s) {
        auto ax = to_axes(axis);
        return ax ? softmax(a, *ax, precise, s) : softmax(a, precise, s);
      },
      "a"_a, py::pos_only(), "axis"_a = py::none(), py::kw_only(), "precise"_a = false, kStream());
}

}  // namespace tessera::py_bind
