// Conversions between Python values and arrays, following MLX's rules for inferred dtypes and
// for weakly typed Python scalars.
#include <climits>
#include <complex>
#include <cstring>

#include "common.h"

namespace pybind11::detail {

bool type_caster<tessera::StreamOrDevice>::load(handle src, bool) {
  using namespace tessera;
  if (src.is_none()) {
    value = std::monostate{};
    return true;
  }
  if (isinstance<Stream>(src)) {
    value = src.cast<Stream>();
    return true;
  }
  if (isinstance<Device>(src)) {
    value = src.cast<Device>();
    return true;
  }
  if (isinstance<Device::DeviceType>(src)) {
    value = Device(src.cast<Device::DeviceType>());
    return true;
  }
  return false;
}

handle type_caster<tessera::StreamOrDevice>::cast(const tessera::StreamOrDevice& s, return_value_policy policy,
                                                   handle parent) {
  using namespace tessera;
  if (auto* st = std::get_if<Stream>(&s)) return make_caster<Stream>::cast(*st, policy, parent);
  if (auto* d = std::get_if<Device>(&s)) return make_caster<Device>::cast(*d, policy, parent);
  return none().release();
}

}  // namespace pybind11::detail

namespace tessera::py_bind {

namespace {

py::handle numpy_generic() {
  static py::object t = py::module_::import("numpy").attr("generic");
  return t;
}

bool is_numpy_scalar(py::handle obj) { return PyObject_IsInstance(obj.ptr(), numpy_generic().ptr()) == 1; }

// The kinds of Python scalars, ordered so that a list's kind is the largest of its items'.
enum class Kind { boolean = 0, integer = 1, floating = 2, complex = 3 };

bool scalar_kind(py::handle obj, Kind& kind) {
  if (PyBool_Check(obj.ptr())) {
    kind = Kind::boolean;
    return true;
  }
  if (PyLong_Check(obj.ptr())) {
    kind = Kind::integer;
    return true;
  }
  if (PyFloat_Check(obj.ptr())) {
    kind = Kind::floating;
    return true;
  }
  if (PyComplex_Check(obj.ptr())) {
    kind = Kind::complex;
    return true;
  }
  if (is_numpy_scalar(obj)) {
    char k = py::cast<py::dtype>(obj.attr("dtype")).kind();
    switch (k) {
      case 'b': kind = Kind::boolean; return true;
      case 'i':
      case 'u': kind = Kind::integer; return true;
      case 'f': kind = Kind::floating; return true;
      case 'c': kind = Kind::complex; return true;
      default: return false;
    }
  }
  return false;
}

// An int that needs more than 32 bits makes the list (or scalar) int64, as a literal that does
// not fit int32 would otherwise wrap.
int64_t to_int64(py::handle obj, bool& wide) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(py::int_(py::reinterpret_borrow<py::object>(obj)).ptr(), &overflow);
  if (overflow != 0) throw py::value_error("Python int too large to convert to an array (int64).");
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (v > INT32_MAX || v < INT32_MIN) wide = true;
  return v;
}

[[noreturn]] void invalid_type(py::handle obj) {
  throw py::value_error("Invalid type " + std::string(py::str(py::type::handle_of(obj))) +
                        " received in array initialization.");
}

template <typename T>
array from_buffer(const void* data, const Shape& shape, Dtype dtype) {
  return array(static_cast<const T*>(data), shape, dtype);
}

array from_numpy(py::array in, std::optional<Dtype> dtype) {
  py::dtype dt = in.dtype();
  if (dt.byteorder() == '>') in = in.attr("astype")(dt.attr("newbyteorder")("="));
  // A C-contiguous copy only when the input is not one already.
  py::array arr = py::array::ensure(in, py::array::c_style);
  if (!arr) throw py::error_already_set();
  Shape shape;
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    if (arr.shape(i) > INT32_MAX) throw py::value_error("[array] NumPy array dimension too large.");
    shape.push_back(ShapeElem(arr.shape(i)));
  }
  dt = arr.dtype();
  const void* p = arr.data();
  size_t sz = size_t(dt.itemsize());
  switch (dt.kind()) {
    case 'b': return from_buffer<uint8_t>(p, shape, dtype.value_or(bool_));
    case 'i':
      if (sz == 1) return from_buffer<int8_t>(p, shape, dtype.value_or(int8));
      if (sz == 2) return from_buffer<int16_t>(p, shape, dtype.value_or(int16));
      if (sz == 4) return from_buffer<int32_t>(p, shape, dtype.value_or(int32));
      if (sz == 8) return from_buffer<int64_t>(p, shape, dtype.value_or(int64));
      break;
    case 'u':
      if (sz == 1) return from_buffer<uint8_t>(p, shape, dtype.value_or(uint8));
      if (sz == 2) return from_buffer<uint16_t>(p, shape, dtype.value_or(uint16));
      if (sz == 4) return from_buffer<uint32_t>(p, shape, dtype.value_or(uint32));
      if (sz == 8) return from_buffer<uint64_t>(p, shape, dtype.value_or(uint64));
      break;
    case 'f':
      if (sz == 2) return from_buffer<float16_t>(p, shape, dtype.value_or(float16));
      if (sz == 4) return from_buffer<float>(p, shape, dtype.value_or(float32));
      // MLX's default: NumPy's float64 becomes float32 unless float64 is asked for.
      if (sz == 8) return from_buffer<double>(p, shape, dtype.value_or(float32));
      break;
    case 'c':
      if (sz == 8) return from_buffer<complex64_t>(p, shape, dtype.value_or(complex64));
      if (sz == 16) {
        size_t n = size_t(arr.size());
        std::vector<complex64_t> tmp(n);
        auto* src = static_cast<const std::complex<double>*>(p);
        for (size_t i = 0; i < n; ++i) tmp[i] = complex64_t(float(src[i].real()), float(src[i].imag()));
        return array(tmp.data(), shape, dtype.value_or(complex64));
      }
      break;
    case 'V':
      // ml_dtypes' bfloat16 reports kind 'V' with 2-byte items.
      if (sz == 2 && std::string(py::str(dt)) == "bfloat16") {
        return from_buffer<bfloat16_t>(p, shape, dtype.value_or(bfloat16));
      }
      break;
    default: break;
  }
  throw py::value_error("[array] Unsupported NumPy dtype " + std::string(py::str(dt)) + ".");
}

array from_int(py::handle obj, std::optional<Dtype> dtype) {
  bool wide = false;
  int64_t v = to_int64(obj, wide);
  return array(v, dtype.value_or(wide ? int64 : int32));
}

// Nested lists and tuples of scalars (or of arrays, which are stacked).
void list_shape(py::handle obj, Shape& shape, py::handle& first_leaf) {
  while (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    py::ssize_t n = PySequence_Fast_GET_SIZE(obj.ptr());
    shape.push_back(ShapeElem(n));
    if (n == 0) return;
    obj = PySequence_Fast_GET_ITEM(obj.ptr(), 0);
  }
  first_leaf = obj;
}

void collect_leaves(py::handle obj, const Shape& shape, size_t depth, std::vector<PyObject*>& leaves, Kind& kind) {
  if (depth == shape.size()) {
    Kind k;
    if (!scalar_kind(obj, k)) {
      if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
        throw py::value_error("Initialization encountered non-uniform length.");
      }
      invalid_type(obj);
    }
    if (int(k) > int(kind)) kind = k;
    leaves.push_back(obj.ptr());
    return;
  }
  if (!PyList_Check(obj.ptr()) && !PyTuple_Check(obj.ptr())) {
    throw py::value_error("Initialization encountered non-uniform length.");
  }
  py::ssize_t n = PySequence_Fast_GET_SIZE(obj.ptr());
  if (n != shape[depth]) throw py::value_error("Initialization encountered non-uniform length.");
  for (py::ssize_t i = 0; i < n; ++i) {
    collect_leaves(PySequence_Fast_GET_ITEM(obj.ptr(), i), shape, depth + 1, leaves, kind);
  }
}

array from_list(py::handle obj, std::optional<Dtype> dtype) {
  Shape shape;
  py::handle first;
  list_shape(obj, shape, first);
  if (first && (is_array(first) || py::isinstance<py::array>(first))) {
    // A list of arrays: convert each item and stack them at their common dtype.
    std::vector<array> items;
    py::ssize_t n = PySequence_Fast_GET_SIZE(obj.ptr());
    for (py::ssize_t i = 0; i < n; ++i) items.push_back(to_array(PySequence_Fast_GET_ITEM(obj.ptr(), i)));
    Dtype t = items[0].dtype();
    for (auto& a : items) {
      if (a.shape() != items[0].shape()) throw py::value_error("Initialization encountered non-uniform length.");
      t = promote_types(t, a.dtype());
    }
    array out = stack(items, 0);
    Dtype want = dtype.value_or(t);
    return out.dtype() == want ? out : astype(out, want);
  }
  std::vector<PyObject*> leaves;
  Kind kind = Kind::boolean;
  collect_leaves(obj, shape, 0, leaves, kind);
  if (leaves.empty()) return array(static_cast<const float*>(nullptr), shape, dtype.value_or(float32));
  switch (kind) {
    case Kind::boolean: {
      std::vector<uint8_t> v;
      v.reserve(leaves.size());
      for (PyObject* l : leaves) v.push_back(PyObject_IsTrue(l) == 1);
      return array(v.data(), shape, dtype.value_or(bool_));
    }
    case Kind::integer: {
      std::vector<int64_t> v;
      v.reserve(leaves.size());
      bool wide = false;
      for (PyObject* l : leaves) v.push_back(to_int64(l, wide));
      return array(v.data(), shape, dtype.value_or(wide ? int64 : int32));
    }
    case Kind::floating: {
      std::vector<double> v;
      v.reserve(leaves.size());
      for (PyObject* l : leaves) {
        double d = PyFloat_AsDouble(l);
        if (d == -1.0 && PyErr_Occurred()) throw py::error_already_set();
        v.push_back(d);
      }
      return array(v.data(), shape, dtype.value_or(float32));
    }
    case Kind::complex: {
      std::vector<complex64_t> v;
      v.reserve(leaves.size());
      for (PyObject* l : leaves) {
        Py_complex c = PyComplex_AsCComplex(l);
        if (c.real == -1.0 && PyErr_Occurred()) throw py::error_already_set();
        v.emplace_back(float(c.real), float(c.imag));
      }
      return array(v.data(), shape, dtype.value_or(complex64));
    }
  }
  invalid_type(obj);
}

}  // namespace

bool is_array(py::handle obj) { return py::isinstance<array>(obj); }

bool is_py_scalar(py::handle obj) {
  return PyBool_Check(obj.ptr()) || PyLong_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) || PyComplex_Check(obj.ptr());
}

array to_array(py::handle obj, std::optional<Dtype> dtype) {
  if (is_array(obj)) {
    const array& a = obj.cast<const array&>();
    return dtype && *dtype != a.dtype() ? astype(a, *dtype) : a;
  }
  PyObject* p = obj.ptr();
  if (PyBool_Check(p)) return array(p == Py_True, dtype.value_or(bool_));
  if (is_numpy_scalar(obj)) return from_numpy(py::array::ensure(obj), dtype);
  if (PyLong_Check(p)) return from_int(obj, dtype);
  if (PyFloat_Check(p)) return array(PyFloat_AsDouble(p), dtype.value_or(float32));
  if (PyComplex_Check(p)) {
    Py_complex c = PyComplex_AsCComplex(p);
    return array(complex64_t(float(c.real), float(c.imag)), dtype.value_or(complex64));
  }
  if (py::isinstance<py::array>(obj)) return from_numpy(py::reinterpret_borrow<py::array>(obj), dtype);
  if (PyList_Check(p) || PyTuple_Check(p)) return from_list(obj, dtype);
  if (py::hasattr(obj, "__array__")) {
    py::object np = py::module_::import("numpy");
    return from_numpy(np.attr("asarray")(obj), dtype);
  }
  if (py::hasattr(obj, "__dlpack__")) {
    // Other frameworks' host tensors: NumPy takes the DLPack capsule without a copy.
    py::object np = py::module_::import("numpy");
    return from_numpy(np.attr("from_dlpack")(obj), dtype);
  }
  invalid_type(obj);
}

array to_array_weak(py::handle obj, Dtype other) {
  if (is_array(obj)) return obj.cast<const array&>();
  PyObject* p = obj.ptr();
  if (PyBool_Check(p)) return array(p == Py_True, bool_);
  if (PyLong_Check(p) && !is_numpy_scalar(obj)) {
    bool wide = false;
    int64_t v = to_int64(obj, wide);
    return array(v, other == bool_ ? (wide ? int64 : int32) : other);
  }
  if (PyFloat_Check(p)) {
    return array(PyFloat_AsDouble(p), issubdtype(other, inexact) ? other : float32);
  }
  if (PyComplex_Check(p)) return to_array(obj);
  return to_array(obj);
}

std::pair<array, array> to_arrays(py::handle a, py::handle b) {
  if (is_array(a)) {
    const array& x = a.cast<const array&>();
    if (is_array(b)) return {x, b.cast<const array&>()};
    return {x, to_array_weak(b, x.dtype())};
  }
  if (is_array(b)) {
    const array& y = b.cast<const array&>();
    return {to_array_weak(a, y.dtype()), y};
  }
  if (!is_py_scalar(a)) {
    array x = to_array(a);
    return {x, to_array_weak(b, x.dtype())};
  }
  if (!is_py_scalar(b)) {
    array y = to_array(b);
    return {to_array_weak(a, y.dtype()), y};
  }
  return {to_array(a), to_array(b)};
}

// ---------------------------------------------------------------- arrays to Python

namespace {

array evaluated(const array& in) {
  array a = in;
  py::gil_scoped_release nogil;
  a.eval();
  return a;
}

template <typename T>
py::object to_py(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return py::bool_(v);
  } else if constexpr (std::is_same_v<T, complex64_t>) {
    return py::reinterpret_steal<py::object>(PyComplex_FromDoubles(v.real(), v.imag()));
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return py::int_(int64_t(v));
  } else if constexpr (std::is_integral_v<T>) {
    return py::int_(uint64_t(v));
  } else {
    return py::float_(double(static_cast<float>(v)));
  }
}

template <>
py::object to_py<double>(double v) {
  return py::float_(v);
}

template <typename T>
py::object tolist_rec(const array& a, const T* data, int dim, int64_t offset) {
  if (dim == int(a.ndim())) return to_py<T>(data[offset]);
  int n = a.shape(dim);
  py::list out(n);
  int64_t st = a.strides()[dim];
  for (int i = 0; i < n; ++i) {
    out[i] = tolist_rec<T>(a, data, dim + 1, offset + i * st);
  }
  return out;
}

template <typename F>
py::object dispatch(Dtype t, F&& f) {
  switch (t.val) {
    case Dtype::Val::bool_: return f(bool{});
    case Dtype::Val::uint8: return f(uint8_t{});
    case Dtype::Val::uint16: return f(uint16_t{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::uint64: return f(uint64_t{});
    case Dtype::Val::int8: return f(int8_t{});
    case Dtype::Val::int16: return f(int16_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    case Dtype::Val::float16: return f(float16_t{});
    case Dtype::Val::float32: return f(float{});
    case Dtype::Val::float64: return f(double{});
    case Dtype::Val::bfloat16: return f(bfloat16_t{});
    case Dtype::Val::complex64: return f(complex64_t{});
  }
  throw py::value_error("unknown dtype");
}

}  // namespace

py::object item(const array& in) {
  if (in.size() != 1) throw py::value_error("[item] item can only be called on arrays of size 1.");
  array a = evaluated(in);
  return dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return to_py<T>(a.data<T>()[0]);
  });
}

py::object tolist(const array& in) {
  array a = evaluated(in);
  return dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return tolist_rec<T>(a, a.data<T>(), 0, 0);
  });
}

py::array to_numpy(const array& in, std::optional<py::object> dtype) {
  // NumPy has no bfloat16; float32 holds every bfloat16 value exactly.
  array a = evaluated(in.dtype() == bfloat16 ? astype(in, float32) : in);
  py::dtype dt(dtype_to_array_protocol(a.dtype()));
  std::vector<py::ssize_t> shape(a.shape().begin(), a.shape().end());
  std::vector<py::ssize_t> strides;
  for (auto s : a.strides()) strides.push_back(py::ssize_t(s) * py::ssize_t(a.itemsize()));
  // The capsule shares the array's buffer, so the NumPy view outlives later changes to the array
  // object (slice assignment replaces the object's graph node, never the buffer's contents).
  auto* keep = new array(a);
  py::capsule base(keep, [](void* p) { delete static_cast<array*>(p); });
  py::array out(dt, shape, strides, a.size() ? a.raw_data() : nullptr, base);
  if (dtype && !dtype->is_none()) return out.attr("astype")(*dtype);
  return out;
}

// ---------------------------------------------------------------- argument helpers

Shape to_shape(py::handle obj) {
  Shape s;
  for (int v : to_int_vector(obj)) s.push_back(v);
  return s;
}

std::vector<int> to_int_vector(py::handle obj) {
  if (PyIndex_Check(obj.ptr()) && !is_array(obj)) return {py::cast<int>(obj)};
  std::vector<int> out;
  if (is_array(obj)) {
    py::object l = tolist(obj.cast<const array&>());
    if (PyLong_Check(l.ptr())) return {l.cast<int>()};
    obj = l;
    for (auto v : obj) out.push_back(py::cast<int>(v));
    return out;
  }
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj)) {
    throw py::type_error("Expected an int or a sequence of ints, got " + std::string(py::str(py::type::handle_of(obj))) +
                         ".");
  }
  for (auto v : obj) out.push_back(py::cast<int>(v));
  return out;
}

std::optional<std::vector<int>> to_axes(py::handle obj) {
  if (obj.is_none()) return std::nullopt;
  return to_int_vector(obj);
}

std::vector<array> to_array_list(py::handle seq) {
  std::vector<array> out;
  for (auto v : seq) out.push_back(to_array(v));
  return out;
}

PyFunc::PyFunc(py::object f)
    : fn(new py::object(std::move(f)), [](py::object* o) {
        // After interpreter shutdown there is nothing to release the reference to.
        if (!Py_IsInitialized()) {
          o->release();
          delete o;
          return;
        }
        py::gil_scoped_acquire gil;
        delete o;
      }) {}

py::object PyFunc::operator()(py::args args) const {
  py::gil_scoped_acquire gil;
  return (*fn)(*args);
}

}  // namespace tessera::py_bind
