// tessera.core reductions, scans, sorting and indexing ops, and eval, with MLX's keyword
// arguments (axis=None reduces over every axis; keepdims=False).
#include "common.h"

namespace tessera::py_bind {

namespace {

using AllFn = array (*)(const array&, bool, StreamOrDevice);
using AxesFn = array (*)(const array&, const std::vector<int>&, bool, StreamOrDevice);

template <AllFn All, AxesFn Axes>
void def_reduce(py::module_& m, const char* name) {
  m.def(
      name,
      [](const array& a, py::object axis, bool keepdims, StreamOrDevice s) {
        auto ax = to_axes(axis);
        return ax ? Axes(a, *ax, keepdims, s) : All(a, keepdims, s);
      },
      "a"_a, py::pos_only(), "axis"_a = py::none(), "keepdims"_a = false, py::kw_only(), kStream());
}

using VarAllFn = array (*)(const array&, bool, int, StreamOrDevice);
using VarAxesFn = array (*)(const array&, const std::vector<int>&, bool, int, StreamOrDevice);

template <VarAllFn All, VarAxesFn Axes>
void def_var(py::module_& m, const char* name) {
  m.def(
      name,
      [](const array& a, py::object axis, bool keepdims, int ddof, StreamOrDevice s) {
        auto ax = to_axes(axis);
        return ax ? Axes(a, *ax, keepdims, ddof, s) : All(a, keepdims, ddof, s);
      },
      "a"_a, py::pos_only(), "axis"_a = py::none(), "keepdims"_a = false, "ddof"_a = 0, py::kw_only(), kStream());
}

using ArgAllFn = array (*)(const array&, bool, StreamOrDevice);
using ArgAxisFn = array (*)(const array&, int, bool, StreamOrDevice);

template <ArgAllFn All, ArgAxisFn Axis>
void def_arg_reduce(py::module_& m, const char* name) {
  m.def(
      name,
      [](const array& a, std::optional<int> axis, bool keepdims, StreamOrDevice s) {
        return axis ? Axis(a, *axis, keepdims, s) : All(a, keepdims, s);
      },
      "a"_a, py::pos_only(), "axis"_a = py::none(), "keepdims"_a = false, py::kw_only(), kStream());
}

using ScanAllFn = array (*)(const array&, bool, bool, StreamOrDevice);
using ScanAxisFn = array (*)(const array&, int, bool, bool, StreamOrDevice);

template <ScanAllFn All, ScanAxisFn Axis>
void def_scan(py::module_& m, const char* name) {
  m.def(
      name,
      [](const array& a, std::optional<int> axis, bool reverse, bool inclusive, StreamOrDevice s) {
        return axis ? Axis(a, *axis, reverse, inclusive, s) : All(a, reverse, inclusive, s);
      },
      "a"_a, py::pos_only(), "axis"_a = py::none(), py::kw_only(), "reverse"_a = false, "inclusive"_a = true,
      kStream());
}

using SortAllFn = array (*)(const array&, StreamOrDevice);
using SortAxisFn = array (*)(const array&, int, StreamOrDevice);

template <SortAllFn All, SortAxisFn Axis>
void def_sort(py::module_& m, const char* name) {
  m.def(
      name,
      [](const array& a, std::optional<int> axis, StreamOrDevice s) { return axis ? Axis(a, *axis, s) : All(a, s); },
      "a"_a, py::pos_only(), "axis"_a = -1, py::kw_only(), kStream());
}

using KAllFn = array (*)(const array&, int, StreamOrDevice);
using KAxisFn = array (*)(const array&, int, int, StreamOrDevice);

template <KAllFn All, KAxisFn Axis>
void def_kth(py::module_& m, const char* name, const char* kname) {
  m.def(
      name,
      [](const array& a, int k, std::optional<int> axis, StreamOrDevice s) {
        return axis ? Axis(a, k, *axis, s) : All(a, k, s);
      },
      "a"_a, py::pos_only(), py::arg(kname), "axis"_a = -1, py::kw_only(), kStream());
}

// Every array in a tree of lists, tuples and dicts (non-array leaves are skipped).
void collect(py::handle tree, std::vector<array>& out) {
  if (is_array(tree)) {
    out.push_back(tree.cast<const array&>());
  } else if (PyList_Check(tree.ptr()) || PyTuple_Check(tree.ptr())) {
    for (auto v : tree) collect(v, out);
  } else if (PyDict_Check(tree.ptr())) {
    for (auto kv : tree.cast<py::dict>()) collect(kv.second, out);
  }
}

}  // namespace

void init_ops_reduce(py::module_& m) {
  def_reduce<all, all>(m, "all");
  def_reduce<any, any>(m, "any");
  def_reduce<sum, sum>(m, "sum");
  def_reduce<prod, prod>(m, "prod");
  def_reduce<mean, mean>(m, "mean");
  def_reduce<max, max>(m, "max");
  def_reduce<min, min>(m, "min");
  def_reduce<logsumexp, logsumexp>(m, "logsumexp");
  def_reduce<count_nonzero, count_nonzero>(m, "count_nonzero");
  def_var<var, var>(m, "var");
  def_var<tessera::std, tessera::std>(m, "std");
  def_arg_reduce<argmax, argmax>(m, "argmax");
  def_arg_reduce<argmin, argmin>(m, "argmin");

  def_scan<cumsum, cumsum>(m, "cumsum");
  def_scan<cumprod, cumprod>(m, "cumprod");
  def_scan<cummax, cummax>(m, "cummax");
  def_scan<cummin, cummin>(m, "cummin");
  def_scan<logcumsumexp, logcumsumexp>(m, "logcumsumexp");

  def_sort<sort, sort>(m, "sort");
  def_sort<argsort, argsort>(m, "argsort");
  def_kth<partition, partition>(m, "partition", "kth");
  def_kth<argpartition, argpartition>(m, "argpartition", "kth");
  def_kth<topk, topk>(m, "topk", "k");
  m.def(
      "searchsorted",
      [](const array& a, py::object v, bool right, StreamOrDevice s) {
        return searchsorted(a, to_array_weak(v, a.dtype()), right, s);
      },
      "a"_a, "v"_a, py::pos_only(), "right"_a = false, py::kw_only(), kStream());

  m.def(
      "take",
      [](const array& a, py::object indices, std::optional<int> axis, StreamOrDevice s) {
        if (PyLong_Check(indices.ptr())) {
          int i = indices.cast<int>();
          return axis ? take(a, i, *axis, s) : take(a, i, s);
        }
        array idx = to_array(indices);
        return axis ? take(a, idx, *axis, s) : take(a, idx, s);
      },
      "a"_a, py::pos_only(), "indices"_a, "axis"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "take_along_axis",
      [](const array& a, const array& indices, std::optional<int> axis, StreamOrDevice s) {
        if (axis) return take_along_axis(a, indices, *axis, s);
        return take_along_axis(flatten(a, s), flatten(indices, s), 0, s);
      },
      "a"_a, py::pos_only(), "indices"_a, "axis"_a = py::none(), py::kw_only(), kStream());
  m.def(
      "put_along_axis",
      [](const array& a, const array& indices, py::object values, std::optional<int> axis, StreamOrDevice s) {
        array v = to_array_weak(values, a.dtype());
        if (axis) return put_along_axis(a, indices, v, *axis, s);
        return reshape(put_along_axis(flatten(a, s), flatten(indices, s), flatten(v, s), 0, s), a.shape(), s);
      },
      "a"_a, py::pos_only(), "indices"_a, "values"_a, "axis"_a = py::none(), py::kw_only(), kStream());

  // Tessera's lower-level indexing ops (MLX keeps these internal to indexing; they are exposed
  // here for code that wants them directly). `indices` is one array or a list, one per axis.
  m.def(
      "gather",
      [](const array& a, py::object indices, py::object axes, py::object slice_sizes, StreamOrDevice s) {
        std::vector<array> idx = is_array(indices) ? std::vector<array>{indices.cast<const array&>()}
                                                   : to_array_list(indices);
        return gather(a, idx, to_int_vector(axes), to_shape(slice_sizes), s);
      },
      "a"_a, "indices"_a, "axes"_a, "slice_sizes"_a, py::kw_only(), kStream());
  using ScatterFn = array (*)(const array&, const std::vector<array>&, const array&, const std::vector<int>&,
                              StreamOrDevice);
  auto scatter_like = [](ScatterFn f) {
    return [f](const array& a, py::object indices, py::object updates, py::object axes, StreamOrDevice s) {
      std::vector<array> idx = is_array(indices) ? std::vector<array>{indices.cast<const array&>()}
                                                 : to_array_list(indices);
      return f(a, idx, to_array_weak(updates, a.dtype()), to_int_vector(axes), s);
    };
  };
  m.def("scatter", scatter_like(&scatter), "a"_a, "indices"_a, "updates"_a, "axes"_a, py::kw_only(), kStream());
  m.def("scatter_add", scatter_like(&scatter_add), "a"_a, "indices"_a, "updates"_a, "axes"_a, py::kw_only(),
        kStream());
  m.def("scatter_prod", scatter_like(&scatter_prod), "a"_a, "indices"_a, "updates"_a, "axes"_a, py::kw_only(),
        kStream());
  m.def("scatter_max", scatter_like(&scatter_max), "a"_a, "indices"_a, "updates"_a, "axes"_a, py::kw_only(),
        kStream());
  m.def("scatter_min", scatter_like(&scatter_min), "a"_a, "indices"_a, "updates"_a, "axes"_a, py::kw_only(),
        kStream());
  m.def(
      "masked_scatter",
      [](const array& a, const array& mask, py::object src, StreamOrDevice s) {
        return masked_scatter(a, mask, to_array_weak(src, a.dtype()), s);
      },
      "a"_a, "mask"_a, "src"_a, py::kw_only(), kStream());
  m.def(
      "full_like",
      [](const array& a, py::object vals, StreamOrDevice s) {
        return full_like(a, to_array_weak(vals, a.dtype()), s);
      },
      "a"_a, "vals"_a, py::kw_only(), kStream());

  // ---------------------------------------------------------------- evaluation
  m.def("eval", [](py::args args) {
    std::vector<array> arrays;
    collect(args, arrays);
    py::gil_scoped_release nogil;
    eval(arrays);
  });
  m.def("async_eval", [](py::args args) {
    std::vector<array> arrays;
    collect(args, arrays);
    py::gil_scoped_release nogil;
    async_eval(arrays);
  });
  m.def(
      "depends",
      [](py::object inputs, py::object dependencies) {
        std::vector<array> in, dep;
        collect(inputs, in);
        collect(dependencies, dep);
        py::gil_scoped_release nogil;
        return depends(in, dep);
      },
      "inputs"_a, "dependencies"_a);
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, "n"_a);
}

}  // namespace tessera::py_bind
