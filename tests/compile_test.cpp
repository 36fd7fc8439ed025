// compile: results against the uncompiled function (bit for bit where the kernels do the same
// math), trace caching and shapeless replay, simplification and fusion as seen in the compiled
// graph, composition with grad and vmap, the compile switches and graph export.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/eval_stats.h"
#include "primitives/compiled.h"
#include "tessera/tessera.h"
#include "transforms/compile_graph.h"

namespace tessera {
namespace {

using Fn = std::function<std::vector<array>(const std::vector<array>&)>;

const detail::CompiledFunction& info(const Fn& f) {
  auto* c = f.target<detail::CompiledFunction>();
  if (!c) throw std::logic_error("not a compiled function");
  return *c;
}

// Kinds of the nodes of the graph the compiled function replayed last.
std::vector<PrimitiveKind> kinds(const Fn& f) {
  std::vector<PrimitiveKind> k;
  for (auto& n : info(f).last_graph()->nodes) k.push_back(n.prim->kind());
  return k;
}

int count_kind(const Fn& f, PrimitiveKind kind) {
  int c = 0;
  for (auto k : kinds(f)) c += k == kind;
  return c;
}

array uniform(const Shape& shape, double lo, double hi, uint64_t seed, Dtype dtype = float32) {
  return astype(random::uniform(array(lo), array(hi), shape, float32, random::key(seed)), dtype);
}

// Float32 values one ulp apart differ by one in this ordering.
int64_t ordered(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i < 0 ? int64_t(INT32_MIN) - i : i;
}

// Largest distance in ulps between two float arrays of the same shape (compared as float32;
// NaNs must match). 0 means bit-identical.
int64_t max_ulps(array got, array want) {
  EXPECT_EQ(got.shape(), want.shape());
  EXPECT_EQ(got.dtype(), want.dtype());
  got = astype(got, float32) + array(0.0f);  // row-contiguous copies
  want = astype(want, float32) + array(0.0f);
  eval(got, want);
  int64_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    float g = got.data<float>()[i], w = want.data<float>()[i];
    if (std::isnan(g) || std::isnan(w)) {
      if (std::isnan(g) != std::isnan(w)) return INT64_MAX;
      continue;
    }
    worst = std::max(worst, std::abs(ordered(g) - ordered(w)));
  }
  return worst;
}

// Largest |got - want| / (atol + |want|): at most 1 when every element is within tolerance.
double max_err(array got, array want, double rtol, double atol) {
  EXPECT_EQ(got.shape(), want.shape());
  got = astype(got, float64);
  want = astype(want, float64);
  eval(got, want);
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got.data<double>()[i], w = want.data<double>()[i];
    worst = std::max(worst, std::fabs(g - w) / (atol + rtol * std::fabs(w)));
  }
  return worst;
}

// Exact comparison of the stored values (bools, halves and floats).
bool identical(array got, array want) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) return false;
  array g = astype(got, float64), w = astype(want, float64);
  eval(g, w);
  return std::memcmp(g.data<double>(), w.data<double>(), g.nbytes()) == 0;
}

uint64_t compiled_runs() { return kernel_run_count(Device::cpu, PrimitiveKind::Compiled); }

std::vector<array> chain5(const std::vector<array>& in) {
  const array& x = in[0];
  return {exp(2.0f * x + 1.0f) * x - 0.5f};
}

TEST(Compile, Chain5IsOneFusedKernelAndBitIdentical) {
  auto f = compile(chain5);
  // Sizes below and above the threading threshold, with ragged block tails.
  for (Shape shape : {Shape{1}, Shape{37}, Shape{3, 1000}, Shape{100003}, Shape{7, 50001}}) {
    array x = uniform(shape, -3, 3, 7);
    uint64_t before = compiled_runs();
    array got = f({x})[0];
    eval(got);
    EXPECT_EQ(compiled_runs(), before + 1);
    EXPECT_TRUE(identical(got, chain5({x})[0])) << "shape " << shape.size() << " max ulps "
                                                 << max_ulps(got, chain5({x})[0]);
  }
  EXPECT_EQ(kinds(f), std::vector<PrimitiveKind>{PrimitiveKind::Compiled});
  EXPECT_EQ(info(f).trace_count(), 5);
}

TEST(Compile, BroadcastOperandsAreReadInPlace) {
  auto fn = [](const std::vector<array>& in) {
    const array &x = in[0], &row = in[1], &col = in[2];
    return std::vector<array>{tanh(x * row + col) * 0.5f - sigmoid(x) / (col + 3.0f)};
  };
  auto f = compile(fn);
  // Long rows (blocks within a row: the row vector by pointer, the column as a scalar) and short
  // rows (several rows to a block).
  for (auto [m, n] : {std::pair{300, 700}, std::pair{5000, 3}, std::pair{2, 5000}}) {
    array x = uniform({m, n}, -2, 2, 1);
    array row = uniform({n}, -1, 1, 2);
    array col = uniform({m, 1}, 0, 1, 3);
    array got = f({x, row, col})[0];
    EXPECT_EQ(count_kind(f, PrimitiveKind::Compiled), 1);
    EXPECT_TRUE(identical(got, fn({x, row, col})[0])) << m << "x" << n << " ulps " << max_ulps(got, fn({x, row, col})[0]);
  }
  // A transposed input is gathered; the unfused kernel takes its scalar path there (libm
  // sigmoid instead of the SIMD one), so allow the SIMD kernels' documented error.
  array xt = transpose(uniform({700, 300}, -2, 2, 4));
  array row = uniform({700}, -1, 1, 5), col = uniform({300, 1}, 0, 1, 6);
  EXPECT_LE(max_err(f({xt, row, col})[0], fn({xt, row, col})[0], 1e-6, 1e-7), 1.0);
}

TEST(Compile, HalfPrecisionChainsRoundLikeTheUnfusedOps) {
  auto fn = [](const std::vector<array>& in) {
    const array& x = in[0];
    return std::vector<array>{exp(x * 2.0f) * x + astype(x, float32)};
  };
  for (Dtype d : {float16, bfloat16}) {
    auto g = [d](const std::vector<array>& in) {
      const array& x = in[0];
      array two = astype(array(2.0f), d);
      return std::vector<array>{astype(exp(x * two) * x - sqrt(abs(x)), float32), exp(x) * x};
    };
    auto f = compile(g);
    array x = uniform({4099}, -2, 2, 11, d);
    auto got = f({x});
    auto want = g({x});
    EXPECT_TRUE(identical(got[0], want[0])) << d << " ulps " << max_ulps(got[0], want[0]);
    EXPECT_TRUE(identical(got[1], want[1])) << d;
    EXPECT_EQ(count_kind(f, PrimitiveKind::Compiled), 2);
  }
  auto f = compile(fn);
  array x = uniform({1000}, -2, 2, 12, float16);
  EXPECT_TRUE(identical(f({x})[0], fn({x})[0]));
}

// The fused kernel runs a float32 product feeding a sum as one step; it must still round the
// product first (the separate kernels' bits, not an FMA's), with rows, broadcast rows and
// columns, single values and every operand order.
TEST(Compile, ProductsFeedingSumsRoundLikeTheSeparateOps) {
  auto fn = [](const std::vector<array>& in) {
    const array &x = in[0], &y = in[1], &row = in[2], &col = in[3], &s = in[4], &t = in[5];
    array p = x * y;
    return std::vector<array>{
        x * row + col,             // row and column operands
        col - x * y,               // the sum's first operand is not the product
        3.0f * x - y,              // single value times a row
        s * t + x,                 // a product of two single values, a row added
        x * x + x,                 // one value in every operand
        p + p * 2.0f,              // a product used twice stays its own step
        exp(x * 0.5f - 1.0f) * y - t,
        s * t - col,               // single values feeding a column
    };
  };
  auto f = compile(fn);
  for (auto [m, n] : {std::pair{1, 37}, std::pair{3, 1000}, std::pair{2, 70001}, std::pair{5000, 3}}) {
    array x = uniform({m, n}, -3, 3, 41), y = uniform({m, n}, -3, 3, 42);
    array row = uniform({n}, -2, 2, 43), col = uniform({m, 1}, -2, 2, 44);
    array s = uniform({}, 0.1, 2, 45), t = uniform({}, -1, 1, 46);
    auto got = f({x, y, row, col, s, t});
    auto want = fn({x, y, row, col, s, t});
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(identical(got[i], want[i])) << m << "x" << n << " output " << i << " ulps "
                                              << max_ulps(got[i], want[i]);
    }
  }
  // All operands single values: the whole output is one value.
  auto g = compile([](const std::vector<array>& in) { return std::vector<array>{in[0] * in[1] - in[2]}; });
  array a = uniform({}, -2, 2, 47), b = uniform({}, -2, 2, 48), c = uniform({}, -2, 2, 49);
  EXPECT_TRUE(identical(g({a, b, c})[0], a * b - c));
  EXPECT_TRUE(identical(g({broadcast_to(a, {4, 300}), b, c})[0], broadcast_to(a, {4, 300}) * b - c));
}

TEST(Compile, SelectsComparisonsAndBoolOutputs) {
  auto fn = [](const std::vector<array>& in) {
    const array& x = in[0];
    array relu = where(x > 0.0f, x, 0.1f * x) + astype(x > 0.5f, float32);
    array mask = logical_and(exp(x) > 2.0f, x < 1.5f) || isnan(x);
    return std::vector<array>{relu, mask, maximum(x, array(0.0f)) * minimum(x, array(1.0f))};
  };
  auto f = compile(fn);
  array x = uniform({3, 10007}, -3, 3, 21);
  auto got = f({x});
  auto want = fn({x});
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(identical(got[i], want[i])) << "output " << i;
  EXPECT_EQ(count_kind(f, PrimitiveKind::Compiled), 3);
}

TEST(Compile, OpsWithoutSimdKernelsUseTheScalarOps) {
  auto fn = [](const std::vector<array>& in) {
    const array &x = in[0], &y = in[1];
    return std::vector<array>{erf(x) * power(abs(y) + 1.0f, x) + remainder(x, y + 4.0f) + arctan2(x, y)};
  };
  auto f = compile(fn);
  array x = uniform({20000}, -2, 2, 31), y = uniform({20000}, -2, 2, 32);
  EXPECT_TRUE(identical(f({x, y})[0], fn({x, y})[0]));
}

TEST(Compile, ScalarEmptyAndUnitShapes) {
  auto f = compile(chain5);
  for (Shape shape : {Shape{}, Shape{0}, Shape{4, 0, 3}, Shape{1, 1, 1}, Shape{1, 5000, 1}}) {
    array x = uniform(shape, -1, 1, 13);
    array got = f({x})[0];
    EXPECT_EQ(got.shape(), shape);
    EXPECT_TRUE(identical(got, chain5({x})[0]));
  }
}

TEST(Compile, OtherDtypesAreNotFused) {
  auto fn = [](const std::vector<array>& in) { return std::vector<array>{(in[0] * 3 + 1) * in[0] - 2}; };
  auto f = compile(fn);
  for (Dtype d : {int32, float64}) {
    array x = astype(uniform({100}, -10, 10, 14), d);
    EXPECT_TRUE(identical(f({x})[0], fn({x})[0])) << d;
    EXPECT_EQ(count_kind(f, PrimitiveKind::Compiled), 0) << d;
  }
}

TEST(Compile, KernelFallsBackToTheDecomposition) {
  // A Compiled node over float64, which fusion never makes and the CPU kernel does not run:
  // the kernel evaluates the decomposition instead.
  auto fn = [](const std::vector<array>& in) { return std::vector<array>{exp(in[0]) * in[0]}; };
  auto graph = std::make_shared<detail::CompiledGraph>(detail::trace_graph(fn, {Shape{50}}, {float64}));
  ASSERT_TRUE(graph->constants.empty());
  array x = astype(uniform({50}, -1, 1, 15), float64);
  array y(Shape{50}, float64, std::make_shared<Compiled>(default_stream(Device::cpu), graph), {x});
  EXPECT_TRUE(identical(y, fn({x})[0]));
}

TEST(Compile, RecompilesOnlyWhenTheSignatureChanges) {
  int calls = 0;
  auto f = compile([&calls](const std::vector<array>& in) {
    calls++;
    return std::vector<array>{in[0] * in[0] + 1.0f};
  });
  array a = uniform({4, 5}, -1, 1, 1), b = uniform({4, 5}, -1, 1, 2);
  f({a});
  f({b});
  f({a});
  EXPECT_EQ(info(f).trace_count(), 1);
  EXPECT_EQ(calls, 1);
  f({uniform({5, 4}, -1, 1, 3)});  // new shape
  EXPECT_EQ(info(f).trace_count(), 2);
  f({astype(a, float16)});  // new dtype
  EXPECT_EQ(info(f).trace_count(), 3);
  f({b});  // cached
  f({a, b});  // new arity (the function ignores the second input)
  EXPECT_EQ(info(f).trace_count(), 4);
  EXPECT_EQ(info(f).cache_size(), 4u);
  // Copies of the compiled function share its cache.
  auto g = f;
  g({a});
  EXPECT_EQ(info(f).trace_count(), 4);
  EXPECT_EQ(calls, 4);
}

TEST(Compile, ShapelessReusesOneTraceAcrossShapes) {
  auto fn = [](const std::vector<array>& in) {
    const array &x = in[0], &b = in[1];
    array y = exp(2.0f * x + 1.0f) * b - 0.5f;
    return std::vector<array>{y, sum(y * y, -1), matmul(x, swapaxes(x, -1, -2))};
  };
  auto f = compile(fn, /*shapeless=*/true);
  for (auto [m, n] : {std::pair{3, 4}, std::pair{5, 7}, std::pair{1, 9}, std::pair{64, 1000}}) {
    array x = uniform({m, n}, -1, 1, 41), b = uniform({n}, -1, 1, 42);
    auto got = f({x, b});
    auto want = fn({x, b});
    ASSERT_EQ(got[0].shape(), (Shape{m, n}));
    ASSERT_EQ(got[1].shape(), (Shape{m}));
    ASSERT_EQ(got[2].shape(), (Shape{m, m}));
    EXPECT_TRUE(identical(got[0], want[0]));
    EXPECT_LE(max_ulps(got[1], want[1]), 4);
    EXPECT_LE(max_ulps(got[2], want[2]), 4);
  }
  EXPECT_EQ(info(f).trace_count(), 1);
  // A new rank is a new signature.
  f({uniform({2, 3, 4}, -1, 1, 43), uniform({4}, -1, 1, 44)});
  EXPECT_EQ(info(f).trace_count(), 2);
}

TEST(Compile, ShapelessRefusesOpsThatFixAShape) {
  auto f = compile([](const std::vector<array>& in) { return std::vector<array>{reshape(in[0], {2, 6}) + 1.0f}; },
                   /*shapeless=*/true);
  EXPECT_EQ(f({uniform({12}, 0, 1, 1)})[0].shape(), (Shape{2, 6}));
  try {
    f({uniform({24}, 0, 1, 2)});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("reshape"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("shapeless"), std::string::npos) << e.what();
  }
  // Without shapeless the new shape simply traces again.
  auto g = compile([](const std::vector<array>& in) { return std::vector<array>{reshape(in[0], {2, -1}) + 1.0f}; });
  EXPECT_EQ(g({uniform({24}, 0, 1, 2)})[0].shape(), (Shape{2, 12}));
}

TEST(Compile, CommonSubexpressionsAreMerged) {
  set_compile_mode(CompileMode::no_fuse);
  auto fn = [](const std::vector<array>& in) {
    const array& x = in[0];
    return std::vector<array>{exp(x) * 2.0f + exp(x) * 2.0f, sin(x) + 2.0f};
  };
  auto f = compile(fn);
  array x = uniform({10}, -1, 1, 1);
  auto got = f({x});
  auto want = fn({x});
  EXPECT_TRUE(identical(got[0], want[0]));
  EXPECT_TRUE(identical(got[1], want[1]));
  // exp, the broadcast of the (merged) constant 2, multiply, add, sin, add: one of each
  // repeated subexpression.
  EXPECT_EQ(count_kind(f, PrimitiveKind::Unary), 2);
  EXPECT_EQ(count_kind(f, PrimitiveKind::Broadcast), 1);
  EXPECT_EQ(count_kind(f, PrimitiveKind::Binary), 3);
  EXPECT_EQ(info(f).last_graph()->constants.size(), 1u);
  set_compile_mode(CompileMode::no_simplify);
  auto h = compile(fn);
  h({x});
  EXPECT_EQ(info(h).last_graph()->constants.size(), 3u);
  enable_compile();
}

TEST(Compile, ScansArgReductionsAndPadsAreMerged) {
  auto fn = [](const std::vector<array>& in) {
    const array& x = in[0];
    array scans = add(cumsum(x, 1), cumsum(x, 1));
    array other = cumsum(x, 1, /*reverse=*/true);  // different parameters: kept apart
    array idx = add(argmax(x, 1), argmax(x, 1));
    array padded = add(pad(x, std::vector<int>{1}, Shape{1}, Shape{2}), pad(x, std::vector<int>{1}, Shape{1}, Shape{2}));
    return std::vector<array>{add(scans, other), idx, padded};
  };
  auto f = compile(fn);
  array x = uniform({3, 5}, -1, 1, 1);
  auto got = f({x});
  auto want = fn({x});
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(identical(got[i], want[i])) << "output " << i;
  EXPECT_EQ(count_kind(f, PrimitiveKind::Scan), 2);
  EXPECT_EQ(count_kind(f, PrimitiveKind::ArgReduce), 1);
  EXPECT_EQ(count_kind(f, PrimitiveKind::Pad), 1);
}

TEST(Compile, FusedOpsRangesAndSliceUpdatesAreMerged) {
  auto fn = [](const std::vector<array>& in) {
    const array& x = in[0];  // [1, 2, 4, 8]: batch, heads, positions, head size
    const array& w = in[1];  // [8]
    array norms = add(fast::rms_norm(x, w, 1e-5f), fast::rms_norm(x, w, 1e-5f));
    array other_eps = fast::rms_norm(x, w, 1e-3f);  // different parameters: kept apart
    array rotated = add(fast::rope(x, 8, false, 10000.0f, 1.0f, 0), fast::rope(x, 8, false, 10000.0f, 1.0f, 0));
    array attended = add(fast::scaled_dot_product_attention(x, x, x, 0.35f, "causal"),
                         fast::scaled_dot_product_attention(x, x, x, 0.35f, "causal"));
    array ranges = add(astype(arange(8), float32), astype(arange(8), float32));
    array updated = add(slice_update(x, zeros({1, 2, 1, 8}), Shape{0, 0, 1, 0}, Shape{1, 2, 2, 8}),
                        slice_update(x, zeros({1, 2, 1, 8}), Shape{0, 0, 1, 0}, Shape{1, 2, 2, 8}));
    return std::vector<array>{add(norms, other_eps), rotated, attended, add(ranges, updated)};
  };
  auto f = compile(fn);
  array x = uniform({1, 2, 4, 8}, -1, 1, 3);
  array w = uniform({8}, 0.5, 1.5, 4);
  auto got = f({x, w});
  auto want = fn({x, w});
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(allclose(got[i], want[i], 1e-6, 1e-6).item<bool>()) << "output " << i;
  EXPECT_EQ(count_kind(f, PrimitiveKind::RMSNorm), 2);
  EXPECT_EQ(count_kind(f, PrimitiveKind::RoPE), 1);
  EXPECT_EQ(count_kind(f, PrimitiveKind::ScaledDotProductAttention), 1);
  EXPECT_LE(count_kind(f, PrimitiveKind::Arange), 1);
  EXPECT_EQ(count_kind(f, PrimitiveKind::SliceUpdate), 1);
}

TEST(Compile, ConstantSubgraphsFoldOnce) {
  array w = uniform({64}, -1, 1, 5);
  auto fn = [w](const std::vector<array>& in) {
    array scale = exp(w) * 3.0f + sum(w);  // depends on constants only
    return std::vector<array>{in[0] * scale};
  };
  set_compile_mode(CompileMode::no_fuse);
  auto f = compile(fn);
  array x = uniform({64}, -1, 1, 6);
  eval(x);
  auto got = f({x});
  eval(got);
  EXPECT_EQ(kinds(f), std::vector<PrimitiveKind>{PrimitiveKind::Binary});
  uint64_t unary_before = kernel_run_count(Device::cpu, PrimitiveKind::Unary);
  auto again = f({x});
  eval(again);
  EXPECT_EQ(kernel_run_count(Device::cpu, PrimitiveKind::Unary), unary_before);
  EXPECT_TRUE(identical(again[0], fn({x})[0]));
  enable_compile();
}

TEST(Compile, NoOpReshapesAreRemoved) {
  auto fn = [](const std::vector<array>& in) {
    array x = squeeze(expand_dims(in[0], 0), 0);            // reshape round trip
    array y = reshape(reshape(in[0], {-1}), in[0].shape());  // another one
    return std::vector<array>{x + y};
  };
  set_compile_mode(CompileMode::no_fuse);
  auto f = compile(fn);
  array x = uniform({3, 4}, -1, 1, 8);
  auto got = f({x});
  EXPECT_EQ(kinds(f), std::vector<PrimitiveKind>{PrimitiveKind::Binary});
  EXPECT_TRUE(identical(got[0], fn({x})[0]));
  enable_compile();
}

TEST(Compile, OutputsMayBeInputsConstantsOrSharedIntermediates) {
  array c = uniform({5}, -1, 1, 9);
  auto fn = [c](const std::vector<array>& in) {
    array e = exp(in[0]);
    return std::vector<array>{in[0], c, e, e * 2.0f + 1.0f, in[1] + 0.0f};
  };
  auto f = compile(fn);
  array x = uniform({5}, -1, 1, 10), y = uniform({5}, -1, 1, 11);
  auto got = f({x, y});
  auto want = fn({x, y});
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got[0].id(), x.id());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(identical(got[i], want[i])) << "output " << i;
}

TEST(Compile, EvalWhileTracingIsAnError) {
  auto f = compile([](const std::vector<array>& in) {
    array y = exp(in[0]);
    eval(y);
    return std::vector<array>{y};
  });
  try {
    f({uniform({3}, 0, 1, 1)});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[compile]"), std::string::npos) << e.what();
  }
  auto g = compile([](const std::vector<array>& in) { return std::vector<array>{in[0] * in[0].item<float>()}; });
  EXPECT_THROW(g({array(2.0f)}), std::invalid_argument);
  // Arrays that do not depend on the inputs may be evaluated.
  auto h = compile([](const std::vector<array>& in) {
    array k = ones({3});
    eval(k);
    return std::vector<array>{in[0] + k};
  });
  EXPECT_TRUE(identical(h({zeros({3})})[0], ones({3})));
}

TEST(Compile, DisableCompileMakesCompileAPassThrough) {
  int calls = 0;
  auto f = compile([&calls](const std::vector<array>& in) {
    calls++;
    return chain5(in);
  });
  array x = uniform({100}, -1, 1, 3);
  disable_compile();
  EXPECT_EQ(compile_mode(), CompileMode::disabled);
  uint64_t before = compiled_runs();
  array a = f({x})[0], b = f({x})[0];
  eval(a, b);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(info(f).trace_count(), 0);
  EXPECT_EQ(compiled_runs(), before);
  enable_compile();
  EXPECT_EQ(compile_mode(), CompileMode::enabled);
  f({x});
  f({x});
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(info(f).trace_count(), 1);
}

// Run by the test below in a child process with the environment switch set.
TEST(Compile, EnvironmentSwitchChild) {
  const char* env = std::getenv("TESSERA_DISABLE_COMPILE");
  if (!env || std::string(env) != "1") GTEST_SKIP() << "runs in a child process";
  EXPECT_EQ(compile_mode(), CompileMode::disabled);
  int calls = 0;
  auto f = compile([&calls](const std::vector<array>& in) {
    calls++;
    return chain5(in);
  });
  f({array(1.0f)});
  f({array(1.0f)});
  EXPECT_EQ(calls, 2);
}

TEST(Compile, EnvironmentSwitchDisablesCompile) {
  std::string cmd = "TESSERA_DISABLE_COMPILE=1 /proc/" + std::to_string(::getpid()) +
                    "/exe --gtest_filter=Compile.EnvironmentSwitchChild > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

// f(x) = sum(exp(2x+1) x - 0.5); f'(x) = exp(2x+1) (2x + 1).
array chain5_sum(const std::vector<array>& in) { return sum(chain5(in)[0]); }
array chain5_grad(const array& x) { return exp(2.0f * x + 1.0f) * (2.0f * x + 1.0f); }

TEST(Compile, GradOfCompiledFunction) {
  auto cf = compile(chain5);
  auto df = grad([&cf](const std::vector<array>& in) { return sum(cf(in)[0]); });
  array x = uniform({1000}, -1, 1, 51);
  array got = df({x})[0];
  // The backward pass differentiates the Compiled node's decomposition: the same ops as
  // differentiating the function itself.
  EXPECT_TRUE(identical(got, grad(chain5_sum)({x})[0])) << max_ulps(got, grad(chain5_sum)({x})[0]);
  EXPECT_LE(max_err(got, chain5_grad(x), 1e-5, 1e-6), 1.0);
  auto square_sum = [](const Fn& f) {
    return [f](const std::vector<array>& in) { return sum(f(in)[0] * f(in)[0]); };
  };
  array g2 = grad(square_sum(cf))({x})[0];
  // Here x's cotangent sums four contributions in another order (each Compiled node's vjp adds
  // its own two first).
  EXPECT_LE(max_err(g2, grad(square_sum(chain5))({x})[0], 1e-6, 1e-6), 1.0);
  EXPECT_LE(max_err(g2, 2.0f * chain5({x})[0] * chain5_grad(x), 1e-5, 1e-6), 1.0);
}

TEST(Compile, CompiledGradFunction) {
  auto df = compile(grad(chain5_sum));
  array x = uniform({1000}, -1, 1, 52);
  auto got = df({x});
  array want = grad(chain5_sum)({x})[0];
  EXPECT_TRUE(identical(got[0], want)) << max_ulps(got[0], want);
  EXPECT_LE(max_err(got[0], chain5_grad(x), 1e-5, 1e-6), 1.0);
  EXPECT_GE(count_kind(df, PrimitiveKind::Compiled), 1);
  df({x});
  EXPECT_EQ(info(df).trace_count(), 1);
  // value_and_grad through compile: both outputs, the second call from the cache.
  auto vg = value_and_grad(chain5_sum);
  auto cvg = compile([&vg](const std::vector<array>& in) {
    auto [v, g] = vg(in);
    return std::vector<array>{v, g[0]};
  });
  auto r = cvg({x});
  r = cvg({x});
  EXPECT_EQ(info(cvg).trace_count(), 1);
  EXPECT_LE(max_ulps(r[0], chain5_sum({x})), 4);
  EXPECT_TRUE(identical(r[1], want));
}

TEST(Compile, VmapOfCompiledMatchesALoop) {
  auto cf = compile([](const std::vector<array>& in) { return std::vector<array>{tanh(in[0] * in[1]) + in[1]}; });
  array xs = uniform({4, 6}, -1, 1, 61), w = uniform({6}, -1, 1, 62);
  auto batched = vmap(cf, {0, -1})({xs, w})[0];
  for (int i = 0; i < 4; ++i) {
    array xi = take(xs, array(i), 0);
    EXPECT_LE(max_ulps(take(batched, array(i), 0), cf({xi, w})[0]), 4) << "row " << i;
  }
}

TEST(Compile, NestedCompiledFunctions) {
  auto inner = compile(chain5);
  auto outer = compile([&inner](const std::vector<array>& in) {
    array y = inner(in)[0];
    return std::vector<array>{inner({y})[0] + 1.0f};
  });
  array x = uniform({777}, -1, 1, 71);
  EXPECT_TRUE(identical(outer({x})[0], chain5(chain5({x}))[0] + 1.0f));
}

TEST(Compile, ReferenceBackendRunsTheDecomposition) {
  auto fn = [](const std::vector<array>& in) {
    const array &x = in[0], &b = in[1];
    return std::vector<array>{where(x > b, exp(x) * b, sigmoid(x) - b)};
  };
  array x = uniform({2, 300}, -2, 2, 81), b = uniform({300}, -1, 1, 82);
  array cpu = compile(fn)({x, b})[0];
  eval(cpu);
  EXPECT_TRUE(identical(cpu, fn({x, b})[0]));
  eval(x, b);
  StreamContext ctx(Device::reference);
  auto f = compile(fn);
  uint64_t before = compiled_runs();
  array ref = f({x, b})[0];
  EXPECT_EQ(count_kind(f, PrimitiveKind::Compiled), 1);
  EXPECT_TRUE(identical(ref, fn({x, b})[0]));
  EXPECT_EQ(compiled_runs(), before);  // no kernel there: the decomposition ran
  EXPECT_LE(max_ulps(cpu, ref), 4);
}

TEST(Compile, ExportToDotAndPrintGraphShowTheNodes) {
  auto f = compile(chain5);
  array x = uniform({16}, -1, 1, 91);
  array y = f({x})[0];
  std::ostringstream dot;
  export_to_dot(dot, y);
  EXPECT_EQ(dot.str().rfind("digraph {", 0), 0u) << dot.str();
  EXPECT_NE(dot.str().find("Compiled(multiply, add, exp, multiply, subtract)"), std::string::npos) << dot.str();
  EXPECT_NE(dot.str().find("->"), std::string::npos);
  EXPECT_NE(dot.str().find("constant 2"), std::string::npos) << dot.str();
  std::ostringstream text;
  print_graph(text, chain5({x}));
  EXPECT_NE(text.str().find("= exp("), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("float32 [16]"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("outputs:"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace tessera
