// Shared pieces of the tessera.core bindings: the argument conversions every binding unit uses
// (Python values to arrays with MLX's dtype rules, shapes, axes, streams) and the per-unit
// registration functions the module calls.
#pragma once

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/tessera.h"

namespace py = pybind11;
using namespace py::literals;

// `stream=` accepts None, a Stream, a Device or a DeviceType (mx.cpu), as MLX does. A full
// specialization, so it wins over pybind11's generic std::variant caster in every unit.
namespace pybind11::detail {
template <>
struct type_caster<tessera::StreamOrDevice> {
  PYBIND11_TYPE_CASTER(tessera::StreamOrDevice, const_name("None | Stream | Device"));
  bool load(handle src, bool convert);
  static handle cast(const tessera::StreamOrDevice& s, return_value_policy policy, handle parent);
};
}  // namespace pybind11::detail

namespace tessera::py_bind {

// ---- Python values to arrays (convert.cpp)

// mx.array(obj, dtype): scalars, nested lists/tuples (of scalars or arrays), NumPy arrays and
// anything with __array__ or __dlpack__. Bools -> bool, ints -> int32 (int64 when a value needs it), floats ->
// float32, complex -> complex64; NumPy float64 becomes float32 unless `dtype` says otherwise.
array to_array(py::handle obj, std::optional<Dtype> dtype = std::nullopt);

// A Python scalar next to an array of dtype `other` is weakly typed: ints take the array's dtype
// (int32 next to bool), floats take it when it is inexact (float32 otherwise). Arrays, NumPy
// values and lists convert as in to_array.
array to_array_weak(py::handle obj, Dtype other);
bool is_py_scalar(py::handle obj);

// Both operands of a binary op, with weak scalars typed after the array operand.
std::pair<array, array> to_arrays(py::handle a, py::handle b);

// Array to Python: scalars, nested lists, NumPy (a view kept alive by a capsule).
py::object item(const array& a);
py::object tolist(const array& a);
py::array to_numpy(const array& a, std::optional<py::object> dtype = std::nullopt);

// ---- argument helpers
// `stream=None`, keyword-only in every op as in MLX.
inline py::arg_v kStream() { return py::arg("stream") = py::none(); }
Shape to_shape(py::handle obj);                      // int or sequence of ints
std::vector<int> to_int_vector(py::handle obj);      // int or sequence of ints
std::optional<std::vector<int>> to_axes(py::handle obj);  // None, int or sequence
bool is_array(py::handle obj);
std::vector<array> to_array_list(py::handle seq);     // a sequence whose items convert to arrays

// Holds a Python callable for C++ code that may drop the last reference without the GIL (a
// primitive freed on an evaluation thread).
struct PyFunc {
  std::shared_ptr<py::object> fn;
  explicit PyFunc(py::object f);
  py::object operator()(py::args args) const;
  template <typename... Args>
  py::object call(Args&&... args) const {
    py::gil_scoped_acquire gil;
    return (*fn)(std::forward<Args>(args)...);
  }
};

// ---- registration (one per binding unit)
void init_array(py::module_& m);
void init_indexing(py::module_& m, py::class_<array>& cls);
void init_dlpack(py::class_<array>& cls);
void init_ops(py::module_& m);
void init_ops_reduce(py::module_& m);
void init_transforms(py::module_& m);
void init_random(py::module_& m);
void init_fast_io_memory(py::module_& m);
// GGUF (gguf_io.cpp): mx.load's gguf branch and mx.save_gguf.
py::object load_gguf_py(const std::string& path, bool return_metadata);
void save_gguf_py(const std::string& path, py::dict arrays, py::object metadata);

}  // namespace tessera::py_bind
