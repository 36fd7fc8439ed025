#include "primitives/compiled.h"

namespace tessera {

void Compiled::print(std::ostream& os) const {
  os << "Compiled(";
  bool first = true;
  for (auto& n : graph_->nodes) {
    if (n.prim->kind() == PrimitiveKind::Broadcast) continue;  // free: inputs are read in place
    os << (first ? "" : ", ");
    n.prim->print(os);
    first = false;
  }
  os << ")";
}

std::vector<array> Compiled::decompose(const std::vector<array>& inputs) const {
  return detail::replay_any_shape(*graph_, inputs);
}

}  // namespace tessera
