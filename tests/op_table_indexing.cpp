// Test op table for data movement (concatenate, pad, roll, ...) and indexing (take, gather,
// scatter, ...) ops.
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

using V = std::vector<array>;

V one(const array& a) { return V{a}; }

OpRegistrar concatenate_op("concatenate", [](const V& in, const Json& p) {
  if (p.contains("axis")) return one(concatenate(in, p["axis"].get<int>()));
  return one(concatenate(in));
});
OpRegistrar stack_op("stack", [](const V& in, const Json& p) {
  if (p.contains("axis")) return one(stack(in, p["axis"].get<int>()));
  return one(stack(in));
});
OpRegistrar repeat_op("repeat", [](const V& in, const Json& p) {
  if (p.contains("axis")) return one(repeat(in[0], p["repeats"].get<int>(), p["axis"].get<int>()));
  return one(repeat(in[0], p["repeats"].get<int>()));
});
OpRegistrar tile_op("tile", [](const V& in, const Json& p) { return one(tile(in[0], int_list(p["reps"]))); });

OpRegistrar pad_op("pad", [](const V& in, const Json& p) {
  array value = in.size() > 1 ? in[1] : array(0);
  std::string mode = p.value("mode", std::string("constant"));
  std::string form = p.value("form", std::string("axes"));
  if (form == "axes") {
    return one(pad(in[0], int_list(p["axes"]), shape_of(p["low"]), shape_of(p["high"]), value, mode));
  }
  if (form == "pairs") {
    std::vector<std::pair<int, int>> w;
    for (auto& x : p["width"]) w.emplace_back(x[0].get<int>(), x[1].get<int>());
    return one(pad(in[0], w, value, mode));
  }
  if (form == "pair") {
    return one(pad(in[0], std::pair<int, int>{p["width"][0].get<int>(), p["width"][1].get<int>()}, value, mode));
  }
  return one(pad(in[0], p["width"].get<int>(), value, mode));
});

OpRegistrar roll_op("roll", [](const V& in, const Json& p) {
  const Json& sh = p["shift"];
  bool shift_list = sh.is_array();
  if (!p.contains("axis")) {
    return one(shift_list ? roll(in[0], shape_of(sh)) : roll(in[0], sh.get<int>()));
  }
  const Json& ax = p["axis"];
  if (ax.is_array()) {
    return one(shift_list ? roll(in[0], shape_of(sh), int_list(ax)) : roll(in[0], sh.get<int>(), int_list(ax)));
  }
  return one(shift_list ? roll(in[0], shape_of(sh), ax.get<int>()) : roll(in[0], sh.get<int>(), ax.get<int>()));
});
OpRegistrar flip_op("flip", [](const V& in, const Json& p) {
  if (!p.contains("axis")) return one(flip(in[0]));
  if (p["axis"].is_array()) return one(flip(in[0], int_list(p["axis"])));
  return one(flip(in[0], p["axis"].get<int>()));
});

OpRegistrar diagonal_op("diagonal", [](const V& in, const Json& p) {
  return one(diagonal(in[0], p.value("offset", 0), p.value("axis1", 0), p.value("axis2", 1)));
});
OpRegistrar diag_op("diag", [](const V& in, const Json& p) { return one(diag(in[0], p.value("k", 0))); });
OpRegistrar trace_op("trace", [](const V& in, const Json& p) {
  if (!p.contains("offset")) return one(trace(in[0]));
  int off = p["offset"], a1 = p["axis1"], a2 = p["axis2"];
  if (p.contains("dtype")) return one(trace(in[0], off, a1, a2, dtype_from_name(p["dtype"].get<std::string>())));
  return one(trace(in[0], off, a1, a2));
});

OpRegistrar slice_update_op("slice_update", [](const V& in, const Json& p) {
  Shape st = shape_of(p["start"]), en = shape_of(p["stop"]);
  std::string mode = p.value("mode", std::string("set"));
  if (!p.contains("strides")) return one(slice_update(in[0], in[1], st, en));
  Shape str = shape_of(p["strides"]);
  if (mode == "set") return one(slice_update(in[0], in[1], st, en, str));
  if (mode == "add") return one(slice_update_add(in[0], in[1], st, en, str));
  if (mode == "prod") return one(slice_update_prod(in[0], in[1], st, en, str));
  if (mode == "max") return one(slice_update_max(in[0], in[1], st, en, str));
  return one(slice_update_min(in[0], in[1], st, en, str));
});
OpRegistrar dynamic_slice_op("dynamic_slice", [](const V& in, const Json& p) {
  return one(slice(in[0], in[1], int_list(p["axes"]), shape_of(p["slice_size"])));
});
OpRegistrar dynamic_slice_update_op("dynamic_slice_update", [](const V& in, const Json& p) {
  return one(slice_update(in[0], in[1], in[2], int_list(p["axes"])));
});

OpRegistrar take_op("take", [](const V& in, const Json& p) {
  if (p.contains("index")) {
    int idx = p["index"];
    if (p.contains("axis")) return one(take(in[0], idx, p["axis"].get<int>()));
    return one(take(in[0], idx));
  }
  if (p.contains("axis")) return one(take(in[0], in[1], p["axis"].get<int>()));
  return one(take(in[0], in[1]));
});
OpRegistrar take_along_axis_op("take_along_axis", [](const V& in, const Json& p) {
  return one(take_along_axis(in[0], in[1], p["axis"].get<int>()));
});
OpRegistrar put_along_axis_op("put_along_axis", [](const V& in, const Json& p) {
  return one(put_along_axis(in[0], in[1], in[2], p["axis"].get<int>()));
});

OpRegistrar gather_op("gather", [](const V& in, const Json& p) {
  Shape ss = shape_of(p["slice_sizes"]);
  if (p.contains("axis")) return one(gather(in[0], in[1], p["axis"].get<int>(), ss));
  V idx(in.begin() + 1, in.end());
  return one(gather(in[0], idx, int_list(p["axes"]), ss));
});

OpRegistrar scatter_op("scatter", [](const V& in, const Json& p) {
  using Multi = array (*)(const array&, const std::vector<array>&, const array&, const std::vector<int>&,
                          StreamOrDevice);
  using Single = array (*)(const array&, const array&, const array&, int, StreamOrDevice);
  std::string mode = p.value("mode", std::string("set"));
  Multi m = scatter;
  Single s = scatter;
  if (mode == "add") m = scatter_add, s = scatter_add;
  if (mode == "prod") m = scatter_prod, s = scatter_prod;
  if (mode == "max") m = scatter_max, s = scatter_max;
  if (mode == "min") m = scatter_min, s = scatter_min;
  if (p.contains("axis")) return one(s(in[0], in[1], in[2], p["axis"].get<int>(), {}));
  V idx(in.begin() + 1, in.end() - 1);
  return one(m(in[0], idx, in.back(), int_list(p["axes"]), {}));
});

OpRegistrar masked_scatter_op("masked_scatter", [](const V& in, const Json&) {
  return one(masked_scatter(in[0], in[1], in[2]));
});

}  // namespace
}  // namespace tessera::testing
