// Direct checks of the layout primitives' rules that the registry sweep cannot see: composed
// views, out_axes other than 0, nested vmap, unbatched operands mixed with batched ones,
// overlapping as_strided windows, ties in slice_update max, and second derivatives.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.h"

using namespace tessera;

namespace {

std::vector<double> values(const array& a) {
  array d = contiguous(astype(a, float64));
  eval(d);
  return std::vector<double>(d.data<double>(), d.data<double>() + d.size());
}

void expect_same(const array& got, const array& want, double tol = 1e-12) {
  ASSERT_EQ(got.shape(), want.shape());
  auto g = values(got), w = values(want);
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], tol) << "at " << i;
}

// Distinct values, so a misplaced element shows.
array iota(const Shape& shape, double scale = 1.0) {
  size_t n = 1;
  for (int d : shape) n *= size_t(d);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (double(i) + 0.5 * double(i % 3));
  return array(v.begin(), shape, float64);
}

using Fn1 = std::function<array(const array&)>;

}  // namespace

TEST(ShapeTransforms, VjpOfTransposeOfBroadcast) {
  // y[k, a, i] = x[i, 0]: each x[i] receives the sum of the cotangent over a and k.
  auto f = [](const array& x) { return transpose(broadcast_to(x, {2, 3, 4}), {2, 0, 1}); };
  array x = iota({3, 1});
  array cot = iota({4, 2, 3}, 0.25);
  auto [y, g] = vjp(Fn1(f), x, cot);
  expect_same(y, transpose(broadcast_to(x, {2, 3, 4}), {2, 0, 1}));
  expect_same(g, reshape(sum(cot, std::vector<int>{0, 1}), {3, 1}));
  // The forward derivative is the map itself (it is linear).
  array t = iota({3, 1}, -0.5);
  auto [y2, jt] = jvp(Fn1(f), x, t);
  expect_same(jt, f(t));
}

TEST(ShapeTransforms, VmapWithOutAxesOtherThanZero) {
  // Batch along input axis 1, result batch along output axis 2.
  auto f = [](const array& x) { return slice(transpose(x), {3, 0}, {-6, 2}, {-2, 1}); };  // x: (3, 5)
  array xs = iota({3, 4, 5});
  array got = vmap(Fn1(f), 1, 2)(xs);
  std::vector<array> loop;
  for (int b = 0; b < 4; ++b) loop.push_back(f(take(xs, b, 1)));
  expect_same(got, stack(loop, 2));
  // A negative out axis counts from the end.
  expect_same(vmap(Fn1(f), 1, -1)(xs), stack(loop, 2));
}

TEST(ShapeTransforms, NestedVmapOfReshapeAndSlice) {
  auto f = [](const array& x) {  // x: (6,)
    array m = reshape(x, {2, 3});
    return slice(m, {1, 2}, {-3, -4}, {-1, -2});  // rows reversed, every other column reversed
  };
  array xs = iota({4, 6, 5});  // outer batch on axis 2, inner on axis 0
  auto inner = vmap(Fn1(f), 0, 1);
  auto outer = vmap(Fn1(inner), 2, 0);
  array got = outer(xs);
  std::vector<array> rows;
  for (int o = 0; o < 5; ++o) {
    std::vector<array> cols;
    for (int i = 0; i < 4; ++i) cols.push_back(f(take(take(xs, o, 2), i, 0)));
    rows.push_back(stack(cols, 1));
  }
  expect_same(got, stack(rows, 0));
}

TEST(ShapeTransforms, VmapMixesBatchedAndUnbatchedOperands) {
  array fixed = iota({2, 3});
  array xs = iota({3, 4, 3}, 0.5);  // batch along axis 1
  auto cat = [&](const std::vector<array>& in) { return std::vector<array>{concatenate({in[0], in[1]}, 0)}; };
  array got = vmap(cat, {-1, 1}, {0})({fixed, xs})[0];
  std::vector<array> loop;
  for (int b = 0; b < 4; ++b) loop.push_back(concatenate({fixed, take(xs, b, 1)}, 0));
  expect_same(got, stack(loop, 0));

  // slice_update: unbatched source, batched update (batch along update axis 1).
  array src = iota({4, 5});
  array upds = iota({2, 3, 3}, -1.0);
  auto upd = [&](const std::vector<array>& in) {
    return std::vector<array>{slice_update(in[0], in[1], {3, 0}, {-5, 5}, {-2, 2})};
  };
  got = vmap(upd, {-1, 1}, {0})({src, upds})[0];
  loop.clear();
  for (int b = 0; b < 3; ++b) loop.push_back(slice_update(src, take(upds, b, 1), {3, 0}, {-5, 5}, {-2, 2}));
  expect_same(got, stack(loop, 0));

  // And batched source with an unbatched update.
  array srcs = iota({4, 2, 5});
  array one = iota({2, 3}, 7.0);
  got = vmap(upd, {1, -1}, {0})({srcs, one})[0];
  loop.clear();
  for (int b = 0; b < 2; ++b) loop.push_back(slice_update(take(srcs, b, 1), one, {3, 0}, {-5, 5}, {-2, 2}));
  expect_same(got, stack(loop, 0));
}

TEST(ShapeTransforms, VmapOfPadWithBatchedPadValue) {
  array x = iota({2, 3});
  array vals = array({-1.0, -2.0, -3.0}, {3}, float64);
  const std::vector<std::pair<int, int>> width{{1, 0}, {2, 1}};
  auto f = [&](const std::vector<array>& in) { return std::vector<array>{pad(in[0], width, in[1])}; };
  array got = vmap(f, {-1, 0}, {1})({x, vals})[0];
  std::vector<array> loop;
  for (int b = 0; b < 3; ++b) loop.push_back(pad(x, width, take(vals, b, 0)));
  expect_same(got, stack(loop, 1));
}

TEST(ShapeTransforms, PadValueGetsACotangent) {
  // sum(pad(x, 1, v)^2): d/dv = 2 v * (number of padded cells); d/dx = 2 x.
  auto f = [](const std::vector<array>& in) { return sum(square(pad(in[0], 1, in[1]))); };
  array x = iota({2, 3});
  array v = array(1.5, float64);
  auto g = grad(f, std::vector<int>{0, 1})({x, v});
  expect_same(g[0], multiply(x, array(2.0)));
  EXPECT_NEAR(g[1].item<double>(), 2 * 1.5 * (4 * 5 - 2 * 3), 1e-12);
}

TEST(ShapeTransforms, AsStridedVjpAddsOverlappingWindows) {
  // Windows of 4 with step 2 over 12 elements: element i is read by every window covering it.
  auto f = [](const array& x) { return as_strided(x, {5, 4}, {2, 1}, 0); };
  array x = iota({12});
  auto [y, g] = vjp(Fn1(f), x, ones({5, 4}, float64));
  std::vector<double> want(12, 0.0);
  for (int w = 0; w < 5; ++w)
    for (int k = 0; k < 4; ++k) want[size_t(2 * w + k)] += 1;
  expect_same(g, array(want.begin(), {12}, float64));
  // Batched over a non-leading axis, each entry uses its own base.
  array xs = iota({12, 3});
  array got = vmap(Fn1(f), 1, 0)(xs);
  std::vector<array> loop;
  for (int b = 0; b < 3; ++b) loop.push_back(f(take(xs, b, 1)));
  expect_same(got, stack(loop, 0));
}

TEST(ShapeTransforms, SliceUpdateModes) {
  array src = array({1.0, 5.0, 2.0, 7.0}, {4}, float64);
  array upd = array({3.0, 2.0}, {2}, float64);  // region 0:4:2 holds {1, 2}: max keeps {3, 2 (tie)}
  auto run = [](std::string mode) {
    return [mode](const std::vector<array>& in) {
      array out = mode == "add"    ? slice_update_add(in[0], in[1], {0}, {4}, {2})
                  : mode == "prod" ? slice_update_prod(in[0], in[1], {0}, {4}, {2})
                  : mode == "max"  ? slice_update_max(in[0], in[1], {0}, {4}, {2})
                  : mode == "min"  ? slice_update_min(in[0], in[1], {0}, {4}, {2})
                                   : slice_update(in[0], in[1], {0}, {4}, {2});
      return sum(square(out));
    };
  };
  auto g = grad(run("set"), std::vector<int>{0, 1})({src, upd});
  expect_same(g[0], array({0.0, 10.0, 0.0, 14.0}, {4}, float64));
  expect_same(g[1], array({6.0, 4.0}, {2}, float64));
  g = grad(run("add"), std::vector<int>{0, 1})({src, upd});
  expect_same(g[0], array({8.0, 10.0, 8.0, 14.0}, {4}, float64));
  expect_same(g[1], array({8.0, 8.0}, {2}, float64));
  // out = {3, 5, 4, 7}; d/dsrc = 2 out * upd inside, d/dupd = 2 out * src.
  g = grad(run("prod"), std::vector<int>{0, 1})({src, upd});
  expect_same(g[0], array({18.0, 10.0, 16.0, 14.0}, {4}, float64));
  expect_same(g[1], array({6.0, 16.0}, {2}, float64));
  // Max: update wins at 0, the tie at 2 goes to the source.
  g = grad(run("max"), std::vector<int>{0, 1})({src, upd});
  expect_same(g[0], array({0.0, 10.0, 4.0, 14.0}, {4}, float64));
  expect_same(g[1], array({6.0, 0.0}, {2}, float64));
  // Min: source wins at 0 and the tie at 2.
  g = grad(run("min"), std::vector<int>{0, 1})({src, upd});
  expect_same(g[0], array({2.0, 10.0, 4.0, 14.0}, {4}, float64));
  expect_same(g[1], array({0.0, 0.0}, {2}, float64));
}

// f = sum(L(x)^3) with L repeating every element twice: f = 2 sum(x^3), so
// d/dx <grad f, v> = 12 x v.
array cube_of_layouts(const array& x) {
  array t = tile(reshape(x, {2, 3}), {2, 1});
  array l = concatenate({slice(t, {0, 0}, {4, 3}, {2, 1}),
                         pad(flip(slice(t, {1, 0}, {4, 3}, {2, 1}), 1), std::vector<int>{1}, Shape{1}, Shape{0})},
                        1);
  return sum(power(l, array(3.0)));
}

TEST(ShapeTransforms, SecondDerivativesThroughLayouts) {
  // The input is a lazy expression here; SecondDerivativesOfAnEvaluatedInput covers the
  // already-computed case, which goes through a different path of the drivers.
  array x = multiply(iota({6}, 0.1), array(1.0));
  array v = iota({6}, -0.3);
  auto hv = grad(Fn1([&](const array& y) { return sum(multiply(grad(Fn1(cube_of_layouts))(y), v)); }));
  expect_same(hv(x), multiply(multiply(x, v), array(12.0)), 1e-10);
  // vmap of the gradient agrees with a loop.
  array xs = iota({3, 6}, 0.2);
  array got = vmap(grad(Fn1(cube_of_layouts)), 0, 0)(xs);
  std::vector<array> loop;
  for (int b = 0; b < 3; ++b) loop.push_back(grad(Fn1(cube_of_layouts))(take(xs, b, 0)));
  expect_same(got, stack(loop, 0), 1e-10);
}

TEST(ShapeTransforms, SecondDerivativesOfAnEvaluatedInput) {
  array x = iota({6}, 0.1);
  eval(x);
  array v = iota({6}, -0.3);
  auto hv = grad(Fn1([&](const array& y) { return sum(multiply(grad(Fn1(cube_of_layouts))(y), v)); }));
  expect_same(hv(x), multiply(multiply(x, v), array(12.0)), 1e-10);
}
