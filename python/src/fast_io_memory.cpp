// tessera.core.fast (fused ops with composite fallbacks), file io and the allocator's memory
// statistics, with MLX's names and keyword arguments.
#include "common.h"

namespace tessera::py_bind {

namespace {

std::optional<array> opt_array(py::handle v) {
  if (v.is_none()) return std::nullopt;
  return to_array(v);
}

std::string path_of(py::handle file) {
  if (py::isinstance<py::str>(file)) return file.cast<std::string>();
  if (py::hasattr(file, "__fspath__")) return py::str(file.attr("__fspath__")()).cast<std::string>();
  throw py::type_error("Expected a file path (str or os.PathLike); file objects are not supported yet.");
}

std::unordered_map<std::string, array> to_array_map(py::handle d) {
  std::unordered_map<std::string, array> out;
  for (auto kv : d.cast<py::dict>()) out.emplace(kv.first.cast<std::string>(), to_array(kv.second));
  return out;
}

py::dict to_py_dict(const std::unordered_map<std::string, array>& m) {
  py::dict d;
  for (auto& [k, v] : m) d[py::str(k)] = v;
  return d;
}

void savez_impl(py::object file, py::args args, py::kwargs kwargs, bool compressed) {
  std::unordered_map<std::string, array> arrays;
  for (size_t i = 0; i < args.size(); ++i) arrays.emplace("arr_" + std::to_string(i), to_array(args[i]));
  for (auto kv : kwargs) {
    auto name = kv.first.cast<std::string>();
    if (arrays.count(name)) throw py::value_error("[savez] Duplicate array name " + name + ".");
    arrays.emplace(name, to_array(kv.second));
  }
  std::string path = path_of(file);
  py::gil_scoped_release nogil;
  savez(path, arrays, compressed);
}

}  // namespace

void init_fast_io_memory(py::module_& parent) {
  // ---------------------------------------------------------------- fast
  py::module_ f = parent.def_submodule("fast", "Fused operations with composite fallbacks.");
  f.def(
      "rms_norm",
      [](const array& x, py::object weight, float eps, StreamOrDevice s) {
        return fast::rms_norm(x, opt_array(weight), eps, s);
      },
      "x"_a, "weight"_a, "eps"_a, py::kw_only(), kStream());
  f.def(
      "layer_norm",
      [](const array& x, py::object weight, py::object bias, float eps, StreamOrDevice s) {
        return fast::layer_norm(x, opt_array(weight), opt_array(bias), eps, s);
      },
      "x"_a, "weight"_a, "bias"_a, "eps"_a, py::kw_only(), kStream());
  f.def(
      "rope",
      [](const array& a, int dims, bool traditional, std::optional<float> base, float scale, py::object offset,
         py::object freqs, StreamOrDevice s) {
        if (PyLong_Check(offset.ptr())) {
          return fast::rope(a, dims, traditional, base, scale, offset.cast<int>(), opt_array(freqs), s);
        }
        return fast::rope(a, dims, traditional, base, scale, to_array(offset), opt_array(freqs), s);
      },
      "a"_a, "dims"_a, py::kw_only(), "traditional"_a, "base"_a, "scale"_a, "offset"_a, "freqs"_a = py::none(),
      kStream());
  f.def(
      "scaled_dot_product_attention",
      [](const array& q, const array& k, const array& v, float scale, py::object mask, py::object sinks,
         StreamOrDevice s) {
        if (mask.is_none()) return fast::scaled_dot_product_attention(q, k, v, scale, "", {}, opt_array(sinks), s);
        if (py::isinstance<py::str>(mask)) {
          return fast::scaled_dot_product_attention(q, k, v, scale, mask.cast<std::string>(), {}, opt_array(sinks), s);
        }
        return fast::scaled_dot_product_attention(q, k, v, scale, "array", to_array(mask), opt_array(sinks), s);
      },
      "q"_a, "k"_a, "v"_a, py::kw_only(), "scale"_a, "mask"_a = py::none(), "sinks"_a = py::none(), kStream());

  // ---------------------------------------------------------------- io
  parent.def(
      "load",
      [](py::object file, std::optional<std::string> format, bool return_metadata, StreamOrDevice s) -> py::object {
        std::string path = path_of(file);
        std::string fmt;
        if (format) fmt = *format;
        else if (auto dot = path.rfind('.'); dot != std::string::npos) fmt = path.substr(dot + 1);
        if (fmt == "npy") {
          if (return_metadata) throw py::value_error("[load] metadata is only returned for safetensors and gguf.");
          py::gil_scoped_release nogil;
          return py::cast(load(path, s));
        }
        if (fmt == "npz") {
          if (return_metadata) throw py::value_error("[load] metadata is only returned for safetensors and gguf.");
          std::unordered_map<std::string, array> m;
          {
            py::gil_scoped_release nogil;
            m = loadz(path, s);
          }
          return to_py_dict(m);
        }
        if (fmt == "safetensors") {
          SafetensorsLoad r;
          {
            py::gil_scoped_release nogil;
            r = load_safetensors(path, s);
          }
          py::dict arrays = to_py_dict(r.first);
          if (!return_metadata) return arrays;
          py::dict meta;
          for (auto& [k, v] : r.second) meta[py::str(k)] = v;
          return py::make_tuple(arrays, meta);
        }
        if (fmt == "gguf") return load_gguf_py(path, return_metadata);
        throw py::value_error("[load] Unsupported file format '" + fmt + "' (expected npy, npz, safetensors or gguf).");
      },
      "file"_a, py::pos_only(), "format"_a = py::none(), "return_metadata"_a = false, py::kw_only(), kStream());
  parent.def(
      "save",
      [](py::object file, const array& arr) {
        std::string path = path_of(file);
        py::gil_scoped_release nogil;
        save(path, arr);
      },
      "file"_a, "arr"_a);
  parent.def(
      "savez", [](py::object file, py::args args, py::kwargs kwargs) { savez_impl(file, args, kwargs, false); },
      "file"_a);
  parent.def(
      "savez_compressed",
      [](py::object file, py::args args, py::kwargs kwargs) { savez_impl(file, args, kwargs, true); }, "file"_a);
  parent.def(
      "save_safetensors",
      [](py::object file, py::dict arrays, std::optional<std::unordered_map<std::string, std::string>> metadata) {
        std::string path = path_of(file);
        auto m = to_array_map(arrays);
        auto meta = metadata.value_or(std::unordered_map<std::string, std::string>{});
        py::gil_scoped_release nogil;
        save_safetensors(path, m, meta);
      },
      "file"_a, "arrays"_a, "metadata"_a = py::none());
  parent.def(
      "save_gguf",
      [](py::object file, py::dict arrays, py::object metadata) { save_gguf_py(path_of(file), arrays, metadata); },
      "file"_a, "arrays"_a, "metadata"_a = py::none());

  // ---------------------------------------------------------------- memory
  parent.def("get_active_memory", &get_active_memory);
  parent.def("get_peak_memory", &get_peak_memory);
  parent.def("reset_peak_memory", &reset_peak_memory);
  parent.def("get_cache_memory", &get_cache_memory);
  parent.def("set_memory_limit", &set_memory_limit, "limit"_a);
  parent.def("get_memory_limit", &get_memory_limit);
  parent.def("set_cache_limit", &set_cache_limit, "limit"_a);
  parent.def("set_wired_limit", &set_wired_limit, "limit"_a);
  parent.def("clear_cache", &clear_cache);
}

}  // namespace tessera::py_bind
