// Test op table for the quantization ops (tests/reference/cases_quantized.py).
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

std::optional<int> opt_int(const Json& p, const char* k) {
  if (p.contains(k)) return p[k].get<int>();
  return std::nullopt;
}

OpRegistrar quantize_op("quantize", [](const std::vector<array>& in, const Json& p) {
  return quantize(in[0], opt_int(p, "group_size"), opt_int(p, "bits"));
});

OpRegistrar quantize_roundtrip_op("quantize_roundtrip", [](const std::vector<array>& in, const Json& p) {
  auto q = quantize(in[0], opt_int(p, "group_size"), opt_int(p, "bits"));
  return std::vector<array>{dequantize(q[0], q[1], q[2], opt_int(p, "group_size"), opt_int(p, "bits"))};
});

OpRegistrar dequantize_op("dequantize", [](const std::vector<array>& in, const Json& p) {
  std::optional<Dtype> dt;
  if (p.contains("dtype")) dt = dtype_from_name(p["dtype"].get<std::string>());
  return std::vector<array>{
      dequantize(in[0], in[1], in[2], opt_int(p, "group_size"), opt_int(p, "bits"), "affine", dt)};
});

OpRegistrar quantized_matmul_op("quantized_matmul", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{quantized_matmul(in[0], in[1], in[2], in[3], p.value("transpose", true),
                                             opt_int(p, "group_size"), opt_int(p, "bits"))};
});

OpRegistrar gather_qmm_op("gather_qmm", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{gather_qmm(in[0], in[1], in[2], in[3], in[4], in[5], p.value("transpose", true),
                                       opt_int(p, "group_size"), opt_int(p, "bits"))};
});

}  // namespace
}  // namespace tessera::testing
