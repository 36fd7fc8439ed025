// NumPy-style indexing for tessera.core.array: a[idx], a[idx] = v and a.at[idx].add(v).
//
// Basic indices (ints, slices, None, ...) become one strided slice plus reshapes, so they are
// views. Integer-array ("advanced") indices become a gather over the indexed axes, and the
// gathered axes are placed as NumPy places them: where the first advanced index stands when all
// advanced indices are adjacent in the index tuple, in front otherwise. Assignment through
// advanced indices scatters with one index array per axis of the target. Boolean masks are
// accepted for assignment only (a[mask] = v); reading through a mask would give a data-dependent
// shape, which MLX does not allow either.
#include <algorithm>
#include <sstream>

#include "common.h"

namespace tessera::py_bind {

namespace {

struct Index {
  enum Kind { Int, Slice, Full, NewAxis, Ellipsis, Array, Mask } kind;
  int64_t i = 0;
  py::object slice;
  std::optional<array> arr;
};

[[noreturn]] void index_error(const std::string& msg) { throw py::index_error(msg); }

Shape broadcast_shape(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t k = 0; k < n; ++k) {
    int x = k < n - a.size() ? 1 : a[k - (n - a.size())];
    int y = k < n - b.size() ? 1 : b[k - (n - b.size())];
    if (x != y && x != 1 && y != 1) {
      std::ostringstream os;
      os << "Shapes " << a << " and " << b << " of index arrays cannot be broadcast together.";
      throw py::index_error(os.str());
    }
    out[k] = x == 1 ? y : x;
  }
  return out;
}

Index parse_one(py::handle e) {
  PyObject* p = e.ptr();
  if (e.is_none()) return {Index::NewAxis};
  if (p == Py_Ellipsis) return {Index::Ellipsis};
  if (PySlice_Check(p)) {
    PySliceObject* s = reinterpret_cast<PySliceObject*>(p);
    if (s->start == Py_None && s->stop == Py_None && s->step == Py_None) return {Index::Full};
    return {Index::Slice, 0, py::reinterpret_borrow<py::object>(e)};
  }
  if (PyBool_Check(p)) {
    throw py::value_error("Boolean scalar indices are not supported; use a boolean array for assignment.");
  }
  // NumPy arrays implement __index__ too, so arrays are recognized before integers.
  if (is_array(e) || PyList_Check(p) || PyTuple_Check(p) || py::isinstance<py::array>(e)) {
    array a = to_array(e);
    if (a.dtype() == bool_) return {Index::Mask, 0, {}, a};
    if (!issubdtype(a.dtype(), integer)) {
      std::ostringstream os;
      os << "Indices must be integral or boolean arrays; got dtype " << a.dtype() << ".";
      throw py::value_error(os.str());
    }
    return {Index::Array, 0, {}, a};
  }
  if (PyIndex_Check(p)) {
    Py_ssize_t v = PyNumber_AsSsize_t(p, PyExc_IndexError);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    return {Index::Int, int64_t(v)};
  }
  throw py::value_error("Cannot index an array with " + std::string(py::str(py::type::handle_of(e))) + ".");
}

// Parses the index and replaces the ellipsis (or the missing trailing axes) by full slices, so
// that every axis of the array has exactly one consuming item.
std::vector<Index> parse(py::handle obj, int ndim) {
  std::vector<Index> items;
  if (PyTuple_Check(obj.ptr())) {
    for (auto e : obj) items.push_back(parse_one(e));
  } else {
    items.push_back(parse_one(obj));
  }
  int consumed = 0, ellipses = 0;
  for (auto& it : items) {
    if (it.kind == Index::Ellipsis) ellipses++;
    else if (it.kind == Index::Mask) consumed += int(it.arr->ndim());
    else if (it.kind != Index::NewAxis) consumed++;
  }
  if (ellipses > 1) index_error("An index can only have a single ellipsis ('...').");
  if (consumed > ndim) {
    std::ostringstream os;
    os << "Too many indices for array with " << ndim << " dimensions.";
    index_error(os.str());
  }
  std::vector<Index> out;
  bool expanded = false;
  for (auto& it : items) {
    if (it.kind == Index::Ellipsis) {
      for (int k = 0; k < ndim - consumed; ++k) out.push_back({Index::Full});
      expanded = true;
    } else {
      out.push_back(std::move(it));
    }
  }
  if (!expanded) {
    for (int k = 0; k < ndim - consumed; ++k) out.push_back({Index::Full});
  }
  return out;
}

int normalize_int(int64_t i, int n, int axis) {
  int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n) {
    std::ostringstream os;
    os << "Index " << i << " is out of bounds for axis " << axis << " with size " << n << ".";
    index_error(os.str());
  }
  return int(j);
}

struct SliceSpec {
  int start, stop, step, len;
};

SliceSpec slice_spec(const Index& it, int n) {
  if (it.kind == Index::Full) return {0, n, 1, n};
  Py_ssize_t start, stop, step;
  if (PySlice_Unpack(it.slice.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
  Py_ssize_t len = PySlice_AdjustIndices(n, &start, &stop, step);
  // The slice op normalizes negative stops again, so a backward slice running past the first
  // element needs a stop that stays below zero after adding n.
  int st = int(start + step * len);
  if (step < 0 && st < 0) st = -n - 1;
  return {int(start), st, int(step), int(len)};
}

bool has_advanced(const std::vector<Index>& items) {
  for (auto& it : items)
    if (it.kind == Index::Array || it.kind == Index::Mask) return true;
  return false;
}

// ---------------------------------------------------------------- basic indexing

struct Basic {
  Shape start, stop, strides;
  Shape sliced;              // the slice's shape (1 on int axes)
  Shape view;                // the result's shape
  std::vector<int> int_axes;  // squeezed after slicing
  std::vector<int> new_axes;  // positions in the result
  bool identity = true;
};

Basic basic_plan(const array& a, const std::vector<Index>& items) {
  Basic b;
  int ax = 0, out_pos = 0;
  for (auto& it : items) {
    if (it.kind == Index::NewAxis) {
      b.new_axes.push_back(out_pos++);
      b.view.push_back(1);
      b.identity = false;
      continue;
    }
    int n = a.shape(ax);
    if (it.kind == Index::Int) {
      int i = normalize_int(it.i, n, ax);
      b.start.push_back(i);
      b.stop.push_back(i + 1);
      b.strides.push_back(1);
      b.sliced.push_back(1);
      b.int_axes.push_back(ax);
      b.identity = false;
    } else {
      SliceSpec s = slice_spec(it, n);
      b.start.push_back(s.start);
      b.stop.push_back(s.stop);
      b.strides.push_back(s.step);
      b.sliced.push_back(s.len);
      b.view.push_back(s.len);
      out_pos++;
      if (s.len != n || s.step != 1) b.identity = false;
    }
    ax++;
  }
  return b;
}

array basic_get(const array& a, const std::vector<Index>& items) {
  Basic b = basic_plan(a, items);
  if (b.identity) return a;
  array x = slice(a, b.start, b.stop, b.strides);
  if (!b.int_axes.empty() || !b.new_axes.empty()) x = reshape(x, b.view);
  return x;
}

// ---------------------------------------------------------------- advanced indexing

struct Advanced {
  std::vector<int> adv_axes;     // axes of the array indexed by arrays (or ints)
  std::vector<array> idx;        // their index arrays
  Shape bshape;                  // the index arrays' broadcast shape
  std::vector<SliceSpec> slices;  // per array axis (ignored on adv axes)
  std::vector<int> order;        // item kinds in index order: 0 slice, 1 new axis, 2 advanced
  bool adjacent = true;
};

Advanced advanced_plan(const array& a, const std::vector<Index>& items) {
  Advanced p;
  int ax = 0;
  int last_adv_item = -1;
  for (size_t k = 0; k < items.size(); ++k) {
    auto& it = items[k];
    if (it.kind == Index::NewAxis) {
      p.order.push_back(1);
      continue;
    }
    if (it.kind == Index::Mask) {
      throw py::value_error("Boolean mask indices are not supported when reading; they are only allowed in "
                            "assignments such as a[mask] = value.");
    }
    int n = a.shape(ax);
    if (it.kind == Index::Int || it.kind == Index::Array) {
      if (last_adv_item >= 0 && last_adv_item != int(k) - 1) p.adjacent = false;
      last_adv_item = int(k);
      p.adv_axes.push_back(ax);
      p.idx.push_back(it.kind == Index::Int ? array(normalize_int(it.i, n, ax)) : *it.arr);
      p.slices.push_back({0, n, 1, n});
      p.order.push_back(2);
    } else {
      p.slices.push_back(slice_spec(it, n));
      p.order.push_back(0);
    }
    ax++;
  }
  for (auto& i : p.idx) p.bshape = broadcast_shape(p.bshape, i.shape());
  return p;
}

// Output position of every result axis: the gathered (broadcast) axes start at `group`; slice
// axis s (in order) lands at slice_pos[s]; new axis j at new_pos[j].
struct Layout {
  int rank = 0, group = 0;
  std::vector<int> slice_pos, new_pos;
};

Layout layout(const Advanced& p) {
  Layout l;
  int nb = int(p.bshape.size());
  int pos = 0;
  bool placed = false;
  if (!p.adjacent) {
    l.group = 0;
    pos = nb;
    placed = true;
  }
  for (int k : p.order) {
    if (k == 0) l.slice_pos.push_back(pos++);
    else if (k == 1) l.new_pos.push_back(pos++);
    else if (!placed) {
      l.group = pos;
      pos += nb;
      placed = true;
    }
  }
  l.rank = pos;
  return l;
}

array advanced_get(const array& a, const std::vector<Index>& items) {
  Advanced p = advanced_plan(a, items);
  int nd = int(a.ndim());
  // Slices first (a view), then one gather over the advanced axes of the sliced array.
  Shape start(nd), stop(nd), strides(nd), sizes(nd);
  bool sliced = false;
  for (int ax = 0; ax < nd; ++ax) {
    auto& s = p.slices[ax];
    start[ax] = s.start;
    stop[ax] = s.stop;
    strides[ax] = s.step;
    sizes[ax] = s.len;
    if (s.len != a.shape(ax) || s.step != 1) sliced = true;
  }
  array b = sliced ? slice(a, start, stop, strides) : a;
  for (int ax : p.adv_axes) sizes[ax] = 1;
  array g = gather(b, p.idx, p.adv_axes, sizes);
  int nb = int(p.bshape.size());
  // Drop the gathered axes' unit slice dims: [bshape..., remaining slice axes...].
  Shape squeezed = p.bshape;
  for (int ax = 0; ax < nd; ++ax) {
    if (std::find(p.adv_axes.begin(), p.adv_axes.end(), ax) == p.adv_axes.end()) squeezed.push_back(sizes[ax]);
  }
  Layout l = layout(p);
  // Source order: [bshape..., slices..., new axes...] -> positions given by the layout.
  int ns = int(l.slice_pos.size()), nn = int(l.new_pos.size());
  for (int j = 0; j < nn; ++j) squeezed.push_back(1);
  g = reshape(g, squeezed);
  std::vector<int> perm(l.rank);
  for (int j = 0; j < nb; ++j) perm[l.group + j] = j;
  for (int s = 0; s < ns; ++s) perm[l.slice_pos[s]] = nb + s;
  for (int j = 0; j < nn; ++j) perm[l.new_pos[j]] = nb + ns + j;
  bool identity = true;
  for (int j = 0; j < l.rank; ++j) identity = identity && perm[j] == j;
  return identity ? g : transpose(g, perm);
}

// ---------------------------------------------------------------- updates

enum class Mode { set, add, prod, max, min };

// Brings `v` to `rank` dims: drops leading unit dims (NumPy allows a[0] = v[None]) or prepends
// unit dims.
array fit_rank(array v, size_t rank) {
  Shape s = v.shape();
  while (s.size() > rank && s.front() == 1) s.erase(s.begin());
  if (s.size() > rank) {
    std::ostringstream os;
    os << "Cannot assign an update of shape " << v.shape() << " to a selection with " << rank << " dimensions.";
    throw py::value_error(os.str());
  }
  s.insert(s.begin(), rank - s.size(), 1);
  return s == v.shape() ? v : reshape(v, s);
}

array basic_update(const array& a, const std::vector<Index>& items, const array& v, Mode mode) {
  Basic b = basic_plan(a, items);
  // Align the update with the view (a[idx]'s shape), then drop new axes and restore int axes.
  array u = broadcast_to(fit_rank(v, b.view.size()), b.view);
  u = reshape(u, b.sliced);
  switch (mode) {
    case Mode::set: return slice_update(a, u, b.start, b.stop, b.strides);
    case Mode::add: return slice_update_add(a, u, b.start, b.stop, b.strides);
    case Mode::prod: return slice_update_prod(a, u, b.start, b.stop, b.strides);
    case Mode::max: return slice_update_max(a, u, b.start, b.stop, b.strides);
    case Mode::min: return slice_update_min(a, u, b.start, b.stop, b.strides);
  }
  return a;
}

array advanced_update(const array& a, const std::vector<Index>& items, const array& v, Mode mode) {
  Advanced p = advanced_plan(a, items);
  Layout l = layout(p);
  int nd = int(a.ndim());
  int nb = int(p.bshape.size());
  Shape out(l.rank, 1);
  for (int j = 0; j < nb; ++j) out[l.group + j] = p.bshape[j];
  // One index array per axis of `a`, each shaped to broadcast against the result layout.
  std::vector<array> idx;
  std::vector<int> axes;
  int s = 0, adv = 0;
  for (int ax = 0; ax < nd; ++ax) {
    bool is_adv = adv < int(p.adv_axes.size()) && p.adv_axes[adv] == ax;
    Shape shape(l.rank, 1);
    if (is_adv) {
      for (int j = 0; j < nb; ++j) shape[l.group + j] = p.bshape[j];
      idx.push_back(reshape(broadcast_to(p.idx[adv], p.bshape), shape));
      adv++;
    } else {
      auto& sp = p.slices[ax];
      int pos = l.slice_pos[s++];
      shape[pos] = sp.len;
      out[pos] = sp.len;
      array r = sp.len == 0 ? zeros({0}, int32) : arange(sp.start, sp.start + sp.step * sp.len, sp.step);
      idx.push_back(reshape(astype(r, int32), shape));
    }
    axes.push_back(ax);
  }
  for (auto& i : idx) i = broadcast_to(i, out);
  array u = broadcast_to(fit_rank(v, size_t(l.rank)), out);
  Shape ushape = out;
  ushape.insert(ushape.end(), nd, 1);
  u = reshape(u, ushape);
  switch (mode) {
    case Mode::set: return scatter(a, idx, u, axes);
    case Mode::add: return scatter_add(a, idx, u, axes);
    case Mode::prod: return scatter_prod(a, idx, u, axes);
    case Mode::max: return scatter_max(a, idx, u, axes);
    case Mode::min: return scatter_min(a, idx, u, axes);
  }
  return a;
}

array mask_update(const array& a, const array& mask, const array& v, Mode mode) {
  if (mode != Mode::set) throw py::value_error("Boolean mask indices are only supported for assignment.");
  size_t md = mask.ndim();
  for (size_t k = 0; k < md; ++k) {
    if (mask.shape(int(k)) != a.shape(int(k))) {
      std::ostringstream os;
      os << "Boolean index of shape " << mask.shape() << " does not match the indexed array of shape " << a.shape()
         << ".";
      throw py::index_error(os.str());
    }
  }
  Shape ms = mask.shape();
  ms.insert(ms.end(), a.ndim() - md, 1);
  array m = reshape(mask, ms);
  if (v.size() == 1) return where(m, astype(reshape(v, {}), a.dtype()), a);
  return masked_scatter(a, m, v);
}

array update(const array& a, py::handle index, py::handle value, Mode mode) {
  array v = astype(to_array_weak(value, a.dtype()), a.dtype());
  std::vector<Index> items = parse(index, int(a.ndim()));
  size_t masks = 0;
  for (auto& it : items) masks += it.kind == Index::Mask;
  if (masks) {
    bool only_mask = true;
    for (auto& it : items) only_mask = only_mask && (it.kind == Index::Mask || it.kind == Index::Full);
    if (masks > 1 || !only_mask || items.front().kind != Index::Mask) {
      throw py::value_error("A boolean mask index must be the only index of an assignment (a[mask] = v).");
    }
    return mask_update(a, *items.front().arr, v, mode);
  }
  return has_advanced(items) ? advanced_update(a, items, v, mode) : basic_update(a, items, v, mode);
}

struct ArrayAt {
  array a;
};
struct ArrayAtIndex {
  array a;
  py::object index;
};

}  // namespace

void init_indexing(py::module_& m, py::class_<array>& cls) {
  cls.def("__getitem__", [](const array& a, py::object index) {
    std::vector<Index> items = parse(index, int(a.ndim()));
    return has_advanced(items) ? advanced_get(a, items) : basic_get(a, items);
  });
  cls.def("__setitem__", [](array& a, py::object index, py::object value) {
    a.overwrite_descriptor(update(a, index, value, Mode::set));
  });

  py::class_<ArrayAtIndex>(m, "_ArrayAtIndex")
      .def("add", [](const ArrayAtIndex& s, py::object v) { return update(s.a, s.index, v, Mode::add); })
      .def("subtract",
           [](const ArrayAtIndex& s, py::object v) {
             return update(s.a, s.index, py::cast(negative(to_array_weak(v, s.a.dtype()))), Mode::add);
           })
      .def("multiply", [](const ArrayAtIndex& s, py::object v) { return update(s.a, s.index, v, Mode::prod); })
      .def("divide",
           [](const ArrayAtIndex& s, py::object v) {
             return update(s.a, s.index, py::cast(reciprocal(to_array_weak(v, s.a.dtype()))), Mode::prod);
           })
      .def("maximum", [](const ArrayAtIndex& s, py::object v) { return update(s.a, s.index, v, Mode::max); })
      .def("minimum", [](const ArrayAtIndex& s, py::object v) { return update(s.a, s.index, v, Mode::min); });
  py::class_<ArrayAt>(m, "_ArrayAt").def("__getitem__", [](const ArrayAt& s, py::object index) {
    return ArrayAtIndex{s.a, index};
  });
  cls.def_property_readonly("at", [](const array& a) { return ArrayAt{a}; });
}

}  // namespace tessera::py_bind
