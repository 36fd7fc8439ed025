// The strided-layout helpers every copy and elementwise kernel iterates with: dimension
// collapsing (done in place), row iteration (odometer on the stack up to 16 dims, on the heap
// beyond) and the density check of a view. Each is checked against a brute-force walk over
// every element's offsets.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "backend/common/layout.h"
#include "core/function_ref.h"

namespace tessera {
namespace {

// Element offsets of each operand, in row-major order of `shape`.
std::vector<std::vector<int64_t>> brute_offsets(const Shape& shape, const std::vector<Strides>& strides) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<std::vector<int64_t>> out(strides.size());
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    for (size_t k = 0; k < strides.size(); ++k) {
      int64_t o = 0;
      for (size_t d = 0; d < shape.size(); ++d) o += idx[d] * strides[k][d];
      out[k].push_back(o);
    }
    for (int d = int(shape.size()) - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < shape[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
  return out;
}

// The same offsets through collapse_dims + for_each_row, rows [r0, r1) at a time.
std::vector<std::vector<int64_t>> row_offsets(Shape shape, std::vector<Strides> strides, int64_t split) {
  collapse_dims(shape, strides);
  std::vector<std::vector<int64_t>> out(strides.size());
  const int64_t rows = num_rows(shape);
  for (int64_t r0 = 0; r0 < rows; r0 += split) {
    for_each_row(shape, strides, r0, std::min(rows, r0 + split), [&](const int64_t* off, int64_t n) {
      for (size_t k = 0; k < strides.size(); ++k) {
        for (int64_t i = 0; i < n; ++i) out[k].push_back(off[k] + i * strides[k].back());
      }
    });
  }
  return out;
}

TEST(Layout, CollapseMergesContiguousDimsInPlace) {
  Shape shape{2, 1, 3, 4};
  std::vector<Strides> st{{12, 12, 4, 1}, {30, 5, 8, 2}};
  collapse_dims(shape, st);
  // Operand 0 is row-major throughout; operand 1 merges only the last two dims (8 = 4 * 2,
  // 30 != 12 * 2).
  EXPECT_EQ(shape, (Shape{2, 12}));
  EXPECT_EQ(st[0], (Strides{12, 1}));
  EXPECT_EQ(st[1], (Strides{30, 2}));

  Shape ones{1, 1, 1};
  std::vector<Strides> st1{{7, 3, 1}};
  collapse_dims(ones, st1);
  EXPECT_EQ(ones, (Shape{1}));
  EXPECT_EQ(st1[0], (Strides{1}));
}

TEST(Layout, RowIterationMatchesABruteForceWalk) {
  struct Case {
    Shape shape;
    std::vector<Strides> strides;
  };
  std::vector<Case> cases = {
      {{2, 3, 4}, {{12, 4, 1}, {1, 2, 6}}},            // row-major against column-major
      {{1, 8, 16, 1, 8}, {{1024, 128, 8, 8, 1}, {0, 8, 0, 0, 1}}},  // broadcast operand
      {{3, 5}, {{-5, 1}, {5, -1}}},                    // negative strides
      {{4, 1, 6}, {{1, 99, 4}, {6, 0, 1}, {0, 0, 0}}},  // transposed, size-1 dim, scalar
  };
  // 18 dims of size 2: deeper than the stack odometer.
  Shape deep(18, 2);
  Strides deep_row(18), deep_rev(18);
  for (int d = 0; d < 18; ++d) {
    deep_row[size_t(d)] = int64_t(1) << (17 - d);
    deep_rev[size_t(d)] = int64_t(1) << d;
  }
  cases.push_back({deep, {deep_row, deep_rev}});
  // 17 operands: wider than the stack offsets.
  std::vector<Strides> many;
  for (int k = 0; k < 17; ++k) many.push_back(k % 2 ? Strides{3, 1} : Strides{1, 2});
  cases.push_back({{2, 3}, many});

  for (size_t c = 0; c < cases.size(); ++c) {
    auto want = brute_offsets(cases[c].shape, cases[c].strides);
    for (int64_t split : {1, 2, 1000}) {
      EXPECT_EQ(row_offsets(cases[c].shape, cases[c].strides, split), want) << "case " << c << " split " << split;
    }
  }
}

TEST(Layout, DensityOfPermutedAndGappedViews) {
  // A transpose of a dense [2, 3, 4] buffer is dense but neither row- nor column-major.
  Layout t = layout_of({4, 2, 3}, {1, 12, 4});
  EXPECT_TRUE(t.flags.contiguous);
  EXPECT_FALSE(t.flags.row_contiguous);
  EXPECT_FALSE(t.flags.col_contiguous);
  EXPECT_EQ(t.data_size, 24u);
  // The first 5 of 8 positions of a [1, 2, 8, 4] cache: a gap between heads.
  Layout g = layout_of({1, 2, 5, 4}, {64, 32, 4, 1});
  EXPECT_FALSE(g.flags.contiguous);
  EXPECT_EQ(g.data_size, size_t(32 + 4 * 4 + 3 + 1));
  // 20 dims (beyond the stack buffer), a permuted dense layout.
  Shape shape(20, 2);
  Strides st(20);
  for (int d = 0; d < 20; ++d) st[size_t(d)] = int64_t(1) << ((d * 7) % 20);
  Layout deep = layout_of(shape, st);
  EXPECT_TRUE(deep.flags.contiguous);
  EXPECT_EQ(deep.data_size, size_t(1) << 20);
  st[3] *= 2;  // now a stride is missing from the chain
  EXPECT_FALSE(layout_of(shape, st).flags.contiguous);
}

TEST(FunctionRef, CallsTheReferencedCallable) {
  int calls = 0;
  auto add = [&](int a, int b) {
    ++calls;
    return a + b;
  };
  FunctionRef<int(int, int)> f = add;
  EXPECT_EQ(f(2, 3), 5);
  FunctionRef<int(int, int)> g = f;  // copies the reference, not a wrapper around it
  EXPECT_EQ(g(4, 5), 9);
  EXPECT_EQ(calls, 2);
  const std::function<int(int, int)> held = [](int a, int b) { return a * b; };
  FunctionRef<int(int, int)> h = held;
  EXPECT_EQ(h(4, 5), 20);
}

}  // namespace
}  // namespace tessera
