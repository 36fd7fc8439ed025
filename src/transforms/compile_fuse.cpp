// Fusion: groups of elementwise nodes of one shape whose results are used only inside the group
// (plus the broadcasts of their inputs) become one Compiled node with the group's last node as
// its output. The CPU backend runs such a node as one pass over the data (fused_elementwise.cpp).
#include <unordered_map>

#include "primitives/compiled.h"
#include "primitives/elementwise.h"
#include "transforms/compile_graph.h"

namespace tessera::detail {

namespace {

// Dtypes a fused kernel holds as float32 lanes: floats exactly, bools as 0/1.
bool float_value(Dtype d) { return d == float32 || d == float16 || d == bfloat16; }
bool lane_value(Dtype d) { return float_value(d) || d == bool_; }

bool logical_on_bools(BinaryOp op) {
  switch (op) {
    case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr: case BinaryOp::Equal: case BinaryOp::NotEqual:
    case BinaryOp::Less: case BinaryOp::LessEqual: case BinaryOp::Greater: case BinaryOp::GreaterEqual:
      return true;
    default:
      return false;
  }
}

bool fusible(const CompiledGraph& g, const GraphNode& n) {
  if (n.outputs.size() != 1 || n.inputs.empty()) return false;
  Dtype out = g.dtypes[size_t(n.outputs[0])];
  Dtype in = g.dtypes[size_t(n.inputs[0])];
  switch (n.prim->kind()) {
    case PrimitiveKind::Unary: {
      UnaryOp op = static_cast<const Unary&>(*n.prim).op();
      if (op == UnaryOp::StopGradient) return false;
      if (in == bool_) return op == UnaryOp::LogicalNot;
      const auto& info = unary_info(op);
      return float_value(in) && op_accepts(info.types, in) && (info.bool_output ? out == bool_ : out == in);
    }
    case PrimitiveKind::Binary: {
      BinaryOp op = static_cast<const Binary&>(*n.prim).op();
      if (in == bool_) return logical_on_bools(op);
      const auto& info = binary_info(op);
      return float_value(in) && op_accepts(info.types, in) && (info.bool_output ? out == bool_ : out == in);
    }
    case PrimitiveKind::Select:
      return in == bool_ && lane_value(out);
    case PrimitiveKind::AsType:
    case PrimitiveKind::Broadcast:
      return lane_value(in) && lane_value(out);
    default:
      return false;
  }
}

}  // namespace

void fuse(CompiledGraph& g) {
  const size_t nn = g.nodes.size();
  const size_t nv = size_t(g.num_values());
  std::vector<std::vector<int>> consumers(nv);
  std::vector<char> is_output(nv, 0);
  for (int v : g.outputs) is_output[size_t(v)] = 1;
  for (size_t i = 0; i < nn; ++i)
    for (int v : g.nodes[i].inputs) consumers[size_t(v)].push_back(int(i));

  // Walk backwards: a node joins the group of its consumers when they all belong to one group
  // of its shape on its device; otherwise a compute node starts a group of its own. Members
  // other than the root are used only inside the group, so a group reads its inputs and writes
  // one output.
  std::vector<int> group(nn, -1);
  std::vector<Shape> group_shape;
  std::vector<Device> group_device;
  std::vector<int> compute_members;
  for (size_t i = nn; i-- > 0;) {
    const GraphNode& n = g.nodes[i];
    if (!fusible(g, n)) continue;
    int v = n.outputs[0];
    int joined = -1;
    bool join = !is_output[size_t(v)] && !consumers[size_t(v)].empty();
    for (int c : consumers[size_t(v)]) {
      int gc = group[size_t(c)];
      if (gc < 0 || (joined >= 0 && gc != joined)) {
        join = false;
        break;
      }
      joined = gc;
    }
    join = join && g.shapes[size_t(v)] == group_shape[size_t(joined)] &&
           n.prim->stream().device == group_device[size_t(joined)];
    bool is_bcast = n.prim->kind() == PrimitiveKind::Broadcast;
    if (join) {
      group[i] = joined;
      if (!is_bcast) compute_members[size_t(joined)]++;
    } else if (!is_bcast) {
      group[i] = int(group_shape.size());
      group_shape.push_back(g.shapes[size_t(v)]);
      group_device.push_back(n.prim->stream().device);
      compute_members.push_back(1);
    }
  }

  // A group of one op gains nothing; two or more become a Compiled node at the root's place.
  std::vector<std::vector<size_t>> members(group_shape.size());
  for (size_t i = 0; i < nn; ++i) {
    if (group[i] >= 0 && compute_members[size_t(group[i])] >= 2) members[size_t(group[i])].push_back(i);
  }
  std::vector<char> drop(nn, 0);
  for (auto& m : members) {
    if (m.empty()) continue;
    auto inner = std::make_shared<CompiledGraph>();
    std::unordered_map<int, int> inner_id;
    std::vector<int> outer_inputs;
    std::vector<char> in_group(nv, 0);
    for (size_t i : m)
      for (int o : g.nodes[i].outputs) in_group[size_t(o)] = 1;
    for (size_t i : m) {
      for (int v : g.nodes[i].inputs) {
        if (in_group[size_t(v)] || inner_id.count(v)) continue;
        inner_id.emplace(v, inner->add_value(g.shapes[size_t(v)], g.dtypes[size_t(v)]));
        outer_inputs.push_back(v);
      }
    }
    inner->num_inputs = int(outer_inputs.size());
    for (size_t i : m) {
      GraphNode n;
      n.prim = g.nodes[i].prim;
      for (int v : g.nodes[i].inputs) n.inputs.push_back(inner_id.at(v));
      int o = g.nodes[i].outputs[0];
      inner_id.emplace(o, inner->add_value(g.shapes[size_t(o)], g.dtypes[size_t(o)]));
      n.outputs.push_back(inner_id.at(o));
      inner->nodes.push_back(std::move(n));
    }
    size_t root = m.back();
    int root_value = g.nodes[root].outputs[0];
    inner->outputs.push_back(inner_id.at(root_value));
    GraphNode fused;
    fused.prim = std::make_shared<Compiled>(g.nodes[root].prim->stream(), inner);
    fused.inputs = std::move(outer_inputs);
    fused.outputs = {root_value};
    for (size_t i : m) drop[i] = 1;
    drop[root] = 0;
    g.nodes[root] = std::move(fused);
  }
  std::vector<GraphNode> kept;
  kept.reserve(nn);
  for (size_t i = 0; i < nn; ++i)
    if (!drop[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

}  // namespace tessera::detail
