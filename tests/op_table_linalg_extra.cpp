// Test op table for einsum, gather_mm and block_masked_mm (cases in
// tests/reference/cases_linalg_extra.py).
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

using V = std::vector<array>;

OpRegistrar einsum_op("einsum", [](const V& in, const Json& p) {
  return V{einsum(p["subscripts"].get<std::string>(), in)};
});

// Inputs: a, b, then lhs_indices if params.lhs, then rhs_indices if params.rhs.
OpRegistrar gather_mm_op("gather_mm", [](const V& in, const Json& p) {
  size_t k = 2;
  std::optional<array> li, ri;
  if (p.value("lhs", false)) li = in[k++];
  if (p.value("rhs", false)) ri = in[k++];
  return V{gather_mm(in[0], in[1], li, ri, p.value("sorted", false))};
});

// Inputs: a, b, then the masks named in params.masks (any of "out", "lhs", "rhs"), in order.
OpRegistrar block_masked_mm_op("block_masked_mm", [](const V& in, const Json& p) {
  std::optional<array> mo, ml, mr;
  size_t k = 2;
  for (auto& m : p.value("masks", Json::array())) {
    std::string w = m.get<std::string>();
    if (w == "out") mo = in[k++];
    else if (w == "lhs") ml = in[k++];
    else mr = in[k++];
  }
  return V{block_masked_mm(in[0], in[1], p["block_size"].get<int>(), mo, ml, mr)};
});

}  // namespace
}  // namespace tessera::testing
