// tessera.core.fast (fused ops with composite fallbacks), file io and the allocator's memory
// statistics, with MLX's names and keyword arguments.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common.h"

namespace tessera::py_bind {

namespace {

std::optional<array> opt_array(py::handle v) {
  if (v.is_none()) return std::nullopt;
  return to_array(v);
}

bool is_path(py::handle file) { return py::isinstance<py::str>(file) || py::hasattr(file, "__fspath__"); }

std::string path_of(py::handle file) {
  if (py::isinstance<py::str>(file)) return file.cast<std::string>();
  if (py::hasattr(file, "__fspath__")) return py::str(file.attr("__fspath__")()).cast<std::string>();
  throw py::type_error("Expected a file path (str or os.PathLike) or a binary file object.");
}

// A path, or a binary file object staged through a temporary file: the readers memory-map and
// the writers rename into place, which a Python stream cannot do. Reads copy the stream's bytes
// into the file first; writes copy the file's bytes to the stream in finish().
class FileArg {
 public:
  FileArg(py::handle file, const std::string& suffix, bool write) : file_(py::reinterpret_borrow<py::object>(file)) {
    if (is_path(file)) {
      path_ = path_of(file);
      return;
    }
    const char* needed = write ? "write" : "read";
    if (!py::hasattr(file, needed)) {
      throw py::type_error(std::string("Expected a file path (str or os.PathLike) or a binary file object with ") +
                           needed + "().");
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "tessera-io-XXXXXX").string() + suffix;
    int fd = mkstemps(tmpl.data(), int(suffix.size()));
    if (fd < 0) throw std::runtime_error("could not create a temporary file for a file object");
    path_ = tmpl;
    staged_ = true;
    if (!write) {
      py::bytes data = file.attr("read")();
      std::string_view bytes = data.cast<std::string_view>();
      size_t done = 0;
      while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) {
          ::close(fd);
          throw std::runtime_error("could not stage a file object's bytes in " + path_);
        }
        done += size_t(n);
      }
    }
    ::close(fd);
  }
  ~FileArg() {
    if (staged_) std::remove(path_.c_str());
  }
  FileArg(const FileArg&) = delete;
  FileArg& operator=(const FileArg&) = delete;

  const std::string& path() const { return path_; }
  void finish() {
    if (!staged_) return;
    std::ifstream in(path_, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    file_.attr("write")(py::bytes(bytes));
  }

 private:
  py::object file_;
  std::string path_;
  bool staged_ = false;
};

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
  FileArg target(file, ".npz", true);
  {
    py::gil_scoped_release nogil;
    savez(target.path(), arrays, compressed);
  }
  target.finish();
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
        std::string fmt = format ? *format : "";
        if (fmt.empty()) {
          std::string name = is_path(file)             ? path_of(file)
                             : py::hasattr(file, "name") ? py::str(file.attr("name")).cast<std::string>()
                                                         : "";
          if (auto dot = name.rfind('.'); dot != std::string::npos) fmt = name.substr(dot + 1);
          if (fmt.empty() && !is_path(file)) {
            throw py::value_error("[load] a file object needs format= (npy, npz, safetensors or gguf).");
          }
        }
        FileArg source(file, "." + fmt, false);
        const std::string& path = source.path();
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
        FileArg target(file, ".npy", true);
        {
          py::gil_scoped_release nogil;
          save(target.path(), arr);
        }
        target.finish();
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
        FileArg target(file, ".safetensors", true);
        auto m = to_array_map(arrays);
        auto meta = metadata.value_or(std::unordered_map<std::string, std::string>{});
        {
          py::gil_scoped_release nogil;
          save_safetensors(target.path(), m, meta);
        }
        target.finish();
      },
      "file"_a, "arrays"_a, "metadata"_a = py::none());
  parent.def(
      "save_gguf",
      [](py::object file, py::dict arrays, py::object metadata) {
        FileArg target(file, ".gguf", true);
        save_gguf_py(target.path(), arrays, metadata);
        target.finish();
      },
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
