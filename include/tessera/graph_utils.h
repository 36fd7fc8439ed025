// Graph inspection (follows MLX's graph_utils.h): the lazy graph behind some arrays as Graphviz
// or as text. Nothing is evaluated. To see what compile made of a function, pass the outputs of
// the compiled function before evaluating them: fused chains show up as Compiled nodes.
#pragma once

#include <ostream>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera {

// Graphviz `digraph`: boxes for inputs and constants, one node per primitive application
// (labelled with the primitive, the output dtype and shape), edges along the data flow; the
// requested outputs are drawn bold.
void export_to_dot(std::ostream& os, const std::vector<array>& outputs);
template <typename... Arrays, typename = std::enable_if_t<(std::is_convertible_v<Arrays, array> && ...)>>
void export_to_dot(std::ostream& os, Arrays&&... outputs) {
  export_to_dot(os, std::vector<array>{std::forward<Arrays>(outputs)...});
}

// One line per array in topological order, e.g. `t2 = exp(t1)  float32 [4, 5]`.
void print_graph(std::ostream& os, const std::vector<array>& outputs);
template <typename... Arrays, typename = std::enable_if_t<(std::is_convertible_v<Arrays, array> && ...)>>
void print_graph(std::ostream& os, Arrays&&... outputs) {
  print_graph(os, std::vector<array>{std::forward<Arrays>(outputs)...});
}

}  // namespace tessera
