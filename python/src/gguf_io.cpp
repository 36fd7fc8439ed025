// GGUF files from Python, as MLX's mx.load / mx.save_gguf treat them: tensors by their names in
// the file; quantized tensors that Tessera's quantized_matmul runs come back as MLX's triplet
// (`<base>.weight` packed codes, `<base>.scales`, `<base>.biases`), other quantized types
// dequantized; metadata as str, list of str, or arrays for numbers.
#include "common.h"
#include "tessera/gguf.h"

namespace tessera::py_bind {

namespace {

py::object metadata_value(const gguf::Value& v, const std::string& key) {
  using gguf::ValueType;
  if (v.is_string()) return py::str(v.str());
  if (!v.is_array()) {
    if (v.type() == ValueType::bool_) return py::cast(array(v.to_bool()));
    if (v.type() == ValueType::float32 || v.type() == ValueType::float64) {
      return py::cast(array(float(v.to_double())));
    }
    if (v.type() == ValueType::uint64 || v.type() == ValueType::int64) return py::cast(array(v.to_int(), int64));
    if (v.type() == ValueType::uint32) return py::cast(array(int64_t(v.to_uint()), uint32));
    return py::cast(array(int32_t(v.to_int())));
  }
  if (v.element_type() == ValueType::string) {
    py::list out;
    for (auto& s : v.strings()) out.append(py::str(s));
    return out;
  }
  if (v.element_type() == ValueType::array) {
    throw py::value_error("[load] metadata '" + key + "' is an array of arrays, which has no array form");
  }
  const int n = int(v.size());
  if (v.element_type() == ValueType::float32 || v.element_type() == ValueType::float64) {
    std::vector<float> f = v.floats();
    return py::cast(array(f.begin(), Shape{n}, float32));
  }
  std::vector<int64_t> ints = v.ints();
  if (v.element_type() == ValueType::bool_) {
    std::vector<bool> b(ints.begin(), ints.end());
    return py::cast(array(b.begin(), Shape{n}, bool_));
  }
  if (v.element_type() == ValueType::uint64 || v.element_type() == ValueType::int64) {
    return py::cast(array(ints.begin(), Shape{n}, int64));
  }
  std::vector<int32_t> i32(ints.begin(), ints.end());
  return py::cast(array(i32.begin(), Shape{n}, int32));
}

gguf::Value value_from_python(py::handle obj, const std::string& key) {
  if (py::isinstance<py::str>(obj)) return gguf::Value(obj.cast<std::string>());
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    std::vector<std::string> items;
    for (auto item : obj) {
      if (!py::isinstance<py::str>(item)) {
        throw py::type_error("[save_gguf] metadata '" + key + "': lists may hold only str; use an array for numbers");
      }
      items.push_back(item.cast<std::string>());
    }
    return gguf::Value(std::move(items));
  }
  array a = to_array(obj);
  if (a.ndim() > 1) {
    throw py::value_error("[save_gguf] metadata '" + key + "' must be a scalar or 1-D array, got " +
                          std::to_string(a.ndim()) + " dimensions");
  }
  // Row-contiguous, so the elements can be read in order from the buffer.
  a = contiguous(a);
  a.eval();
  auto pick = [&](auto tag) {
    using T = decltype(tag);
    const array& c = a;
    std::vector<T> v(c.data<T>(), c.data<T>() + c.size());
    return a.ndim() == 0 ? gguf::Value(v[0]) : gguf::Value(v);
  };
  if (a.dtype() == bool_) {
    array c = contiguous(astype(a, uint8));
    c.eval();
    std::vector<bool> v(c.data<uint8_t>(), c.data<uint8_t>() + c.size());
    return a.ndim() == 0 ? gguf::Value(bool(v[0])) : gguf::Value(v);
  }
  if (a.dtype() == float32) return pick(float{});
  if (a.dtype() == int32) return pick(int32_t{});
  if (a.dtype() == uint32) return pick(uint32_t{});
  if (a.dtype() == int64) return pick(int64_t{});
  if (a.dtype() == uint64) return pick(uint64_t{});
  if (a.dtype() == int8) return pick(int8_t{});
  if (a.dtype() == uint8) return pick(uint8_t{});
  if (a.dtype() == int16) return pick(int16_t{});
  if (a.dtype() == uint16) return pick(uint16_t{});
  throw py::type_error(std::string("[save_gguf] metadata '") + key + "' has dtype " + dtype_name(a.dtype()) +
                       ", which GGUF metadata cannot hold");
}

}  // namespace

py::object load_gguf_py(const std::string& path, bool return_metadata) {
  py::dict arrays;
  std::unique_ptr<gguf::Reader> reader;
  {
    py::gil_scoped_release nogil;
    reader = std::make_unique<gguf::Reader>(path);
  }
  for (const auto& t : reader->tensors()) {
    std::optional<gguf::QuantizedTensor> q;
    array dense = array(0.0f);
    {
      py::gil_scoped_release nogil;
      if (gguf::block_layout(t.type).first > 1) q = reader->load_quantized(t.name);
      if (!q) dense = reader->load(t.name);
    }
    if (!q) {
      arrays[py::str(t.name)] = dense;
      continue;
    }
    const std::string base = t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0
                                 ? t.name.substr(0, t.name.size() - 7)
                                 : t.name;
    arrays[py::str(base + ".weight")] = q->wq;
    arrays[py::str(base + ".scales")] = q->scales;
    arrays[py::str(base + ".biases")] = q->biases;
  }
  if (!return_metadata) return arrays;
  py::dict meta;
  for (const auto& [key, value] : reader->metadata()) meta[py::str(key)] = metadata_value(value, key);
  return py::make_tuple(arrays, meta);
}

void save_gguf_py(const std::string& path, py::dict arrays, py::object metadata) {
  std::vector<gguf::WriteTensor> tensors;
  for (auto kv : arrays) {
    std::string name = kv.first.cast<std::string>();
    array a = to_array(kv.second);
    gguf::TensorType type;
    if (a.dtype() == float32) type = gguf::TensorType::f32;
    else if (a.dtype() == float16) type = gguf::TensorType::f16;
    else if (a.dtype() == bfloat16) type = gguf::TensorType::bf16;
    else {
      throw py::type_error("[save_gguf] array '" + name + "' has dtype " + dtype_name(a.dtype()) +
                           " (GGUF tensors here are float32, float16 or bfloat16)");
    }
    tensors.push_back({name, a, type});
  }
  std::vector<std::pair<std::string, gguf::Value>> meta;
  if (!metadata.is_none()) {
    for (auto kv : metadata.cast<py::dict>()) {
      std::string key = kv.first.cast<std::string>();
      meta.emplace_back(key, value_from_python(kv.second, key));
    }
  }
  py::gil_scoped_release nogil;
  gguf::save(path, meta, tensors);
}

}  // namespace tessera::py_bind
