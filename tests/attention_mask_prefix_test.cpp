// Attention under one boolean mask row shared by every query (a decode step over a preallocated
// cache): the CPU kernel reads only the visible prefix when the row is a prefix of trues, and must
// give what the explicit softmax gives for every other row pattern, strided rows included.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "tessera/fast.h"
#include "tessera/tessera.h"

using namespace tessera;

namespace {

// softmax(where(mask, q k^T scale, -inf)) v with the query heads grouped onto their key head.
array reference(const array& q, const array& k, const array& v, const array& mask, float scale) {
  const int rep = q.shape(1) / k.shape(1);
  array kk = repeat(k, rep, 1), vv = repeat(v, rep, 1);
  array s = multiply(matmul(q, swapaxes(kk, -1, -2)), array(scale));
  s = where(mask, s, array(-std::numeric_limits<float>::infinity()));
  return matmul(softmax(s, -1, true), vv);
}

array bools(const std::vector<int>& v) {
  array a = astype(array(v.begin(), Shape{int(v.size())}, int32), bool_);
  a.eval();
  return a;
}

}  // namespace

TEST(AttentionMaskPrefix, SharedRowsGiveTheExplicitSoftmax) {
  const int n = 40;
  array q = random::normal({1, 4, 1, 8}, float32, random::key(1));
  array k = random::normal({1, 2, n, 8}, float32, random::key(2));
  array v = random::normal({1, 2, n, 8}, float32, random::key(3));
  const float scale = 0.35f;
  std::vector<std::pair<std::string, std::vector<int>>> rows;
  auto row = [&](auto f) {
    std::vector<int> r(static_cast<size_t>(n));
    for (int j = 0; j < n; ++j) r[size_t(j)] = f(j) ? 1 : 0;
    return r;
  };
  rows.push_back({"prefix of 17", row([](int j) { return j < 17; })});
  rows.push_back({"prefix of 1", row([](int j) { return j < 1; })});
  rows.push_back({"all visible", row([](int) { return true; })});
  rows.push_back({"a visible key after a hidden one", row([](int j) { return j < 17 || j == 30; })});
  rows.push_back({"hidden first key", row([](int j) { return j > 0 && j < 17; })});
  for (auto& [what, r] : rows) {
    array mask = bools(r);
    array got = fast::scaled_dot_product_attention(q, k, v, scale, "array", mask);
    EXPECT_TRUE(allclose(got, reference(q, k, v, mask, scale), 1e-5, 1e-6).item<bool>()) << what;
  }
  // A prefix row computes exactly what attention over the visible keys alone computes.
  array mask = bools(rows[0].second);
  auto keys = [&](const array& a) { return slice(a, Shape{0, 0, 0, 0}, Shape{1, 2, 17, 8}); };
  EXPECT_TRUE(array_equal(fast::scaled_dot_product_attention(q, k, v, scale, "array", mask),
                          fast::scaled_dot_product_attention(q, keys(k), keys(v), scale))
                  .item<bool>());
  // A strided row (every other element of a longer one) and a row per query are read as they are.
  std::vector<int> wide(size_t(2 * n), 0);
  for (int j = 0; j < n; ++j) wide[size_t(2 * j)] = j < 17 || j == 30;
  array strided = slice(bools(wide), Shape{0}, Shape{2 * n}, Shape{2});
  ASSERT_EQ(strided.shape(0), n);
  EXPECT_TRUE(allclose(fast::scaled_dot_product_attention(q, k, v, scale, "array", strided),
                       reference(q, k, v, strided, scale), 1e-5, 1e-6)
                  .item<bool>());
  array q2 = random::normal({1, 4, 2, 8}, float32, random::key(4));
  array per_query = stack({bools(rows[0].second), bools(rows[3].second)}, 0);  // [2, n]
  EXPECT_TRUE(allclose(fast::scaled_dot_product_attention(q2, k, v, scale, "array", per_query),
                       reference(q2, k, v, per_query, scale), 1e-5, 1e-6)
                  .item<bool>());
}
