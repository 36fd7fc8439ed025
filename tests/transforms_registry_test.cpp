// Transforms over every NumPy reference case (tests/reference/cases_*.py), so an op is covered
// the day it is registered:
//   - vjp and jvp against central finite differences of <C, f(X + tV)> in float64 (float32 for
//     ops without float64 kernels), on the case's own inputs and views (transposed, strided);
//   - second derivatives (vjp of the vjp) for smooth ops;
//   - vmap over each axis position of each input, and over all inputs at once, against a loop
//     over the batch.
// TESSERA_TRANSFORM_OPS=op1,op2 limits the run to some ops (for development).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "testing/fixtures.h"

namespace tessera::testing {
namespace {

// Ops whose derivative is zero almost everywhere with jumps at points the cases hit on purpose
// (integers, ties): finite differences are meaningless there, so only "runs and is finite" is checked.
const std::map<std::string, const char*> kNoFiniteDifferences = {
    {"floor", "piecewise constant"},  {"ceil", "piecewise constant"},         {"round", "piecewise constant"},
    {"sign", "piecewise constant"},   {"floor_divide", "piecewise constant"}, {"remainder", "jumps at multiples"},
    {"quantize", "rounds"},           {"quantize_roundtrip", "rounds"},
    {"astype", "rounds to the target dtype (float64 inputs cast to float32/float16)"},
    {"maximum", "jumps at ties (the _strided case compares a with itself)"},
    {"minimum", "jumps at ties (the _strided case compares a with itself)"},
    {"tan", "poles: the _large case has inputs too close to pi/2 for central differences"},
    {"reciprocal", "pole at 0: the _large case has inputs within the second-order step of 0"},
    {"sort", "derivative jumps at ties: sort_bfloat16 has many, sort_large neighbours closer than the step "
             "(topk_sorted and partition_check still check its rule)"},
};

// Ops that compute part of their float64 result in float32 on purpose, so finite differences
// in float64 see float32 rounding: they are checked with a float32-sized step and tolerance.
const std::map<std::string, const char*> kFloat32Inside = {
    {"dequantize", "scales and biases are applied in float32 (quantized formats are 32-bit at most)"},
    {"rope", "explicit freqs and the angles are float32, as in MLX"},
    {"sdpa", "additive masks and sinks are read as float32"},
};

// Ops smooth enough on the cases' inputs for a second-derivative check.
const std::set<std::string> kSmooth = {
    "exp",  "expm1", "log",  "log1p", "sin",     "cos",      "tanh",     "sigmoid", "square", "sqrt",
    "add",  "subtract", "multiply", "divide", "sum", "mean", "matmul", "logsumexp", "softmax", "erf",
    "arctan", "sinh", "cosh", "log2", "log10", "reciprocal", "rsqrt", "power", "logaddexp", "prod",
    "cumsum", "cumprod", "logcumsumexp", "var", "std",
    "slice_update",  // its prod mode is bilinear in (src, update)
    "scatter",       // its prod mode is polynomial in (a, updates)
    // Products and normalizations (conv2d's large cases make its second order slow; conv1d,
    // conv3d and conv_general run the same rules). sdpa differentiates its float32 composite.
    "addmm", "inner", "outer", "tensordot", "kron", "einsum", "gather_mm", "block_masked_mm", "conv1d", "conv3d",
    "conv_general", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "rms_norm", "layer_norm", "rope",
    "dequantize",
};

bool is_real_float(Dtype d) { return d == float16 || d == bfloat16 || d == float32 || d == float64; }

std::set<std::string> op_filter() {
  std::set<std::string> ops;
  const char* env = std::getenv("TESSERA_TRANSFORM_OPS");
  if (!env) return ops;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) ops.insert(item);
  }
  return ops;
}

array random_like(const array& a, std::mt19937& rng, Dtype dtype) {
  std::normal_distribution<double> dist;
  std::vector<double> v(a.size());
  for (auto& x : v) x = dist(rng);
  return astype(array(v.begin(), a.shape(), float64), dtype);
}

double dot_all(const std::vector<array>& a, const std::vector<array>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    array p = sum(multiply(astype(a[i], float64), astype(b[i], float64)));
    s += p.item<double>();
  }
  return s;
}

bool all_finite(const std::vector<array>& xs) {
  for (auto& x : xs) {
    if (!issubdtype(x.dtype(), inexact)) continue;
    if (!all(isfinite(x)).item<bool>()) return false;
  }
  return true;
}

struct Failures {
  std::map<std::string, std::pair<int, std::string>> by_op;
  void add(const std::string& op, const std::string& what) {
    auto& e = by_op[op];
    if (e.first++ == 0) e.second = what;
  }
  void report(const char* check) {
    if (by_op.empty()) return;
    std::ostringstream os;
    os << check << " failed for " << by_op.size() << " ops:\n";
    for (auto& [op, e] : by_op) os << "  " << op << " (" << e.first << " cases): " << e.second << "\n";
    ADD_FAILURE() << os.str();
  }
};

struct Case {
  std::string name, op;
  const OpFn* fn;
  Json params;
  std::vector<Json> recs;
  double rtol, atol;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const auto& fx = fixtures();
  auto filter = op_filter();
  auto& reg = op_registry();
  for (auto& c : fx.manifest) {
    if (!c["error"].is_null()) continue;
    std::string op = c["op"];
    if (!filter.empty() && !filter.count(op)) continue;
    auto it = reg.find(op);
    if (it == reg.end()) continue;
    Case k{c["name"], op, &it->second, c["params"], {}, c["rtol"].get<double>(), c["atol"].get<double>()};
    for (auto& r : c["inputs"]) k.recs.push_back(r);
    out.push_back(std::move(k));
  }
  return out;
}

// The case's inputs with float inputs promoted to `fdtype` before the view is applied, so the
// transforms see the same layouts as the forward tests.
std::vector<array> load_inputs(const Case& c, Dtype fdtype) {
  const auto& fx = fixtures();
  std::vector<array> in;
  for (auto& rec : c.recs) {
    array a = read_array(fx.dir, rec);
    Json view_only = rec;
    bool cast_float = !rec["cast"].is_null() && is_real_float(dtype_from_name(rec["cast"].get<std::string>()));
    if (is_real_float(a.dtype()) || cast_float) {
      a = astype(a, fdtype);
      view_only["cast"] = nullptr;
    }
    a = apply_view(a, view_only);
    in.push_back(a);
  }
  eval(in);
  return in;
}

void check_derivatives(const Case& c, Failures& first, Failures& second) {
  // Float64 where the op has float64 kernels, else float32.
  Dtype fdtype = float64;
  std::vector<array> x;
  std::vector<array> outs;
  for (Dtype d : {float64, float32}) {
    try {
      x = load_inputs(c, d);
      outs = (*c.fn)(x, c.params);
      eval(outs);
      fdtype = d;
      break;
    } catch (const std::exception&) {
      outs.clear();
    }
  }
  if (outs.empty()) return;  // covered by the forward tests
  std::vector<int> fidx;
  for (size_t i = 0; i < x.size(); ++i) {
    if (is_real_float(x[i].dtype())) fidx.push_back(int(i));
  }
  std::vector<int> oidx;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (is_real_float(outs[k].dtype())) oidx.push_back(int(k));
  }
  if (fidx.empty() || oidx.empty()) return;

  std::mt19937 rng(1234);
  std::vector<array> xf, v, cot;
  for (int i : fidx) {
    xf.push_back(x[i]);
    v.push_back(random_like(x[i], rng, x[i].dtype()));
  }
  for (size_t k = 0; k < outs.size(); ++k) {
    cot.push_back(is_real_float(outs[k].dtype()) ? random_like(outs[k], rng, outs[k].dtype()) : zeros_like(outs[k]));
  }
  auto f = [&](const std::vector<array>& floats) {
    std::vector<array> all = x;
    for (size_t j = 0; j < fidx.size(); ++j) all[fidx[j]] = floats[j];
    return (*c.fn)(all, c.params);
  };
  auto project = [&](const std::vector<array>& ys) {
    std::vector<array> a, b;
    for (int k : oidx) {
      a.push_back(ys[k]);
      b.push_back(cot[k]);
    }
    return dot_all(a, b);
  };
  std::string where = "case " + c.name + ": ";
  std::vector<array> g, t;
  try {
    g = vjp(f, xf, cot).second;
    std::vector<array> jv = jvp(f, xf, v).second;
    eval(g);
    eval(jv);
    for (int k : oidx) t.push_back(jv[k]);
  } catch (const std::exception& e) {
    first.add(c.op, where + e.what());
    return;
  }
  bool finite_inputs = all_finite(x) && all_finite(outs);
  if (kNoFiniteDifferences.count(c.op) || !finite_inputs) return;

  bool f32_inside = kFloat32Inside.count(c.op) != 0;
  // An op may round its output to 16 bits whatever the inputs (e.g. an explicit output dtype).
  bool half_output = false;
  for (int k : oidx) half_output = half_output || outs[k].dtype() == float16 || outs[k].dtype() == bfloat16;
  double eps = fdtype == float64 && !f32_inside ? 1e-6 : fdtype == float64 ? 1e-3 : 1e-2;
  if (half_output) eps = 3e-2;
  auto shifted = [&](double h) {
    std::vector<array> xs;
    for (size_t j = 0; j < xf.size(); ++j) xs.push_back(add(xf[j], multiply(v[j], array(h, fdtype))));
    return project(f(xs));
  };
  double fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
  if (!std::isfinite(fd)) return;
  double d_vjp = dot_all(g, v);
  std::vector<array> cot_f;
  for (int k : oidx) cot_f.push_back(cot[k]);
  double d_jvp = dot_all(cot_f, t);
  double scale = std::sqrt(dot_all(g, g) * dot_all(v, v)) + std::fabs(fd);
  double tol = fdtype == float64 && !f32_inside ? 1e-5 * (1 + scale) : fdtype == float64 ? 2e-3 * (1 + scale) : 3e-2 * (1 + scale);
  if (half_output) tol = 5e-2 * (1 + scale);
  std::ostringstream os;
  os.precision(10);
  if (!(std::fabs(d_vjp - fd) <= tol)) {
    os << where << "vjp gives " << d_vjp << ", finite differences " << fd;
    first.add(c.op, os.str());
    return;
  }
  if (!(std::fabs(d_jvp - fd) <= tol)) {
    os << where << "jvp gives " << d_jvp << ", finite differences " << fd;
    first.add(c.op, os.str());
    return;
  }
  if (!kSmooth.count(c.op) || fdtype != float64 || f32_inside || half_output) return;

  // Second order: h(X) = <vjp(f, X, C), V>; compare its vjp along W with finite differences.
  auto h = [&](const std::vector<array>& xs) {
    auto gs = vjp(f, xs, cot).second;
    array s = array(0.0);
    for (size_t j = 0; j < gs.size(); ++j) s = add(s, sum(multiply(gs[j], v[j])));
    return std::vector<array>{s};
  };
  std::vector<array> w;
  for (auto& xi : xf) w.push_back(random_like(xi, rng, fdtype));
  try {
    auto gg = vjp(h, xf, {array(1.0)}).second;
    eval(gg);
    auto hs = [&](double e) {
      std::vector<array> xs;
      for (size_t j = 0; j < xf.size(); ++j) xs.push_back(add(xf[j], multiply(w[j], array(e, fdtype))));
      return h(xs)[0].item<double>();
    };
    double eps2 = 1e-5;
    double fd2 = (hs(eps2) - hs(-eps2)) / (2 * eps2);
    double d2 = dot_all(gg, w);
    double scale2 = std::sqrt(dot_all(gg, gg) * dot_all(w, w)) + std::fabs(fd2);
    if (std::isfinite(fd2) && !(std::fabs(d2 - fd2) <= 1e-4 * (1 + scale2))) {
      std::ostringstream o2;
      o2.precision(10);
      o2 << where << "second-order vjp gives " << d2 << ", finite differences " << fd2;
      second.add(c.op, o2.str());
    }
  } catch (const std::exception& e) {
    second.add(c.op, where + e.what());
  }
}

// A batch of two: the input itself and its elements in reverse order (same values, so any
// domain or index constraint of the op still holds).
array batch_of_two(const array& a, int axis) {
  array flat = reshape(a, {-1});
  array rev = a.size() > 0 ? reshape(slice(flat, {int(a.size()) - 1}, {-int(a.size()) - 1}, {-1}), a.shape()) : a;
  return stack({a, rev}, axis);
}

void check_vmap(const Case& c, Failures& fails) {
  std::vector<array> x;
  try {
    const auto& fx = fixtures();
    for (auto& rec : c.recs) x.push_back(apply_view(read_array(fx.dir, rec), rec));
    eval(x);
    eval((*c.fn)(x, c.params));
  } catch (const std::exception&) {
    return;
  }
  auto run = [&](const std::vector<int>& in_axes) {
    std::vector<array> batched = x;
    for (size_t i = 0; i < x.size(); ++i) {
      if (in_axes[i] >= 0) batched[i] = batch_of_two(x[i], in_axes[i]);
    }
    // Expected: the op on each batch entry, stacked on axis 0.
    std::vector<std::vector<array>> per_entry;
    try {
      for (int b = 0; b < 2; ++b) {
        std::vector<array> xs = x;
        for (size_t i = 0; i < x.size(); ++i) {
          if (in_axes[i] >= 0) xs[i] = take(batched[i], b, in_axes[i]);
        }
        auto o = (*c.fn)(xs, c.params);
        eval(o);
        per_entry.push_back(o);
      }
    } catch (const std::exception&) {
      return;  // the op rejects the reversed input; nothing to compare
    }
    std::ostringstream where;
    where << "case " << c.name << " in_axes [";
    for (int a : in_axes) where << a << " ";
    where << "]: ";
    std::vector<array> got;
    try {
      auto fn = [&](const std::vector<array>& in) { return (*c.fn)(in, c.params); };
      got = vmap(fn, in_axes, {})(batched);
      eval(got);
    } catch (const std::exception& e) {
      fails.add(c.op, where.str() + e.what());
      return;
    }
    for (size_t k = 0; k < got.size(); ++k) {
      array want = stack({per_entry[0][k], per_entry[1][k]}, 0);
      if (got[k].dtype() != want.dtype()) {
        std::ostringstream os;
        os << where.str() << "output " << k << " dtype " << got[k].dtype() << " != " << want.dtype();
        fails.add(c.op, os.str());
        return;
      }
      std::string diff = compare(got[k], want, c.rtol, c.atol);
      if (!diff.empty()) {
        fails.add(c.op, where.str() + "output " + std::to_string(k) + ":\n" + diff);
        return;
      }
    }
  };
  // Every axis position of every input; large cases (whose rules are the same as the small
  // ones') only batch on the first and last positions, to keep the suite fast.
  size_t total = 0;
  for (auto& xi : x) total += xi.size();
  bool large = total > 16384;
  for (size_t i = 0; i < x.size(); ++i) {
    for (int ax = 0; ax <= int(x[i].ndim()); ++ax) {
      if (large && ax != 0 && ax != int(x[i].ndim())) continue;
      std::vector<int> axes(x.size(), -1);
      axes[i] = ax;
      run(axes);
    }
  }
  if (x.size() > 1) run(std::vector<int>(x.size(), 0));
}

TEST(TransformsRegistry, VjpJvpAgainstFiniteDifferences) {
  const auto& fx = fixtures();
  if (!fx.skip_reason.empty()) GTEST_SKIP() << fx.skip_reason;
  Failures first, second;
  for (auto& c : cases()) check_derivatives(c, first, second);
  first.report("vjp/jvp vs finite differences");
  second.report("second derivatives vs finite differences");
}

TEST(TransformsRegistry, VmapAgainstLoop) {
  const auto& fx = fixtures();
  if (!fx.skip_reason.empty()) GTEST_SKIP() << fx.skip_reason;
  Failures fails;
  for (auto& c : cases()) check_vmap(c, fails);
  fails.report("vmap vs loop");
}

}  // namespace
}  // namespace tessera::testing
