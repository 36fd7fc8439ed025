// Simplification of a traced graph: equal constants merged, no-op reshapes/casts/broadcasts
// dropped, common subexpressions merged, subgraphs of constants evaluated once at compile time,
// and nodes nothing uses removed.
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <unordered_map>

#include "primitives/shape.h"
#include "tessera/ops.h"
#include "transforms/compile_graph.h"

namespace tessera::detail {

namespace {

// Folded results above this many elements are recomputed on each call instead of being kept
// alive by the compiled function.
constexpr size_t kFoldMaxElements = size_t(1) << 20;

bool is_noop(const CompiledGraph& g, const GraphNode& n, int in) {
  if (n.inputs.size() != 1 || n.outputs.size() != 1) return false;
  int out = n.outputs[0];
  if (g.shapes[size_t(in)] != g.shapes[size_t(out)] || g.dtypes[size_t(in)] != g.dtypes[size_t(out)]) return false;
  switch (n.prim->kind()) {
    case PrimitiveKind::Reshape:
    case PrimitiveKind::Broadcast:
    case PrimitiveKind::AsType:
    case PrimitiveKind::Copy:
      return true;
    case PrimitiveKind::Transpose: {
      auto& axes = static_cast<const Transpose&>(*n.prim).axes();
      for (size_t i = 0; i < axes.size(); ++i)
        if (axes[i] != int(i)) return false;
      return true;
    }
    default:
      return false;
  }
}

template <typename T>
void append(std::string& k, const T& v) {
  k.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// Equal keys mean interchangeable constants: small ones by value (bitwise, so 0 and -0 or two
// NaN payloads stay apart), others by buffer and layout.
std::string constant_key(const array& c) {
  std::string k;
  append(k, static_cast<int>(c.dtype().val));
  append(k, c.ndim());
  for (auto d : c.shape()) append(k, d);
  if (!c.is_evaluated()) {
    k += 'i';
    append(k, c.id());
  } else if (c.flags().row_contiguous && c.data_size() == c.size() && c.nbytes() <= 64) {
    k += 'v';
    k.append(static_cast<const char*>(c.raw_data()), c.nbytes());
  } else {
    k += 'p';
    append(k, c.raw_data());
    for (auto s : c.strides()) append(k, s);
  }
  return k;
}

enum class NodeState : uint8_t { kept, removed, folded };

}  // namespace

void simplify(CompiledGraph& g) {
  const size_t nv = size_t(g.num_values());
  const size_t nn = g.nodes.size();
  std::vector<int> remap(nv);
  std::iota(remap.begin(), remap.end(), 0);
  std::vector<char> constlike(nv, 0);
  {
    std::unordered_map<std::string, int> seen;
    for (size_t c = 0; c < g.constants.size(); ++c) {
      int v = g.num_inputs + int(c);
      constlike[size_t(v)] = 1;
      auto [it, fresh] = seen.emplace(constant_key(g.constants[c]), v);
      if (!fresh) remap[size_t(v)] = it->second;
    }
  }

  // Forward: no-ops, common subexpressions, and which nodes depend on constants only.
  std::vector<NodeState> state(nn, NodeState::kept);
  std::vector<std::vector<int>> ins(nn);
  std::unordered_map<uint64_t, std::vector<size_t>> table;
  std::vector<int> producer(nv, -1);  // kept node computing each value
  for (size_t i = 0; i < nn; ++i) {
    const GraphNode& n = g.nodes[i];
    for (int v : n.inputs) ins[i].push_back(remap[size_t(v)]);
    // A reshape (or broadcast) of a reshape (broadcast) reads the first one's input instead,
    // so round trips like squeeze(expand_dims(x)) become no-ops below.
    const PrimitiveKind kind = n.prim->kind();
    if ((kind == PrimitiveKind::Reshape || kind == PrimitiveKind::Broadcast) && ins[i].size() == 1) {
      int p = producer[size_t(ins[i][0])];
      if (p >= 0 && g.nodes[size_t(p)].prim->kind() == kind) ins[i][0] = ins[size_t(p)][0];
    }
    if (is_noop(g, n, ins[i].empty() ? -1 : ins[i][0])) {
      remap[size_t(n.outputs[0])] = ins[i][0];
      state[i] = NodeState::removed;
      continue;
    }
    uint64_t h = uint64_t(n.prim->kind()) * 0x9E3779B97F4A7C15ull;
    for (int v : ins[i]) h = (h ^ uint64_t(v)) * 0x100000001B3ull;
    auto& bucket = table[h];
    std::optional<size_t> same;
    for (size_t j : bucket) {
      const GraphNode& m = g.nodes[j];
      if (m.prim->kind() != n.prim->kind() || ins[j] != ins[i] || m.outputs.size() != n.outputs.size()) continue;
      bool eq = true;
      for (size_t k = 0; eq && k < n.outputs.size(); ++k) {
        eq = g.shapes[size_t(m.outputs[k])] == g.shapes[size_t(n.outputs[k])] &&
             g.dtypes[size_t(m.outputs[k])] == g.dtypes[size_t(n.outputs[k])];
      }
      if (eq && (m.prim == n.prim || n.prim->is_equivalent(*m.prim))) {
        same = j;
        break;
      }
    }
    if (same) {
      for (size_t k = 0; k < n.outputs.size(); ++k) remap[size_t(n.outputs[k])] = g.nodes[*same].outputs[k];
      state[i] = NodeState::removed;
      continue;
    }
    bucket.push_back(i);
    for (int o : n.outputs) producer[size_t(o)] = int(i);
    bool fold = true;
    for (int v : ins[i]) fold = fold && constlike[size_t(v)];
    // Broadcasts stay nodes (they are free views, and shapeless replay re-derives them), but
    // constants flow through them into folded consumers.
    if (n.prim->kind() != PrimitiveKind::Broadcast) {
      for (int o : n.outputs) {
        size_t size = 1;
        for (auto d : g.shapes[size_t(o)]) size *= size_t(d);
        fold = fold && size <= kFoldMaxElements;
      }
    }
    if (fold) {
      state[i] = NodeState::folded;
      for (int o : n.outputs) constlike[size_t(o)] = 1;
    }
  }

  // Backward: what the outputs need. A needed folded value becomes a constant (a broadcast one
  // stays a node over its constant input); folded values only other folds need are computed
  // but not kept.
  std::vector<char> live(nv, 0), fold_need(nv, 0), materialize(nv, 0);
  std::vector<char> compute(nn, 0);
  for (int o : g.outputs) live[size_t(remap[size_t(o)])] = 1;
  for (size_t i = nn; i-- > 0;) {
    if (state[i] == NodeState::removed) continue;
    const GraphNode& n = g.nodes[i];
    bool any_live = false, any_fold = false;
    for (int o : n.outputs) {
      any_live = any_live || live[size_t(o)];
      any_fold = any_fold || fold_need[size_t(o)];
    }
    if (state[i] == NodeState::kept) {
      if (!any_live) {
        state[i] = NodeState::removed;
        continue;
      }
      for (int v : ins[i]) live[size_t(v)] = 1;
      continue;
    }
    // Folded.
    if (any_live && n.prim->kind() == PrimitiveKind::Broadcast) {
      state[i] = NodeState::kept;
      for (int v : ins[i]) live[size_t(v)] = 1;
      if (!any_fold) continue;
    } else if (any_live) {
      for (int o : n.outputs)
        if (live[size_t(o)]) materialize[size_t(o)] = 1;
    } else if (!any_fold) {
      state[i] = NodeState::removed;
      continue;
    }
    compute[i] = 1;
    for (int v : ins[i]) {
      if (!(g.is_constant(v) || g.is_input(v))) fold_need[size_t(v)] = 1;
    }
  }

  // Evaluate the folded values that stay.
  std::vector<std::optional<array>> value(nv);
  for (size_t c = 0; c < g.constants.size(); ++c) value[size_t(g.num_inputs) + c] = g.constants[c];
  std::vector<array> to_eval;
  std::vector<int> to_eval_ids;
  for (size_t i = 0; i < nn; ++i) {
    if (!compute[i]) continue;
    const GraphNode& n = g.nodes[i];
    std::vector<array> in;
    for (int v : ins[i]) in.push_back(*value[size_t(v)]);
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (int o : n.outputs) {
      shapes.push_back(g.shapes[size_t(o)]);
      dtypes.push_back(g.dtypes[size_t(o)]);
    }
    auto outs = array::make_arrays(std::move(shapes), dtypes, n.prim, in);
    for (size_t k = 0; k < outs.size(); ++k) {
      int o = n.outputs[k];
      value[size_t(o)] = outs[k];
      if (materialize[size_t(o)]) {
        to_eval.push_back(outs[k]);
        to_eval_ids.push_back(o);
      }
    }
  }
  if (!to_eval.empty()) eval(to_eval);

  // Rebuild with dense value ids: inputs, constants (old ones still used, then folded ones),
  // node outputs.
  CompiledGraph out;
  out.num_inputs = g.num_inputs;
  std::vector<int> id(nv, -1);
  for (int i = 0; i < g.num_inputs; ++i) id[size_t(i)] = out.add_value(g.shapes[size_t(i)], g.dtypes[size_t(i)]);
  for (size_t c = 0; c < g.constants.size(); ++c) {
    int v = g.num_inputs + int(c);
    if (remap[size_t(v)] != v || !live[size_t(v)]) continue;
    id[size_t(v)] = out.add_value(g.shapes[size_t(v)], g.dtypes[size_t(v)]);
    out.constants.push_back(g.constants[c]);
  }
  for (size_t k = 0; k < to_eval.size(); ++k) {
    int v = to_eval_ids[k];
    const array& a = to_eval[k];
    id[size_t(v)] = out.add_value(g.shapes[size_t(v)], g.dtypes[size_t(v)]);
    if (a.has_primitive()) {
      array alias(a.shape(), a.dtype(), nullptr, {});
      alias.copy_shared_buffer(a);
      out.constants.push_back(alias);
    } else {
      out.constants.push_back(a);
    }
  }
  for (size_t i = 0; i < nn; ++i) {
    if (state[i] != NodeState::kept) continue;
    const GraphNode& n = g.nodes[i];
    GraphNode m;
    m.prim = n.prim;
    for (int v : ins[i]) m.inputs.push_back(id[size_t(v)]);
    for (int o : n.outputs) {
      id[size_t(o)] = out.add_value(g.shapes[size_t(o)], g.dtypes[size_t(o)]);
      m.outputs.push_back(id[size_t(o)]);
    }
    out.nodes.push_back(std::move(m));
  }
  for (int o : g.outputs) out.outputs.push_back(id[size_t(remap[size_t(o)])]);
  g = std::move(out);
}

}  // namespace tessera::detail
