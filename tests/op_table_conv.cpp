// Test op table for the convolutions (conv1d/2d/3d, conv_general, conv_transpose1d/2d/3d).
// Parameters default as in the C++ API; 2-D/3-D ones are lists.
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

std::vector<int> list_or(const Json& p, const char* key, std::vector<int> dflt) {
  return p.contains(key) ? int_list(p[key]) : dflt;
}

std::pair<int, int> pair_or(const Json& p, const char* key, int dflt) {
  auto v = list_or(p, key, {dflt, dflt});
  return {v.at(0), v.at(1)};
}

std::tuple<int, int, int> triple_or(const Json& p, const char* key, int dflt) {
  auto v = list_or(p, key, {dflt, dflt, dflt});
  return {v.at(0), v.at(1), v.at(2)};
}

OpRegistrar conv1d_op("conv1d", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{conv1d(in[0], in[1], p.value("stride", 1), p.value("padding", 0), p.value("dilation", 1),
                                   p.value("groups", 1))};
});
OpRegistrar conv2d_op("conv2d", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{conv2d(in[0], in[1], pair_or(p, "stride", 1), pair_or(p, "padding", 0),
                                   pair_or(p, "dilation", 1), p.value("groups", 1))};
});
OpRegistrar conv3d_op("conv3d", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{conv3d(in[0], in[1], triple_or(p, "stride", 1), triple_or(p, "padding", 0),
                                   triple_or(p, "dilation", 1), p.value("groups", 1))};
});
OpRegistrar conv_general_op("conv_general", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{conv_general(in[0], in[1], list_or(p, "stride", {}), list_or(p, "padding_lo", {}),
                                         list_or(p, "padding_hi", {}), list_or(p, "kernel_dilation", {}),
                                         list_or(p, "input_dilation", {}), p.value("groups", 1),
                                         p.value("flip", false))};
});
OpRegistrar conv_transpose1d_op("conv_transpose1d", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{conv_transpose1d(in[0], in[1], p.value("stride", 1), p.value("padding", 0),
                                             p.value("dilation", 1), p.value("output_padding", 0),
                                             p.value("groups", 1))};
});
OpRegistrar conv_transpose2d_op("conv_transpose2d", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{conv_transpose2d(in[0], in[1], pair_or(p, "stride", 1), pair_or(p, "padding", 0),
                                             pair_or(p, "dilation", 1), pair_or(p, "output_padding", 0),
                                             p.value("groups", 1))};
});
OpRegistrar conv_transpose3d_op("conv_transpose3d", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{conv_transpose3d(in[0], in[1], triple_or(p, "stride", 1), triple_or(p, "padding", 0),
                                             triple_or(p, "dilation", 1), triple_or(p, "output_padding", 0),
                                             p.value("groups", 1))};
});

}  // namespace
}  // namespace tessera::testing
