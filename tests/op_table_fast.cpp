// Test op table for tessera::fast (rms_norm, layer_norm, rope, scaled_dot_product_attention).
#include "tessera/fast.h"
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

std::optional<array> opt(const std::vector<array>& in, size_t i) {
  return i < in.size() ? std::optional<array>(in[i]) : std::nullopt;
}

OpRegistrar rms_norm_op("rms_norm", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{fast::rms_norm(in[0], opt(in, 1), p["eps"].get<float>())};
});

OpRegistrar layer_norm_op("layer_norm", [](const std::vector<array>& in, const Json& p) {
  bool w = p.value("weight", false), b = p.value("bias", false);
  std::optional<array> weight, bias;
  size_t i = 1;
  if (w) weight = opt(in, i++);
  if (b) bias = opt(in, i++);
  return std::vector<array>{fast::layer_norm(in[0], weight, bias, p["eps"].get<float>())};
});

OpRegistrar rope_op("rope", [](const std::vector<array>& in, const Json& p) {
  int dims = p["dims"];
  bool trad = p["traditional"];
  float scale = p["scale"].get<float>();
  std::optional<float> base;
  if (p.contains("base")) base = p["base"].get<float>();
  std::optional<array> freqs;
  if (p.value("freqs", false)) freqs = in[1];
  if (p.value("offset_array", false)) return std::vector<array>{fast::rope(in[0], dims, trad, base, scale, in[1], freqs)};
  return std::vector<array>{fast::rope(in[0], dims, trad, base, scale, p["offset"].get<int>(), freqs)};
});

OpRegistrar sdpa_op("sdpa", [](const std::vector<array>& in, const Json& p) {
  bool has_sinks = p.value("sinks", false);
  size_t n_extra = in.size() - 3;
  std::optional<array> mask, sinks;
  if (has_sinks) {
    sinks = in.back();
    if (n_extra == 2) mask = in[3];
  } else if (n_extra == 1) {
    mask = in[3];
  }
  return std::vector<array>{fast::scaled_dot_product_attention(in[0], in[1], in[2], p["scale"].get<float>(),
                                                               p["mask_mode"].get<std::string>(), mask, sinks)};
});

}  // namespace
}  // namespace tessera::testing
