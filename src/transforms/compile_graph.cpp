// Replaying a compiled graph, and re-deriving its shapes for shapeless compile.
#include <algorithm>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "ops/op_utils.h"
#include "primitives/compiled.h"
#include "primitives/linalg.h"
#include "primitives/reduce.h"
#include "primitives/shape.h"
#include "transforms/compile_graph.h"

namespace tessera::detail {

namespace {

std::optional<Shape> try_broadcast(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else return std::nullopt;
  }
  return out;
}

// Ops whose operands may come through a broadcast_to that the ops layer inserted to match the
// other operands: their shape rule looks through it, and the broadcast is re-derived from them.
bool broadcasting_kind(PrimitiveKind k) {
  return k == PrimitiveKind::Binary || k == PrimitiveKind::Select || k == PrimitiveKind::Matmul;
}

bool same_shape_kind(PrimitiveKind k) {
  switch (k) {
    case PrimitiveKind::Unary: case PrimitiveKind::AsType: case PrimitiveKind::Copy:
    case PrimitiveKind::Contiguous: case PrimitiveKind::Softmax: case PrimitiveKind::RMSNorm:
    case PrimitiveKind::LayerNorm: case PrimitiveKind::RoPE: case PrimitiveKind::Scan: case PrimitiveKind::Sort:
    case PrimitiveKind::ArgSort: case PrimitiveKind::Partition: case PrimitiveKind::ArgPartition:
      return true;
    default:
      return false;
  }
}

std::optional<Shape> matmul_shape(const Shape& a, const Shape& b) {
  if (a.size() < 2 || b.size() < 2 || a.back() != b[b.size() - 2]) return std::nullopt;
  auto batch = try_broadcast(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!batch) return std::nullopt;
  batch->push_back(a[a.size() - 2]);
  batch->push_back(b.back());
  return batch;
}

// The shape operand k of a broadcasting node had to be broadcast to, given the node's output
// shape and the operand's shape before broadcasting.
Shape broadcast_target(PrimitiveKind k, const Shape& out, const Shape& src) {
  if (k != PrimitiveKind::Matmul) return out;
  Shape t(out.begin(), out.end() - 2);
  t.push_back(src[src.size() - 2]);
  t.push_back(src.back());
  return t;
}

std::vector<int> non_unit(const Shape& s) {
  std::vector<int> r;
  for (auto d : s)
    if (d != 1) r.push_back(d);
  return r;
}

// Output shapes of node n for input shapes `in` (for broadcasting kinds, the operands' shapes
// before any broadcast), or nullopt where the kind has no rule or the shapes do not fit.
std::optional<std::vector<Shape>> shape_rule(const CompiledGraph& g, const GraphNode& n, const std::vector<Shape>& in) {
  const PrimitiveKind k = n.prim->kind();
  const size_t nout = n.outputs.size();
  if (same_shape_kind(k) && !in.empty()) return std::vector<Shape>(nout, in[0]);
  switch (k) {
    case PrimitiveKind::Binary:
    case PrimitiveKind::Select: {
      Shape s = in[0];
      for (size_t i = 1; i < in.size(); ++i) {
        auto b = try_broadcast(s, in[i]);
        if (!b) return std::nullopt;
        s = *b;
      }
      return std::vector<Shape>{s};
    }
    case PrimitiveKind::Matmul: {
      auto s = matmul_shape(in[0], in[1]);
      if (!s) return std::nullopt;
      return std::vector<Shape>{*s};
    }
    case PrimitiveKind::Transpose: {
      auto& axes = static_cast<const Transpose&>(*n.prim).axes();
      if (axes.size() != in[0].size()) return std::nullopt;
      Shape s;
      for (int a : axes) s.push_back(in[0][size_t(a)]);
      return std::vector<Shape>{s};
    }
    case PrimitiveKind::Reduce: {
      Shape s = in[0];
      for (int a : static_cast<const Reduce&>(*n.prim).axes()) {
        if (a < 0 || a >= int(s.size())) return std::nullopt;
        s[size_t(a)] = 1;
      }
      return std::vector<Shape>{s};
    }
    case PrimitiveKind::Reshape: {
      // Only reshapes that insert or drop unit dims (squeeze, expand_dims, keepdims) carry over
      // to other shapes: the other dims keep their order and take the new sizes.
      const Shape& ti = g.shapes[size_t(n.inputs[0])];
      const Shape& to = g.shapes[size_t(n.outputs[0])];
      if (non_unit(ti) != non_unit(to) || in[0].size() != ti.size()) return std::nullopt;
      std::vector<int> sizes;
      for (size_t d = 0; d < ti.size(); ++d) {
        if (ti[d] == 1 && in[0][d] != 1) return std::nullopt;
        if (ti[d] != 1) sizes.push_back(in[0][d]);
      }
      Shape s = to;
      size_t j = 0;
      for (auto& d : s)
        if (d != 1) d = sizes[j++];
      return std::vector<Shape>{s};
    }
    case PrimitiveKind::Compiled: {
      const CompiledGraph& inner = static_cast<const Compiled&>(*n.prim).graph();
      std::vector<Shape> all = infer_shapes(inner, in);
      std::vector<Shape> outs;
      for (int v : inner.outputs) outs.push_back(all[size_t(v)]);
      return outs;
    }
    default:
      return std::nullopt;
  }
}

[[noreturn]] void throw_fixed(const Primitive& p) {
  std::ostringstream os;
  os << "[compile] Cannot replay " << p.name()
     << " on inputs of other shapes (shapeless compile): its output shape was fixed when the function was "
        "traced (e.g. a reshape or broadcast to a literal shape). Use compile with shapeless=false.";
  throw std::invalid_argument(os.str());
}

}  // namespace

std::vector<Shape> infer_shapes(const CompiledGraph& g, const std::vector<Shape>& input_shapes) {
  const size_t nv = size_t(g.num_values());
  std::vector<Shape> s = g.shapes;
  bool any_changed = false;
  for (int i = 0; i < g.num_inputs; ++i) {
    if (input_shapes[size_t(i)].size() != g.shapes[size_t(i)].size()) {
      throw std::invalid_argument("[compile] Shapeless replay needs inputs of the traced ranks.");
    }
    if (input_shapes[size_t(i)] != g.shapes[size_t(i)]) any_changed = true;
    s[size_t(i)] = input_shapes[size_t(i)];
  }
  if (!any_changed) return s;

  // Which broadcasts are re-derived from their consumers: those feeding only broadcasting ops
  // whose shape rule, looking through them, reproduces the traced shapes.
  std::vector<int> producer(nv, -1);
  std::vector<std::vector<std::pair<int, int>>> consumers(nv);
  std::vector<char> is_output(nv, 0);
  for (int v : g.outputs) is_output[size_t(v)] = 1;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int v : g.nodes[i].outputs) producer[size_t(v)] = int(i);
    for (size_t k = 0; k < g.nodes[i].inputs.size(); ++k) consumers[size_t(g.nodes[i].inputs[k])].emplace_back(int(i), int(k));
  }
  auto kind_of = [&](int node) { return g.nodes[size_t(node)].prim->kind(); };
  std::vector<char> candidate(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (kind_of(int(i)) != PrimitiveKind::Broadcast) continue;
    int v = g.nodes[i].outputs[0];
    bool ok = !is_output[size_t(v)] && !consumers[size_t(v)].empty();
    for (auto [c, k] : consumers[size_t(v)]) ok = ok && broadcasting_kind(kind_of(c));
    candidate[i] = ok;
  }
  auto source = [&](int v, const std::vector<Shape>& shapes, const std::vector<char>& through) {
    while (producer[size_t(v)] >= 0 && through[size_t(producer[size_t(v)])]) v = g.nodes[size_t(producer[size_t(v)])].inputs[0];
    return shapes[size_t(v)];
  };
  std::vector<char> rule_ok(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& n = g.nodes[i];
    if (!broadcasting_kind(n.prim->kind())) continue;
    std::vector<Shape> in;
    for (int v : n.inputs) in.push_back(source(v, g.shapes, candidate));
    auto r = shape_rule(g, n, in);
    bool ok = r && (*r)[0] == g.shapes[size_t(n.outputs[0])];
    for (size_t k = 0; ok && k < n.inputs.size(); ++k) {
      int p = producer[size_t(n.inputs[k])];
      if (p >= 0 && candidate[size_t(p)]) {
        ok = broadcast_target(n.prim->kind(), g.shapes[size_t(n.outputs[0])], in[k]) == g.shapes[size_t(n.inputs[k])];
      }
    }
    rule_ok[i] = ok;
  }
  std::vector<char> deferred(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!candidate[i]) continue;
    bool ok = true;
    for (auto [c, k] : consumers[size_t(g.nodes[i].outputs[0])]) ok = ok && rule_ok[size_t(c)];
    deferred[i] = ok;
  }

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const GraphNode& n = g.nodes[i];
    if (deferred[i]) continue;
    const bool bcast = broadcasting_kind(n.prim->kind());
    std::vector<Shape> in, traced_in;
    for (int v : n.inputs) {
      in.push_back(bcast ? source(v, s, deferred) : s[size_t(v)]);
      traced_in.push_back(bcast ? source(v, g.shapes, deferred) : g.shapes[size_t(v)]);
    }
    if (in == traced_in) continue;  // outputs keep their traced shapes
    bool has_rule = bcast ? rule_ok[i] : true;
    std::optional<std::vector<Shape>> r;
    if (has_rule) {
      // Rules must reproduce the traced shapes, or the op fixed its shape some other way.
      auto check = shape_rule(g, n, traced_in);
      bool reproduces = check && check->size() == n.outputs.size();
      for (size_t k = 0; reproduces && k < n.outputs.size(); ++k) reproduces = (*check)[k] == g.shapes[size_t(n.outputs[k])];
      if (reproduces) r = shape_rule(g, n, in);
    }
    if (!r) throw_fixed(*n.prim);
    for (size_t k = 0; k < n.outputs.size(); ++k) s[size_t(n.outputs[k])] = (*r)[k];
  }
  // Deferred broadcasts take the shape their consumers need (consumers come later, so walk
  // backwards: a broadcast of a broadcast resolves after its consumer).
  for (size_t i = g.nodes.size(); i-- > 0;) {
    if (!deferred[i]) continue;
    int v = g.nodes[i].outputs[0];
    std::optional<Shape> t;
    for (auto [c, k] : consumers[size_t(v)]) {
      const GraphNode& cn = g.nodes[size_t(c)];
      Shape want = broadcast_target(cn.prim->kind(), s[size_t(cn.outputs[0])], source(v, s, deferred));
      if (t && *t != want) throw_fixed(*g.nodes[i].prim);
      t = want;
    }
    s[size_t(v)] = *t;
  }
  // What the ops layer guarantees must still hold: elementwise operands share the output
  // shape, and a broadcast only grows its input.
  for (auto& n : g.nodes) {
    PrimitiveKind k = n.prim->kind();
    bool ok = true;
    if (k == PrimitiveKind::Binary || k == PrimitiveKind::Select) {
      for (int v : n.inputs) ok = ok && s[size_t(v)] == s[size_t(n.outputs[0])];
    } else if (k == PrimitiveKind::Broadcast) {
      auto b = try_broadcast(s[size_t(n.inputs[0])], s[size_t(n.outputs[0])]);
      ok = b && *b == s[size_t(n.outputs[0])];
    }
    if (!ok) throw_fixed(*n.prim);
  }
  return s;
}

std::vector<array> replay(const CompiledGraph& g, const std::vector<array>& inputs, const std::vector<Shape>* shapes) {
  if (int(inputs.size()) != g.num_inputs) {
    throw std::invalid_argument("[compile] The compiled graph was called with the wrong number of inputs.");
  }
  const std::vector<Shape>& sh = shapes ? *shapes : g.shapes;
  std::vector<std::optional<array>> vals(size_t(g.num_values()));
  for (int i = 0; i < g.num_inputs; ++i) vals[size_t(i)] = inputs[size_t(i)];
  for (size_t c = 0; c < g.constants.size(); ++c) vals[size_t(g.num_inputs) + c] = g.constants[c];
  std::vector<array> ins;
  for (auto& n : g.nodes) {
    ins.clear();
    for (int v : n.inputs) ins.push_back(*vals[size_t(v)]);
    if (n.outputs.size() == 1) {
      int o = n.outputs[0];
      vals[size_t(o)] = array(sh[size_t(o)], g.dtypes[size_t(o)], n.prim, ins);
    } else {
      std::vector<Shape> os;
      std::vector<Dtype> ds;
      for (int o : n.outputs) {
        os.push_back(sh[size_t(o)]);
        ds.push_back(g.dtypes[size_t(o)]);
      }
      auto outs = array::make_arrays(std::move(os), ds, n.prim, ins);
      for (size_t k = 0; k < outs.size(); ++k) vals[size_t(n.outputs[k])] = std::move(outs[k]);
    }
  }
  std::vector<array> out;
  out.reserve(g.outputs.size());
  for (int v : g.outputs) out.push_back(*vals[size_t(v)]);
  return out;
}

std::vector<array> replay_any_shape(const CompiledGraph& g, const std::vector<array>& inputs) {
  bool same = int(inputs.size()) == g.num_inputs;
  for (size_t i = 0; same && i < inputs.size(); ++i) same = inputs[i].shape() == g.shapes[i];
  if (same) return replay(g, inputs);
  std::vector<Shape> in;
  for (auto& a : inputs) in.push_back(a.shape());
  std::vector<Shape> shapes = infer_shapes(g, in);
  return replay(g, inputs, &shapes);
}

}  // namespace tessera::detail
