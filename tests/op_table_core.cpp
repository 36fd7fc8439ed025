// Test op table for elementwise, reduction, shape, creation and matmul ops.
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

using U = array (*)(const array&, StreamOrDevice);
using B = array (*)(const array&, const array&, StreamOrDevice);

const std::map<std::string, U> kUnary = {
    {"abs", abs},         {"negative", negative}, {"sign", sign},       {"logical_not", logical_not},
    {"reciprocal", reciprocal}, {"square", square}, {"sqrt", sqrt},     {"rsqrt", rsqrt},
    {"exp", exp},         {"expm1", expm1},       {"log", log},         {"log2", log2},
    {"log10", log10},     {"log1p", log1p},       {"sin", sin},         {"cos", cos},
    {"tan", tan},         {"arcsin", arcsin},     {"arccos", arccos},   {"arctan", arctan},
    {"sinh", sinh},       {"cosh", cosh},         {"tanh", tanh},       {"arcsinh", arcsinh},
    {"arccosh", arccosh}, {"arctanh", arctanh},   {"degrees", degrees}, {"radians", radians},
    {"floor", floor},     {"ceil", ceil},         {"sigmoid", sigmoid}, {"erf", erf},
    {"erfinv", erfinv},   {"isnan", isnan},       {"isinf", isinf},     {"isfinite", isfinite},
    {"isposinf", isposinf}, {"isneginf", isneginf}, {"real", real},     {"imag", imag},
    {"conjugate", conjugate}, {"bitwise_invert", bitwise_invert}, {"stop_gradient", stop_gradient},
};

const std::map<std::string, B> kBinary = {
    {"add", add},           {"subtract", subtract},   {"multiply", multiply},
    {"divide", divide},     {"floor_divide", floor_divide}, {"remainder", remainder},
    {"power", power},       {"maximum", maximum},     {"minimum", minimum},
    {"arctan2", arctan2},   {"logaddexp", logaddexp}, {"equal", equal},
    {"not_equal", not_equal}, {"less", less},         {"less_equal", less_equal},
    {"greater", greater},   {"greater_equal", greater_equal}, {"logical_and", logical_and},
    {"logical_or", logical_or}, {"bitwise_and", bitwise_and}, {"bitwise_or", bitwise_or},
    {"bitwise_xor", bitwise_xor}, {"left_shift", left_shift}, {"right_shift", right_shift},
};

struct RegisterAll {
  RegisterAll() {
    for (auto& [name, fn] : kUnary) {
      U f = fn;
      OpRegistrar(name, [f](const std::vector<array>& in, const Json&) { return std::vector<array>{f(in[0], {})}; });
    }
    for (auto& [name, fn] : kBinary) {
      B f = fn;
      OpRegistrar(name, [f](const std::vector<array>& in, const Json&) { return std::vector<array>{f(in[0], in[1], {})}; });
    }
  }
} register_all;

using Red = array (*)(const array&, const std::vector<int>&, bool, StreamOrDevice);
const std::map<std::string, Red> kReduce = {
    {"sum", sum},   {"prod", prod}, {"max", max},   {"min", min},         {"mean", mean},
    {"all", all},   {"any", any},   {"logsumexp", logsumexp}, {"count_nonzero", count_nonzero},
};

struct RegisterReductions {
  RegisterReductions() {
    for (auto& [name, fn] : kReduce) {
      Red f = fn;
      OpRegistrar(name, [f](const std::vector<array>& in, const Json& p) {
        bool keep = p.value("keepdims", false);
        if (!p.contains("axes")) {
          std::vector<int> axes(in[0].ndim());
          for (size_t i = 0; i < axes.size(); ++i) axes[i] = int(i);
          return std::vector<array>{f(in[0], axes, keep, {})};
        }
        return std::vector<array>{f(in[0], int_list(p["axes"]), keep, {})};
      });
    }
  }
} register_reductions;

OpRegistrar var_op("var", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{var(in[0], int_list(p["axes"]), p.value("keepdims", false), p.value("ddof", 0))};
});
OpRegistrar std_op("std", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{tessera::std(in[0], int_list(p["axes"]), p.value("keepdims", false), p.value("ddof", 0))};
});
OpRegistrar argmax_op("argmax", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{argmax(in[0], p["axis"].get<int>(), p.value("keepdims", false))};
});
OpRegistrar argmin_op("argmin", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{argmin(in[0], p["axis"].get<int>(), p.value("keepdims", false))};
});
OpRegistrar where_op("where", [](const std::vector<array>& in, const Json&) {
  return std::vector<array>{where(in[0], in[1], in[2])};
});
OpRegistrar clip_op("clip", [](const std::vector<array>& in, const Json&) {
  return std::vector<array>{clip(in[0], in[1], in[2])};
});
OpRegistrar nan_to_num_op("nan_to_num", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{nan_to_num(in[0], p.value("nan", 0.0f))};
});
OpRegistrar astype_op("astype", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{astype(in[0], dtype_from_name(p["dtype"].get<std::string>()))};
});
OpRegistrar round_op("round", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{round(in[0], p.value("decimals", 0))};
});
OpRegistrar isclose_op("isclose", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{isclose(in[0], in[1], p.value("rtol", 1e-5), p.value("atol", 1e-8), p.value("equal_nan", false))};
});
OpRegistrar array_equal_op("array_equal", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{array_equal(in[0], in[1], p.value("equal_nan", false))};
});

OpRegistrar reshape_op("reshape", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{reshape(in[0], shape_of(p["shape"]))};
});
OpRegistrar transpose_op("transpose", [](const std::vector<array>& in, const Json& p) {
  if (!p.contains("axes")) return std::vector<array>{transpose(in[0])};
  return std::vector<array>{transpose(in[0], int_list(p["axes"]))};
});
OpRegistrar broadcast_op("broadcast_to", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{broadcast_to(in[0], shape_of(p["shape"]))};
});
OpRegistrar slice_op("slice", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{slice(in[0], shape_of(p["start"]), shape_of(p["stop"]), shape_of(p["strides"]))};
});
OpRegistrar squeeze_op("squeeze", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{squeeze(in[0], int_list(p["axes"]))};
});
OpRegistrar expand_dims_op("expand_dims", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{expand_dims(in[0], int_list(p["axes"]))};
});
OpRegistrar moveaxis_op("moveaxis", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{moveaxis(in[0], p["source"].get<int>(), p["destination"].get<int>())};
});
OpRegistrar swapaxes_op("swapaxes", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{swapaxes(in[0], p["axis1"].get<int>(), p["axis2"].get<int>())};
});
OpRegistrar flatten_op("flatten", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{flatten(in[0], p.value("start_axis", 0), p.value("end_axis", -1))};
});
OpRegistrar split_op("split", [](const std::vector<array>& in, const Json& p) {
  if (p["indices"].is_number()) return split(in[0], p["indices"].get<int>(), p.value("axis", 0));
  return split(in[0], shape_of(p["indices"]), p.value("axis", 0));
});
OpRegistrar matmul_op("matmul", [](const std::vector<array>& in, const Json&) {
  return std::vector<array>{matmul(in[0], in[1])};
});
OpRegistrar addmm_op("addmm", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{addmm(in[0], in[1], in[2], p.value("alpha", 1.0f), p.value("beta", 1.0f))};
});
OpRegistrar tensordot_op("tensordot", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{tensordot(in[0], in[1], int_list(p["axes_a"]), int_list(p["axes_b"]))};
});
OpRegistrar outer_op("outer", [](const std::vector<array>& in, const Json&) {
  return std::vector<array>{outer(in[0], in[1])};
});
OpRegistrar inner_op("inner", [](const std::vector<array>& in, const Json&) {
  return std::vector<array>{inner(in[0], in[1])};
});
OpRegistrar kron_op("kron", [](const std::vector<array>& in, const Json&) {
  return std::vector<array>{kron(in[0], in[1])};
});
OpRegistrar arange_op("arange", [](const std::vector<array>&, const Json& p) {
  return std::vector<array>{arange(p["start"].get<double>(), p["stop"].get<double>(), p["step"].get<double>(),
                                   dtype_from_name(p["dtype"].get<std::string>()))};
});
OpRegistrar linspace_op("linspace", [](const std::vector<array>&, const Json& p) {
  return std::vector<array>{linspace(p["start"].get<double>(), p["stop"].get<double>(), p["num"].get<int>(),
                                     dtype_from_name(p.value("dtype", std::string("float32"))))};
});
OpRegistrar eye_op("eye", [](const std::vector<array>&, const Json& p) {
  return std::vector<array>{eye(p["n"].get<int>(), p["m"].get<int>(), p["k"].get<int>(), float32)};
});
OpRegistrar tril_op("tril", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{tril(in[0], p.value("k", 0))};
});
OpRegistrar triu_op("triu", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{triu(in[0], p.value("k", 0))};
});
OpRegistrar full_op("full", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{full(shape_of(p["shape"]), in[0])};
});
OpRegistrar meshgrid_op("meshgrid", [](const std::vector<array>& in, const Json& p) {
  return meshgrid(in, p.value("sparse", false), p.value("indexing", std::string("xy")));
});

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

OpRegistrar copy_op("copy", [](const std::vector<array>& in, const Json&) { return std::vector<array>{copy(in[0])}; });
OpRegistrar as_strided_op("as_strided", [](const std::vector<array>& in, const Json& p) {
  Strides st;
  for (auto& v : p["strides"]) st.push_back(v.get<int64_t>());
  return std::vector<array>{as_strided(in[0], shape_of(p["shape"]), st, p["offset"].get<size_t>())};
});
OpRegistrar view_op("view", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{view(in[0], dtype_from_name(p["dtype"].get<std::string>()))};
});

}  // namespace
}  // namespace tessera::testing
