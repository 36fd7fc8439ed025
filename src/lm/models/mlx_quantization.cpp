#include "lm/models/mlx_quantization.h"

#include <stdexcept>

#include "ops/op_utils.h"

namespace tessera::lm {

namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::invalid_argument("[load_model] " + file + ": " + what);
}

// What quantized_matmul runs (its own checks say the same; refusing here names config.json).
constexpr int kGroupSizes[] = {32, 64, 128};
constexpr int kBits[] = {2, 3, 4, 5, 6, 8};

template <size_t N>
bool one_of(int64_t v, const int (&set)[N]) {
  for (int s : set)
    if (v == s) return true;
  return false;
}

// A printed value for messages, kept short (a hostile file may put megabytes in one field).
std::string shown(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 40) + "..." : s;
}

std::optional<int> int_field(const json& obj, const char* key, const std::string& where, const std::string& file) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) fail(file, where + "." + key + " = " + shown(*it) + " must be an integer");
  int64_t v = it->get<int64_t>();
  if (std::string(key) == "group_size" && !one_of(v, kGroupSizes)) {
    fail(file, where + ".group_size = " + std::to_string(v) + " is not supported (32, 64 or 128)");
  }
  if (std::string(key) == "bits" && !one_of(v, kBits)) {
    fail(file, where + ".bits = " + std::to_string(v) + " is not supported (2, 3, 4, 5, 6 or 8)");
  }
  return int(v);
}

void check_mode(const json& obj, const std::string& where, const std::string& file) {
  auto it = obj.find("mode");
  if (it == obj.end() || it->is_null()) return;
  if (!it->is_string() || it->get<std::string>() != "affine") {
    fail(file, where + ".mode = " + shown(*it) + " is not supported (Tessera runs MLX's \"affine\" mode)");
  }
}

}  // namespace

std::optional<QuantParams> QuantizationConfig::for_module(const std::string& module) const {
  auto it = modules.find(module);
  if (it != modules.end()) return it->second;
  return defaults;
}

bool QuantizationConfig::excluded(const std::string& module) const {
  auto it = modules.find(module);
  return it != modules.end() && !it->second;
}

QuantizationConfig parse_quantization(const json& config, const std::string& file) {
  QuantizationConfig q;
  if (!config.is_object()) return q;
  const json* entry = nullptr;
  if (auto it = config.find("quantization"); it != config.end() && !it->is_null()) {
    entry = &*it;
    q.field = "quantization";
  } else if (auto qc = config.find("quantization_config"); qc != config.end() && !qc->is_null()) {
    if (qc->is_object() && qc->contains("quant_method")) {
      fail(file, "quantization_config.quant_method = " + shown((*qc)["quant_method"]) +
                     " is not supported (Tessera reads MLX's affine quantization: a \"quantization\" entry with "
                     "group_size and bits)");
    }
    entry = &*qc;
    q.field = "quantization_config";
  } else {
    return q;
  }
  if (!entry->is_object()) fail(file, q.field + " must be an object");
  check_mode(*entry, q.field, file);
  std::optional<int> gs = int_field(*entry, "group_size", q.field, file);
  std::optional<int> bits = int_field(*entry, "bits", q.field, file);
  if (gs.has_value() != bits.has_value()) fail(file, q.field + " must give both group_size and bits");
  if (gs) q.defaults = QuantParams{*gs, *bits};
  for (auto& [key, value] : entry->items()) {
    if (key == "group_size" || key == "bits" || key == "mode") continue;
    const std::string where = q.field + "['" + key + "']";
    if (value.is_boolean()) {
      // true: the defaults, which must then exist; false: left in full precision.
      if (value.get<bool>() && !q.defaults) fail(file, where + " = true but there is no default group_size/bits");
      q.modules[key] = value.get<bool>() ? q.defaults : std::nullopt;
    } else if (value.is_object()) {
      check_mode(value, where, file);
      std::optional<int> mgs = int_field(value, "group_size", where, file);
      std::optional<int> mbits = int_field(value, "bits", where, file);
      if ((!mgs || !mbits) && !q.defaults) fail(file, where + " must give group_size and bits");
      q.modules[key] = QuantParams{mgs.value_or(q.defaults ? q.defaults->group_size : 0),
                                   mbits.value_or(q.defaults ? q.defaults->bits : 0)};
    } else {
      // Other scalar entries some writers add (e.g. a quantization method's version) are not
      // module paths; anything else is.
      if (value.is_string() || value.is_number()) continue;
      fail(file, where + " must be an object with group_size and bits, or false");
    }
  }
  return q;
}

QuantizedWeight make_quantized_weight(const array& wq, const array& scales, const array& biases, QuantParams p,
                                      const std::string& what, Shape* logical_shape) {
  auto bad = [&](const std::string& msg) { throw std::invalid_argument("[load_model] " + what + ": " + msg); };
  const std::string params = " (group_size " + std::to_string(p.group_size) + ", bits " + std::to_string(p.bits) + ")";
  if (wq.dtype() != uint32) bad(std::string("the packed weight is ") + dtype_name(wq.dtype()) + ", expected uint32");
  if (wq.ndim() < 1) bad("the packed weight is a scalar");
  for (const array* a : {&scales, &biases}) {
    if (a->dtype() != float32 && a->dtype() != float16 && a->dtype() != bfloat16) {
      bad(std::string(a == &scales ? "scales" : "biases") + " are " + std::string(dtype_name(a->dtype())) +
          ", expected float32, float16 or bfloat16");
    }
  }
  const int64_t packed_bits = int64_t(wq.shape(-1)) * 32;
  if (packed_bits % p.bits != 0) {
    bad("the packed weight's " + std::to_string(wq.shape(-1)) + " columns do not hold whole " + std::to_string(p.bits) +
        "-bit values" + params);
  }
  const int64_t cols = packed_bits / p.bits;
  if (cols % p.group_size != 0 || cols > (int64_t(1) << 30)) {
    bad("the packed weight " + shape_list(wq.shape()) + " unpacks to " + std::to_string(cols) +
        " columns, not a multiple of the group size" + params);
  }
  Shape want = wq.shape();
  want.back() = int(cols / p.group_size);
  if (scales.shape() != want) {
    bad("scales have shape " + shape_list(scales.shape()) + ", expected " + shape_list(want) + " for the packed weight " +
        shape_list(wq.shape()) + params);
  }
  if (biases.shape() != want) {
    bad("biases have shape " + shape_list(biases.shape()) + ", expected " + shape_list(want) + params);
  }
  *logical_shape = wq.shape();
  logical_shape->back() = int(cols);
  return QuantizedWeight{wq, scales, biases, p.group_size, p.bits};
}

}  // namespace tessera::lm
