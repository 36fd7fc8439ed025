// array.__dlpack__ / __dlpack_device__: hands an evaluated array's buffer to NumPy, PyTorch and
// other DLPack consumers without copying. The DLManagedTensor owns a reference to the array, so the
// buffer lives until the consumer calls the deleter.
#include <dlpack/dlpack.h>

#include "common.h"

namespace tessera::py_bind {
namespace {

// Boolean arrays use the type code DLPack added after the 0.6 header Debian ships.
constexpr uint8_t kBoolTypeCode = 6;
constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";

DLDataType dl_dtype(Dtype t) {
  auto bits = static_cast<uint8_t>(size_of(t) * 8);
  switch (kindof(t)) {
    case Dtype::Kind::b: return {kBoolTypeCode, 8, 1};
    case Dtype::Kind::u: return {kDLUInt, bits, 1};
    case Dtype::Kind::i: return {kDLInt, bits, 1};
    case Dtype::Kind::f: return {kDLFloat, bits, 1};
    case Dtype::Kind::V: return {kDLBfloat, bits, 1};
    case Dtype::Kind::c: return {kDLComplex, bits, 1};
  }
  throw std::invalid_argument("[__dlpack__] Unsupported dtype.");
}

struct Exported {
  DLManagedTensor tensor{};
  array keep;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  explicit Exported(array a) : keep(std::move(a)) {}
};

void delete_exported(DLManagedTensor* t) { delete static_cast<Exported*>(t->manager_ctx); }

// Runs when the capsule is collected: a capsule nobody consumed still owns the tensor.
void capsule_destructor(PyObject* capsule) {
  if (PyCapsule_IsValid(capsule, kUsedCapsuleName)) return;
  auto* t = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (t == nullptr) {
    PyErr_Clear();
    return;
  }
  if (t->deleter != nullptr) t->deleter(t);
}

py::capsule to_dlpack(const array& in, py::object stream) {
  if (!stream.is_none()) {
    throw py::value_error("[__dlpack__] Tessera arrays live in host memory; stream must be None.");
  }
  array a = in;
  {
    py::gil_scoped_release nogil;
    a.eval();
  }
  auto* out = new Exported(a);
  out->shape.assign(a.shape().begin(), a.shape().end());
  out->strides.assign(a.strides().begin(), a.strides().end());
  DLTensor& t = out->tensor.dl_tensor;
  t.data = a.size() ? a.raw_data() : nullptr;
  t.device = {kDLCPU, 0};
  t.ndim = static_cast<int32_t>(a.ndim());
  t.dtype = dl_dtype(a.dtype());
  t.shape = out->shape.data();
  t.strides = out->strides.data();
  t.byte_offset = 0;
  out->tensor.manager_ctx = out;
  out->tensor.deleter = delete_exported;
  PyObject* cap = PyCapsule_New(&out->tensor, kCapsuleName, capsule_destructor);
  if (cap == nullptr) {
    delete out;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(cap);
}

}  // namespace

void init_dlpack(py::class_<array>& cls) {
  cls.def(
         "__dlpack__",
         [](const array& a, py::object stream, py::kwargs) { return to_dlpack(a, stream); },
         "stream"_a = py::none(),
         "Exports the evaluated array as a DLPack capsule (no copy), for np.from_dlpack, "
         "torch.from_dlpack and other consumers.")
      .def("__dlpack_device__", [](const array&) { return py::make_tuple(int(kDLCPU), 0); });
}

}  // namespace tessera::py_bind
