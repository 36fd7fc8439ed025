// Test op table for scans, sorting, selection and softmax.
#include "testing/op_registry.h"

namespace tessera::testing {
namespace {

using ScanAx = array (*)(const array&, int, bool, bool, StreamOrDevice);
using ScanAll = array (*)(const array&, bool, bool, StreamOrDevice);

struct RegisterScans {
  RegisterScans() {
    const std::vector<std::tuple<std::string, ScanAx, ScanAll>> scans = {
        {"cumsum", cumsum, cumsum},       {"cumprod", cumprod, cumprod}, {"cummax", cummax, cummax},
        {"cummin", cummin, cummin},       {"logcumsumexp", logcumsumexp, logcumsumexp}};
    for (auto& [name, fa, fall] : scans) {
      ScanAx a = fa;
      ScanAll all = fall;
      OpRegistrar(name, [a, all](const std::vector<array>& in, const Json& p) {
        bool rev = p.value("reverse", false), inc = p.value("inclusive", true);
        if (p.contains("axis")) return std::vector<array>{a(in[0], p["axis"].get<int>(), rev, inc, {})};
        return std::vector<array>{all(in[0], rev, inc, {})};
      });
    }
  }
} register_scans;

OpRegistrar sort_op("sort", [](const std::vector<array>& in, const Json& p) {
  if (p.contains("axis")) return std::vector<array>{sort(in[0], p["axis"].get<int>())};
  return std::vector<array>{sort(in[0])};
});
OpRegistrar argsort_op("argsort", [](const std::vector<array>& in, const Json& p) {
  if (p.contains("axis")) return std::vector<array>{argsort(in[0], p["axis"].get<int>())};
  return std::vector<array>{argsort(in[0])};
});

// The k-th element along the axis of x (kth may be negative).
array kth_of(const array& x, int kth, int axis) {
  int ax = axis < 0 ? axis + int(x.ndim()) : axis;
  int n = x.shape(ax);
  int k = kth < 0 ? kth + n : kth;
  Shape start(x.ndim(), 0), stop = x.shape();
  start[ax] = k;
  stop[ax] = k + 1;
  return squeeze(slice(x, start, stop), ax);
}

OpRegistrar partition_op("partition_check", [](const std::vector<array>& in, const Json& p) {
  int kth = p["kth"], axis = p["axis"];
  array r = partition(in[0], kth, axis);
  return std::vector<array>{sort(r, axis), kth_of(r, kth, axis)};
});
OpRegistrar argpartition_op("argpartition_check", [](const std::vector<array>& in, const Json& p) {
  int kth = p["kth"], axis = p["axis"];
  array idx = argpartition(in[0], kth, axis);
  // Gather the values through the indices with a one-hot matmul-free select: sort the values
  // by index order is not needed; compare values gathered row by row.
  array x = in[0];
  int ax = axis < 0 ? axis + int(x.ndim()) : axis;
  int n = x.shape(ax);
  // values[i, j] = x[i, idx[i, j]] via sum(where(idx[..., None] == arange(n), x[..., None, :], 0))
  array onehot = equal(expand_dims(idx, -1), astype(arange(n), uint32));
  array g = sum(where(onehot, expand_dims(x, ax), zeros({}, x.dtype())), -1);
  return std::vector<array>{sort(g, axis), kth_of(g, kth, axis)};
});
OpRegistrar topk_op("topk_sorted", [](const std::vector<array>& in, const Json& p) {
  int k = p["k"];
  if (p.contains("axis")) {
    int axis = p["axis"];
    return std::vector<array>{sort(topk(in[0], k, axis), axis)};
  }
  return std::vector<array>{sort(topk(in[0], k))};
});
OpRegistrar searchsorted_op("searchsorted", [](const std::vector<array>& in, const Json& p) {
  return std::vector<array>{searchsorted(in[0], in[1], p.value("right", false))};
});
OpRegistrar softmax_op("softmax", [](const std::vector<array>& in, const Json& p) {
  bool precise = p.value("precise", false);
  if (p.contains("axis")) return std::vector<array>{softmax(in[0], p["axis"].get<int>(), precise)};
  if (p.contains("axes")) return std::vector<array>{softmax(in[0], int_list(p["axes"]), precise)};
  return std::vector<array>{softmax(in[0], precise)};
});

}  // namespace
}  // namespace tessera::testing
