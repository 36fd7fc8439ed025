// Direct checks of the indexing and sort transform rules on small hand-computed cases (the
// registry test covers the NumPy cases): repeated indices accumulate, sorts route cotangents
// through their permutation, and vmap batches operands and indices independently.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tessera/tessera.h"

using namespace tessera;

namespace {

std::vector<double> values(const array& a) {
  array f = astype(a, float64);
  eval(f);
  std::vector<double> out(f.size());
  array c = reshape(f, {int(f.size())});
  eval(c);
  for (size_t i = 0; i < out.size(); ++i) out[i] = take(c, int(i)).item<double>();
  return out;
}

void expect_values(const array& a, const std::vector<double>& want) {
  auto got = values(a);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-9) << "element " << i;
}

void expect_equal(const array& got, const array& want) {
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_TRUE(array_equal(got, want).item<bool>());
}

array f64(const std::vector<double>& v, Shape shape) { return array(v.begin(), std::move(shape), float64); }
array i32(const std::vector<int>& v, Shape shape) { return array(v.begin(), std::move(shape), int32); }

}  // namespace

TEST(IndexingTransforms, TakeGradAccumulatesRepeatedIndices) {
  array x = f64({1, 2, 3, 4}, {4});
  array idx = i32({0, 2, 0, 0, -1}, {5});
  array w = f64({1, 10, 100, 1000, 7}, {5});
  auto g = grad([&](const std::vector<array>& in) { return sum(multiply(take(in[0], idx, 0), w)); })({x});
  expect_values(g[0], {1101, 0, 10, 7});
}

TEST(IndexingTransforms, TakeAlongAxisGradAccumulatesRepeatedIndices) {
  array x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  array idx = i32({2, 2, 0, 1, 1, 1}, {2, 3});
  auto g = grad([&](const std::vector<array>& in) { return sum(take_along_axis(in[0], idx, 1)); })({x});
  expect_values(g[0], {1, 0, 2, 0, 3, 0});
}

TEST(IndexingTransforms, SortGradFollowsPermutation) {
  array x = f64({3, 1, 2, 0.5, 9, 4}, {2, 3});
  array w = f64({1, 10, 100, 1, 10, 100}, {2, 3});
  auto g = grad([&](const std::vector<array>& in) { return sum(multiply(sort(in[0], 1), w)); })({x});
  // Row 0 sorts to [1, 2, 3] from positions [1, 2, 0]; row 1 to [0.5, 4, 9] from [0, 2, 1].
  expect_values(g[0], {100, 1, 10, 1, 100, 10});
  auto t = jvp([](const array& a) { return sort(a, 1); }, x, f64({1, 2, 3, 4, 5, 6}, {2, 3}));
  expect_values(t.second, {2, 3, 1, 4, 6, 5});
}

TEST(IndexingTransforms, PartitionGradFollowsPermutation) {
  array x = f64({5, 1, 4, 2, 3}, {5});
  auto g = grad([&](const std::vector<array>& in) {
    array p = partition(in[0], 2);
    return sum(multiply(slice(p, {0}, {3}), f64({1, 1, 10}, {3})));  // the kth element weighs 10
  })({x});
  expect_values(g[0], {0, 1, 0, 1, 10});
}

TEST(IndexingTransforms, VmapTakeWithOnlyIndicesBatched) {
  array a = f64({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
  array idx = i32({3, 0, 1, 1, 2, 3, -1, 0}, {2, 4});  // two batch entries along axis 1 below
  array idx_t = transpose(idx);                        // [4, 2], batch axis 1
  auto fn = [](const std::vector<array>& in) { return std::vector<array>{take(in[0], in[1], 0)}; };
  auto got = vmap(fn, {-1, 1}, {0})({a, idx_t})[0];
  array want = stack({take(a, take(idx, 0, 0), 0), take(a, take(idx, 1, 0), 0)}, 0);
  expect_equal(got, want);
}

TEST(IndexingTransforms, VmapGatherWithOperandAndIndicesBatched) {
  array a = reshape(arange(0.0, 24.0, 1.0, float64), {2, 3, 4});  // batch axis 0
  array idx = i32({2, 0, 1, 1}, {2, 2});                          // batch axis 1
  auto fn = [](const std::vector<array>& in) {
    return std::vector<array>{gather(in[0], in[1], 1, {3, 2})};
  };
  auto got = vmap(fn, {0, 1}, {0})({a, idx})[0];
  array want = stack({gather(take(a, 0, 0), take(idx, 0, 1), 1, {3, 2}), gather(take(a, 1, 0), take(idx, 1, 1), 1, {3, 2})}, 0);
  expect_equal(got, want);
}

TEST(IndexingTransforms, ScatterAddGradWithRespectToUpdates) {
  array a = zeros({5, 2}, float64);
  array idx = i32({0, 3, 0}, {3});
  array upd = f64({1, 2, 3, 4, 5, 6}, {3, 1, 2});
  array w = f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 2});
  auto g = grad(
      [&](const std::vector<array>& in) { return sum(multiply(scatter_add(in[0], idx, in[1], 0), w)); },
      std::vector<int>{0, 1})({a, upd});
  expect_values(g[0], {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  // Each update reads the weight of the row it lands on.
  expect_values(g[1], {1, 2, 7, 8, 1, 2});
}

TEST(IndexingTransforms, ScatterSetGradGoesToTheLastWriter) {
  array a = f64({1, 2, 3, 4}, {4});
  array idx = i32({1, 1, 2}, {3});
  array upd = f64({10, 20, 30}, {3, 1});
  auto g = grad([&](const std::vector<array>& in) { return sum(multiply(scatter(in[0], idx, in[1], 0), in[0])); },
                std::vector<int>{1})({a, upd});
  // Only the second write to position 1 survives.
  expect_values(g[0], {0, 2, 3});
}

TEST(IndexingTransforms, ScatterProdGradWithZeroUpdate) {
  array a = f64({2, 3}, {2});
  array idx = i32({0, 0, 0}, {3});
  array upd = f64({0, 5, 7}, {3, 1});
  auto g = grad([&](const std::vector<array>& in) { return sum(scatter_prod(in[0], idx, in[1], 0)); },
                std::vector<int>{0, 1})({a, upd});
  expect_values(g[0], {0, 1});
  expect_values(g[1], {2 * 5 * 7, 0, 0});
}

TEST(IndexingTransforms, ScatterMaxGradSplitsTies) {
  array a = f64({1, 9}, {2});
  array idx = i32({0, 0, 1}, {3});
  array upd = f64({4, 4, 3}, {3, 1});
  auto g = grad([&](const std::vector<array>& in) { return sum(scatter_max(in[0], idx, in[1], 0)); },
                std::vector<int>{0, 1})({a, upd});
  expect_values(g[0], {0, 1});
  expect_values(g[1], {0.5, 0.5, 0});
}

TEST(IndexingTransforms, VmapScatterWithBatchedIndices) {
  array a = zeros({2, 4}, float64);       // batch axis 0
  array idx = i32({3, 0, 1, 1}, {2, 2});  // batch axis 0
  array upd = f64({1, 2, 3, 4}, {2, 1});  // unbatched: [idx=2, slice=1]
  auto fn = [](const std::vector<array>& in) { return std::vector<array>{scatter_add(in[0], in[1], in[2], 0)}; };
  auto got = vmap(fn, {0, 0, -1}, {0})({a, idx, reshape(upd, {2, 1})})[0];
  expect_values(got, {2, 0, 0, 1, 0, 3, 0, 0});
}

TEST(IndexingTransforms, VmapMaskedScatterRestartsSourcePerEntry) {
  array a = zeros({2, 3}, float64);
  array mask = array({true, false, true, false, true, true}, {2, 3});
  array src = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  auto fn = [](const std::vector<array>& in) { return std::vector<array>{masked_scatter(in[0], in[1], in[2])}; };
  auto got = vmap(fn, {0, 0, 0}, {0})({a, mask, src})[0];
  expect_values(got, {1, 0, 2, 0, 4, 5});
}

TEST(IndexingTransforms, VmapSearchSortedOverSortedRows) {
  array rows = array({1.f, 2.f, 2.f, 5.f, NAN, -1.f, 0.f, 3.f, 3.f, 3.f}, {2, 5});
  array v = array({2.f, NAN, 6.f, 3.f}, {4});
  for (bool right : {false, true}) {
    auto fn = [right](const std::vector<array>& in) { return std::vector<array>{searchsorted(in[0], in[1], right)}; };
    auto got = vmap(fn, {0, -1}, {0})({rows, v})[0];
    array want = stack({searchsorted(take(rows, 0, 0), v, right), searchsorted(take(rows, 1, 0), v, right)}, 0);
    expect_equal(got, want);
  }
}

TEST(IndexingTransforms, SecondDerivativeOfTake) {
  array x = f64({1, 2, 3}, {3});
  array idx = i32({0, 0, 2}, {3});
  // d/dx sum(take(x)^3) = 3 * (hits * x^2); its derivative summed is 6 * hits * x.
  auto g = grad([&](const std::vector<array>& in) {
    auto inner = grad([&](const std::vector<array>& y) {
      array t = take(y[0], idx, 0);
      return sum(multiply(multiply(t, t), t));
    })(in);
    return sum(inner[0]);
  })({x});
  expect_values(g[0], {12, 0, 18});
}

TEST(IndexingTransforms, VmapOfSortGrad) {
  array xs = f64({3, 1, 2, 2, 9, 4}, {2, 3});
  auto per_row = [](const array& r) {
    auto f = [](const std::vector<array>& in) { return sum(multiply(sort(in[0], 0), arange(1.0, 4.0, 1.0, float64))); };
    return grad(f)({r})[0];
  };
  expect_values(vmap(per_row, 0, 0)(xs), {3, 1, 2, 1, 3, 2});
}
