// export_to_dot and print_graph: an iterative walk of the lazy graph (nothing is evaluated).
#include "tessera/graph_utils.h"

#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "primitives/primitive.h"
#include "tessera/ops.h"
#include "transforms/trace.h"

namespace tessera {

namespace {

struct Walk {
  std::vector<array> leaves;  // arrays without a graph behind them (inputs, constants)
  std::vector<array> nodes;   // one array per primitive application, topological order
};

// compile's trace inputs are nodes without inputs; show them as inputs too.
bool is_leaf(const array& a) {
  if (a.is_evaluated() || !a.has_primitive()) return true;
  return a.inputs().empty() && std::string(a.primitive().name()) == "compile_input";
}

Walk walk(const std::vector<array>& outputs) {
  Walk w;
  detail::walk_graph(
      outputs,
      [&](const array& a) {
        if (!is_leaf(a)) return true;
        w.leaves.push_back(a);
        return false;
      },
      [&](const array& node) { w.nodes.push_back(node); });
  return w;
}

std::string describe(const array& a) {
  std::ostringstream os;
  os << a.dtype() << " [";
  for (size_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape()[i];
  os << "]";
  return os.str();
}

std::string primitive_text(const array& a) {
  std::ostringstream os;
  a.primitive().print(os);
  return os.str();
}

// Leaves: arrays without data are inputs (of a function being traced); arrays with data show
// their value when they hold one element.
std::string leaf_text(const array& a) {
  if (!a.is_evaluated()) return "input";
  if (a.size() != 1) return "array";
  std::ostringstream os;
  double v = 0;
  detail::copy_convert_from_host(a.raw_data(), a.dtype(), &v, float64, 1);
  os << "constant " << v;
  return os.str();
}

std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}

}  // namespace

void export_to_dot(std::ostream& os, const std::vector<array>& outputs) {
  Walk w = walk(outputs);
  std::unordered_set<uintptr_t> is_out;
  for (auto& o : outputs) is_out.insert(o.id());
  // Dot ids: leaves and single-output nodes by array; multi-output nodes get a primitive node
  // plus one box per output.
  std::unordered_map<uintptr_t, std::string> name;
  int counter = 0;
  os << "digraph {\n  node [fontname=\"monospace\"];\n";
  for (auto& a : w.leaves) {
    std::string n = "a" + std::to_string(counter++);
    name[a.id()] = n;
    os << "  " << n << " [shape=box, label=\"" << escape(leaf_text(a)) << "\\n" << escape(describe(a)) << "\""
       << (is_out.count(a.id()) ? ", style=bold" : "") << "];\n";
  }
  for (auto& a : w.nodes) {
    std::vector<array> outs = a.outputs();
    std::string p = "p" + std::to_string(counter++);
    bool single = outs.size() == 1;
    std::string label = escape(primitive_text(a));
    if (single) label += "\\n" + escape(describe(a));
    os << "  " << p << " [shape=ellipse, label=\"" << label << "\""
       << (single && is_out.count(a.id()) ? ", style=bold" : "") << "];\n";
    for (auto& in : a.inputs()) os << "  " << name.at(in.id()) << " -> " << p << ";\n";
    if (single) {
      name[a.id()] = p;
      continue;
    }
    for (auto& o : outs) {
      std::string n = "a" + std::to_string(counter++);
      name[o.id()] = n;
      os << "  " << n << " [shape=box, label=\"" << escape(describe(o)) << "\""
         << (is_out.count(o.id()) ? ", style=bold" : "") << "];\n";
      os << "  " << p << " -> " << n << ";\n";
    }
  }
  os << "}\n";
}

void print_graph(std::ostream& os, const std::vector<array>& outputs) {
  Walk w = walk(outputs);
  std::unordered_map<uintptr_t, std::string> name;
  int inputs = 0, constants = 0, temps = 0;
  for (auto& a : w.leaves) {
    bool input = !a.is_evaluated();
    std::string n = input ? "in" + std::to_string(inputs++) : "c" + std::to_string(constants++);
    name[a.id()] = n;
    os << n << ": " << leaf_text(a) << "  " << describe(a) << "\n";
  }
  for (auto& a : w.nodes) {
    std::vector<array> outs = a.outputs();
    std::string lhs;
    for (size_t k = 0; k < outs.size(); ++k) {
      std::string n = "t" + std::to_string(temps++);
      name[outs[k].id()] = n;
      lhs += (k ? ", " : "") + n;
    }
    os << lhs << " = " << primitive_text(a) << "(";
    for (size_t k = 0; k < a.inputs().size(); ++k) os << (k ? ", " : "") << name.at(a.inputs()[k].id());
    os << ")  ";
    for (size_t k = 0; k < outs.size(); ++k) os << (k ? ", " : "") << describe(outs[k]);
    os << "\n";
  }
  os << "outputs:";
  for (auto& o : outputs) os << " " << name.at(o.id());
  os << "\n";
}

}  // namespace tessera
