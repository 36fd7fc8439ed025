// tessera.core.array, dtypes, devices and streams. Operators follow MLX: Python scalars are weakly
// typed, in-place operators rebind the array object to the result (other references to the
// same object see it), comparisons return arrays.
#include <sstream>

#include "common.h"

namespace tessera::py_bind {

namespace {

py::object not_implemented() { return py::reinterpret_borrow<py::object>(Py_NotImplemented); }

// True when `obj` can be an operand of an array operator (anything else gets NotImplemented, so
// Python tries the reflected operation or raises TypeError).
bool operand_ok(py::handle obj) {
  return is_array(obj) || is_py_scalar(obj) || py::isinstance<py::array>(obj) || PyList_Check(obj.ptr()) ||
         PyTuple_Check(obj.ptr()) || py::hasattr(obj, "__array__");
}

using BinaryFn = array (*)(const array&, const array&, StreamOrDevice);

// The array operand is `a` itself: no conversion, and a scalar `b` is typed after it.
array other_operand(const array& a, py::handle b) {
  return is_array(b) ? b.cast<const array&>() : to_array_weak(b, a.dtype());
}

template <BinaryFn F>
void def_binary(py::class_<array>& cls, const char* name, const char* rname, const char* iname) {
  cls.def(name, [](const array& a, py::object b) -> py::object {
    if (!operand_ok(b)) return not_implemented();
    return py::cast(F(a, other_operand(a, b), {}));
  });
  if (rname) {
    cls.def(rname, [](const array& a, py::object b) -> py::object {
      if (!operand_ok(b)) return not_implemented();
      return py::cast(F(other_operand(a, b), a, {}));
    });
  }
  if (iname) {
    cls.def(iname, [](py::object self, py::object b) -> py::object {
      if (!operand_ok(b)) return not_implemented();
      array& a = self.cast<array&>();
      a.overwrite_descriptor(F(a, other_operand(a, b), {}));
      return self;
    });
  }
}

array matmul_fn(const array& a, const array& b, StreamOrDevice s) { return matmul(a, b, s); }

std::string array_repr(const array& a) {
  array x = a;
  std::ostringstream os;
  {
    py::gil_scoped_release nogil;
    x.eval();
    os << x;
  }
  std::string out = os.str();
  // MLX's Python repr writes Python's True/False for booleans.
  if (a.dtype() == bool_) {
    for (auto [from, to] : {std::pair<std::string, std::string>{"true", "True"}, {"false", "False"}}) {
      for (size_t p = out.find(from); p != std::string::npos; p = out.find(from, p + to.size())) {
        out.replace(p, from.size(), to);
      }
    }
  }
  return out;
}

}  // namespace

void init_array(py::module_& m) {
  // ---- devices and streams
  py::enum_<Device::DeviceType>(m, "DeviceType")
      .value("cpu", Device::DeviceType::cpu)
      .value("gpu", Device::DeviceType::gpu)
      .value("reference", Device::DeviceType::reference);
  m.attr("cpu") = Device::DeviceType::cpu;
  m.attr("gpu") = Device::DeviceType::gpu;

  py::class_<Device>(m, "Device")
      .def(py::init<Device::DeviceType, int>(), "type"_a, "index"_a = 0)
      .def_readonly("type", &Device::type)
      .def_readonly("index", &Device::index)
      .def("__eq__", [](const Device& a, py::object b) {
        if (py::isinstance<Device>(b)) return a == b.cast<Device>();
        if (py::isinstance<Device::DeviceType>(b)) return a.type == b.cast<Device::DeviceType>();
        return false;
      })
      .def("__hash__", [](const Device& d) { return int(d.type) * 1000 + d.index; })
      .def("__repr__", [](const Device& d) {
        std::ostringstream os;
        os << "Device(" << d << ", " << d.index << ")";
        return os.str();
      });
  py::implicitly_convertible<Device::DeviceType, Device>();

  py::class_<Stream>(m, "Stream")
      .def(py::init<int, Device>(), "index"_a, "device"_a)
      .def_readonly("index", &Stream::index)
      .def_readonly("device", &Stream::device)
      .def("__eq__", [](const Stream& a, py::object b) { return py::isinstance<Stream>(b) && a == b.cast<Stream>(); })
      .def("__hash__", [](const Stream& s) { return s.index; })
      .def("__repr__", [](const Stream& s) {
        std::ostringstream os;
        os << "Stream(Device(" << s.device << ", " << s.device.index << "), " << s.index << ")";
        return os.str();
      });

  m.def("default_device", &default_device);
  m.def("set_default_device", &set_default_device, "device"_a);
  m.def("is_available", &is_available, "device"_a);
  m.def("default_stream", &default_stream, "device"_a);
  m.def("set_default_stream", &set_default_stream, "stream"_a);
  m.def("new_stream", &new_stream, "device"_a);
  m.def(
      "synchronize",
      [](std::optional<Stream> s) {
        py::gil_scoped_release nogil;
        if (s) synchronize(*s);
        else synchronize();
      },
      "stream"_a = py::none());

  // `with mx.stream(s):` makes s (a Stream or Device) the default inside the block.
  struct PyStreamContext {
    StreamOrDevice s;
    std::unique_ptr<StreamContext> ctx;
  };
  py::class_<PyStreamContext>(m, "StreamContext")
      .def(py::init([](StreamOrDevice s) { return PyStreamContext{s, nullptr}; }), "s"_a)
      .def("__enter__", [](PyStreamContext& c) { c.ctx = std::make_unique<StreamContext>(c.s); })
      .def("__exit__", [](PyStreamContext& c, py::args) { c.ctx.reset(); });
  m.def(
      "stream", [](StreamOrDevice s) { return PyStreamContext{s, nullptr}; }, "s"_a);

  // ---- dtypes
  py::class_<Dtype>(m, "Dtype")
      .def_property_readonly("size", [](const Dtype& d) { return int(d.size); })
      .def("__repr__", [](const Dtype& d) { return std::string("tessera.core.") + dtype_name(d); })
      .def("__eq__", [](const Dtype& a, py::object b) { return py::isinstance<Dtype>(b) && a == b.cast<Dtype>(); })
      .def("__hash__", [](const Dtype& d) { return int(d.val); });
  for (Dtype d : {bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, float32, float64, bfloat16,
                  complex64}) {
    std::string name = dtype_name(d);
    m.attr(py::str(name == "bool" ? "bool_" : name)) = d;
  }
  py::enum_<Dtype::Category>(m, "DtypeCategory")
      .value("complexfloating", complexfloating)
      .value("floating", floating)
      .value("inexact", inexact)
      .value("signedinteger", signedinteger)
      .value("unsignedinteger", unsignedinteger)
      .value("integer", integer)
      .value("number", number)
      .value("generic", generic)
      .export_values();
  m.def("issubdtype", py::overload_cast<const Dtype&, const Dtype&>(&issubdtype));
  m.def("issubdtype", py::overload_cast<const Dtype&, const Dtype::Category&>(&issubdtype));
  m.def("issubdtype", py::overload_cast<const Dtype::Category&, const Dtype&>(&issubdtype));
  m.def("issubdtype", py::overload_cast<const Dtype::Category&, const Dtype::Category&>(&issubdtype));
  m.def("promote_types", &promote_types);

  // ---- array
  py::class_<array> cls(m, "array");
  cls.def(py::init([](py::object val, std::optional<Dtype> dtype) { return to_array(val, dtype); }), "val"_a,
          "dtype"_a = py::none());
  // Lets ops that take arrays accept Python scalars, lists and NumPy arrays too, as MLX's do.
  py::implicitly_convertible<py::bool_, array>();
  py::implicitly_convertible<py::int_, array>();
  py::implicitly_convertible<py::float_, array>();
  py::implicitly_convertible<py::list, array>();
  py::implicitly_convertible<py::tuple, array>();
  py::implicitly_convertible<py::array, array>();

  cls.def_property_readonly("shape", [](const array& a) { return py::tuple(py::cast(a.shape())); })
      .def_property_readonly("ndim", [](const array& a) { return a.ndim(); })
      .def_property_readonly("size", [](const array& a) { return a.size(); })
      .def_property_readonly("dtype", [](const array& a) { return a.dtype(); })
      .def_property_readonly("itemsize", [](const array& a) { return a.itemsize(); })
      .def_property_readonly("nbytes", [](const array& a) { return a.nbytes(); })
      .def_property_readonly("T", [](const array& a) { return transpose(a); })
      .def_property_readonly("real", [](const array& a) { return real(a); })
      .def_property_readonly("imag", [](const array& a) { return imag(a); })
      .def("item", &item)
      .def("tolist", &tolist)
      .def("astype", [](const array& a, Dtype d, StreamOrDevice s) { return astype(a, d, s); }, "dtype"_a,
           "stream"_a = py::none())
      .def("__array__", &to_numpy, "dtype"_a = py::none())
      .def(
          "__array__", [](const array& a, py::object dtype, py::object) { return to_numpy(a, dtype); }, "dtype"_a,
          "copy"_a)
      .def("__repr__", &array_repr)
      .def("__len__",
           [](const array& a) {
             if (a.ndim() == 0) throw py::type_error("len() 0-dimensional array.");
             return a.shape(0);
           })
      .def("__bool__",
           [](const array& a) {
             if (a.size() != 1) {
               throw py::value_error("The truth value of an array with more than one element is ambiguous.");
             }
             return PyObject_IsTrue(item(a).ptr()) == 1;
           })
      .def("__int__", [](const array& a) { return py::int_(item(a)); })
      .def("__float__", [](const array& a) { return py::float_(item(a)); })
      .def("__hash__", [](py::object self) { return reinterpret_cast<intptr_t>(self.ptr()); })
      .def("__neg__", [](const array& a) { return negative(a); })
      .def("__pos__", [](const array& a) { return a; })
      .def("__abs__", [](const array& a) { return abs(a); })
      .def("__invert__", [](const array& a) { return a.dtype() == bool_ ? logical_not(a) : bitwise_invert(a); })
      .def("__divmod__",
           [](const array& a, py::object b) {
             auto r = divmod(a, other_operand(a, b));
             return py::make_tuple(r[0], r[1]);
           })
      .def("__rdivmod__", [](const array& a, py::object b) {
        auto r = divmod(other_operand(a, b), a);
        return py::make_tuple(r[0], r[1]);
      });
  cls.attr("__array_priority__") = 1000;

  def_binary<add>(cls, "__add__", "__radd__", "__iadd__");
  def_binary<subtract>(cls, "__sub__", "__rsub__", "__isub__");
  def_binary<multiply>(cls, "__mul__", "__rmul__", "__imul__");
  def_binary<divide>(cls, "__truediv__", "__rtruediv__", "__itruediv__");
  def_binary<floor_divide>(cls, "__floordiv__", "__rfloordiv__", "__ifloordiv__");
  def_binary<remainder>(cls, "__mod__", "__rmod__", "__imod__");
  def_binary<power>(cls, "__pow__", "__rpow__", "__ipow__");
  def_binary<matmul_fn>(cls, "__matmul__", "__rmatmul__", "__imatmul__");
  def_binary<bitwise_and>(cls, "__and__", "__rand__", "__iand__");
  def_binary<bitwise_or>(cls, "__or__", "__ror__", "__ior__");
  def_binary<bitwise_xor>(cls, "__xor__", "__rxor__", "__ixor__");
  def_binary<left_shift>(cls, "__lshift__", "__rlshift__", "__ilshift__");
  def_binary<right_shift>(cls, "__rshift__", "__rrshift__", "__irshift__");
  def_binary<less>(cls, "__lt__", nullptr, nullptr);
  def_binary<less_equal>(cls, "__le__", nullptr, nullptr);
  def_binary<greater>(cls, "__gt__", nullptr, nullptr);
  def_binary<greater_equal>(cls, "__ge__", nullptr, nullptr);
  // == and != against things that are not array-like are plain False / True, as in MLX.
  cls.def("__eq__", [](const array& a, py::object b) -> py::object {
    if (!operand_ok(b)) return py::bool_(false);
    return py::cast(equal(a, other_operand(a, b)));
  });
  cls.def("__ne__", [](const array& a, py::object b) -> py::object {
    if (!operand_ok(b)) return py::bool_(true);
    return py::cast(not_equal(a, other_operand(a, b)));
  });

  init_indexing(m, cls);
  init_dlpack(cls);
}

}  // namespace tessera::py_bind
