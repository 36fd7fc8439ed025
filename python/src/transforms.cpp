// The transforms over flat lists of arrays. tessera/_transforms.py builds MLX's pytree-aware
// grad, value_and_grad, vjp, jvp, vmap, compile, checkpoint and custom_function on top of these.
//
// Python callables enter C++ through PyFunc: the GIL is taken for each call (a custom function's
// body also runs when its outputs are evaluated, possibly on the async-eval thread) and the last
// reference is dropped under the GIL wherever the C++ side frees it.
#include <fstream>
#include <sstream>

#include "common.h"

namespace tessera::py_bind {

namespace {

VectorFn vector_fn(py::object f) {
  PyFunc pf(std::move(f));
  return [pf](const std::vector<array>& in) {
    py::gil_scoped_acquire gil;
    py::object out = (*pf.fn)(py::cast(in));
    return out.cast<std::vector<array>>();
  };
}

// A compiled function as a Python callable over a list of arrays.
struct PyCompiled {
  std::function<std::vector<array>(const std::vector<array>&)> fn;
};

void collect(py::handle tree, std::vector<array>& out) {
  if (is_array(tree)) out.push_back(tree.cast<const array&>());
  else if (PyList_Check(tree.ptr()) || PyTuple_Check(tree.ptr()))
    for (auto v : tree) collect(v, out);
  else if (PyDict_Check(tree.ptr()))
    for (auto kv : tree.cast<py::dict>()) collect(kv.second, out);
}

}  // namespace

void init_transforms(py::module_& m) {
  m.def(
      "_vjp",
      [](py::object fun, const std::vector<array>& primals, const std::vector<array>& cotangents) {
        return vjp(vector_fn(fun), primals, cotangents);
      },
      "fun"_a, "primals"_a, "cotangents"_a);
  m.def(
      "_jvp",
      [](py::object fun, const std::vector<array>& primals, const std::vector<array>& tangents) {
        return jvp(vector_fn(fun), primals, tangents);
      },
      "fun"_a, "primals"_a, "tangents"_a);
  m.def(
      "_value_and_grad",
      [](py::object fun, const std::vector<array>& inputs, const std::vector<int>& argnums) {
        return value_and_grad(vector_fn(fun), argnums)(inputs);
      },
      "fun"_a, "inputs"_a, "argnums"_a);
  m.def(
      "_vmap",
      [](py::object fun, const std::vector<array>& inputs, const std::vector<int>& in_axes,
         const std::vector<int>& out_axes) { return vmap_trace_and_replay(vector_fn(fun), inputs, in_axes, out_axes); },
      "fun"_a, "inputs"_a, "in_axes"_a, "out_axes"_a);

  py::class_<PyCompiled>(m, "_Compiled").def("__call__", [](const PyCompiled& c, const std::vector<array>& inputs) {
    return c.fn(inputs);
  });
  m.def(
      "_compile", [](py::object fun, bool shapeless) { return PyCompiled{compile(vector_fn(fun), shapeless)}; },
      "fun"_a, "shapeless"_a = false);
  m.def(
      "_checkpoint", [](py::object fun) { return PyCompiled{checkpoint(vector_fn(fun))}; }, "fun"_a);
  m.def(
      "_custom_function",
      [](py::object fun, py::object fvjp, py::object fjvp, py::object fvmap) {
        std::optional<CustomVjpFn> v;
        std::optional<CustomJvpFn> j;
        std::optional<CustomVmapFn> mm;
        if (!fvjp.is_none()) {
          PyFunc pf(fvjp);
          v = [pf](const std::vector<array>& primals, const std::vector<array>& cotangents,
                   const std::vector<array>& outputs) {
            py::gil_scoped_acquire gil;
            return (*pf.fn)(py::cast(primals), py::cast(cotangents), py::cast(outputs)).cast<std::vector<array>>();
          };
        }
        if (!fjvp.is_none()) {
          PyFunc pf(fjvp);
          j = [pf](const std::vector<array>& primals, const std::vector<array>& tangents,
                   const std::vector<int>& argnums) {
            py::gil_scoped_acquire gil;
            return (*pf.fn)(py::cast(primals), py::cast(tangents), py::cast(argnums)).cast<std::vector<array>>();
          };
        }
        if (!fvmap.is_none()) {
          PyFunc pf(fvmap);
          mm = [pf](const std::vector<array>& inputs, const std::vector<int>& axes) {
            py::gil_scoped_acquire gil;
            return (*pf.fn)(py::cast(inputs), py::cast(axes))
                .cast<std::pair<std::vector<array>, std::vector<int>>>();
          };
        }
        return PyCompiled{custom_function(vector_fn(fun), v, j, mm)};
      },
      "fun"_a, "vjp"_a = py::none(), "jvp"_a = py::none(), "vmap"_a = py::none());

  m.def("disable_compile", &disable_compile);
  m.def("enable_compile", &enable_compile);

  m.def("export_to_dot", [](py::object file, py::args args) {
    std::vector<array> outputs;
    collect(args, outputs);
    std::ostringstream os;
    export_to_dot(os, outputs);
    if (py::isinstance<py::str>(file) || py::hasattr(file, "__fspath__")) {
      std::ofstream f(py::str(file).cast<std::string>());
      f << os.str();
    } else {
      file.attr("write")(os.str());
    }
  });
}

}  // namespace tessera::py_bind
