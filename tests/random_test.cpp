// tessera::random: Threefry known answers, determinism across backends and thread counts,
// distribution moments and argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "primitives/random.h"
#include "tessera/tessera.h"

using namespace tessera;

namespace {

template <typename T>
std::vector<T> to_vec(array a) {
  a = astype(a, dtype_of<T>());
  a = contiguous(a);
  a.eval();
  const T* p = a.data<T>();
  return std::vector<T>(p, p + a.size());
}

double scalar(const array& a) { return astype(a, float64).item<double>(); }

bool same(const array& a, const array& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  return array_equal(a, b, true).item<bool>();
}

template <typename F>
void expect_invalid(F&& f, const std::string& tag) {
  try {
    f();
    ADD_FAILURE() << "expected std::invalid_argument with " << tag;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(tag), std::string::npos) << e.what();
  }
}

constexpr int kN = 1 << 20;

}  // namespace

// Random123's known-answer vectors for threefry2x32_20 (kat_vectors).
TEST(RandomThreefry, KnownAnswers) {
  using threefry::hash;
  auto r = hash({0u, 0u}, {0u, 0u});
  EXPECT_EQ(r.first, 0x6b200159u);
  EXPECT_EQ(r.second, 0x99ba4efeu);
  r = hash({0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(r.first, 0x1cb996fcu);
  EXPECT_EQ(r.second, 0xbb002be7u);
  r = hash({0x13198a2eu, 0x03707344u}, {0x243f6a88u, 0x85a308d3u});
  EXPECT_EQ(r.first, 0xc4923a9cu);
  EXPECT_EQ(r.second, 0x483df7a0u);
}

TEST(RandomKey, KeyAndSeed) {
  array k = random::key(0x0123456789abcdefULL);
  EXPECT_EQ(k.dtype(), uint32);
  EXPECT_EQ(k.shape(), Shape{2});
  auto v = to_vec<uint32_t>(k);
  EXPECT_EQ(v[0], 0x01234567u);
  EXPECT_EQ(v[1], 0x89abcdefu);

  random::seed(42);
  array a = random::uniform({16});
  array b = random::uniform({16});
  random::seed(42);
  array c = random::uniform({16});
  EXPECT_TRUE(same(a, c));
  EXPECT_FALSE(same(a, b));
}

// A state that is not evaluated yet is split lazily; the keys handed out are the host sequence's.
TEST(RandomKey, LazyStateGivesTheHostSequence) {
  random::seed(5);
  array h1 = random::uniform({8});
  array h2 = random::uniform({8});
  array after = random::get_state();
  random::seed(5);
  array start = random::get_state();
  random::set_state(add(start, array(0u, uint32)));  // same key, as an unevaluated graph node
  EXPECT_FALSE(random::get_state().is_evaluated());
  array l1 = random::uniform({8});
  array l2 = random::uniform({8});
  EXPECT_TRUE(same(h1, l1));
  EXPECT_TRUE(same(h2, l2));
  EXPECT_TRUE(same(random::get_state(), after));
  random::set_state(random::key(9));  // an evaluated key returns to the host sequence
  EXPECT_TRUE(random::get_state().is_evaluated());
  random::seed(5);
  EXPECT_TRUE(same(random::uniform({8}), h1));
}

TEST(RandomBits, FixedKeyLayout) {
  // Four words: counters (0, 2) and (1, 3) fill words {0, 2} and {1, 3}.
  array k = random::key(7);
  auto w = to_vec<uint32_t>(random::bits({4}, k));
  auto p0 = threefry::hash({0u, 7u}, {0u, 2u});
  auto p1 = threefry::hash({0u, 7u}, {1u, 3u});
  EXPECT_EQ(w[0], p0.first);
  EXPECT_EQ(w[2], p0.second);
  EXPECT_EQ(w[1], p1.first);
  EXPECT_EQ(w[3], p1.second);

  // Three words: counter (0, 2) fills words 0 and 2, the middle word is hash(key, (1, 0)).first.
  w = to_vec<uint32_t>(random::bits({3}, k));
  auto q0 = threefry::hash({0u, 7u}, {0u, 2u});
  EXPECT_EQ(w[0], q0.first);
  EXPECT_EQ(w[2], q0.second);
  EXPECT_EQ(w[1], threefry::hash({0u, 7u}, {1u, 0u}).first);

  // Sub-word widths: 5 bytes are the first bytes of the two-word stream.
  auto b = to_vec<uint8_t>(random::bits({5}, 1, k));
  auto q = threefry::hash({0u, 7u}, {0u, 1u});
  uint8_t expect[8];
  std::memcpy(expect, &q.first, 4);
  std::memcpy(expect + 4, &q.second, 4);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b[i], expect[i]) << i;
  EXPECT_EQ(random::bits({3}, 2, k).dtype(), uint16);
  EXPECT_EQ(random::bits({3}, 1, k).dtype(), uint8);

  // A single word (and less) comes from the odd middle-word rule.
  auto one = to_vec<uint32_t>(random::bits({1}, k));
  EXPECT_EQ(one[0], threefry::hash({0u, 7u}, {0u, 0u}).first);
  auto one_b = to_vec<uint8_t>(random::bits({1}, 1, k));
  EXPECT_EQ(one_b[0], uint8_t(threefry::hash({0u, 7u}, {0u, 0u}).first & 0xff));
  EXPECT_EQ(random::bits({0}, k).size(), 0u);

  // Same key, same bits; the default-key form works too.
  EXPECT_TRUE(same(random::bits({3, 5}, k), random::bits({3, 5}, k)));
  EXPECT_EQ(random::bits({2, 3}).shape(), (Shape{2, 3}));
}

TEST(RandomBits, SplitKeys) {
  array k = random::key(3);
  array ks = random::split(k, 5);
  EXPECT_EQ(ks.shape(), (Shape{5, 2}));
  EXPECT_EQ(ks.dtype(), uint32);
  EXPECT_TRUE(same(ks, random::bits({5, 2}, k)));
  auto [a, b] = random::split(k);
  auto two = to_vec<uint32_t>(random::split(k, 2));
  auto va = to_vec<uint32_t>(a), vb = to_vec<uint32_t>(b);
  EXPECT_EQ(va[0], two[0]);
  EXPECT_EQ(va[1], two[1]);
  EXPECT_EQ(vb[0], two[2]);
  EXPECT_EQ(vb[1], two[3]);
  // Keys sliced out of a split work as keys (strided views included).
  array col_view = transpose(transpose(ks));
  array sub = reshape(slice(col_view, {2, 0}, {3, 2}), {2});
  EXPECT_TRUE(same(random::uniform({8}, sub), random::uniform({8}, reshape(slice(ks, {2, 0}, {3, 2}), {2}))));
  // All distinct.
  auto all = to_vec<uint32_t>(ks);
  std::set<std::pair<uint32_t, uint32_t>> uniq;
  for (int i = 0; i < 5; ++i) uniq.insert({all[2 * i], all[2 * i + 1]});
  EXPECT_EQ(uniq.size(), 5u);
}

TEST(RandomDeterminism, DevicesAndThreads) {
  array k = random::key(1234);
  Shape shape{67, 4099};  // odd sizes exercise the layout's middle word and chunk edges
  int saved = get_num_threads();
  auto run_all = [&](StreamOrDevice s) {
    return std::vector<array>{random::bits(shape, k, s),
                              random::bits({(1 << 18) + 1}, 2, k, s),
                              random::bits({12345}, 1, k, s),
                              random::uniform(shape, k, s),
                              random::normal(shape, float16, k, s),
                              random::normal({1 << 18}, float64, k, s),
                              random::randint(-100, 100, {1 << 18}, int32, k, s),
                              random::split(k, 1000, s),
                              // Transcendental maps last: SIMD log/erfinv may differ from the scalar
                              // reference by an ulp, so these compare exactly only across threads.
                              random::gumbel({1 << 18}, float32, k, s),
                              random::normal({1 << 18}, float32, k, s)};
  };
  set_num_threads(1);
  auto ref = run_all(Device::reference);
  auto one = run_all(Device::cpu);
  eval(ref);
  eval(one);
  set_num_threads(4);
  auto four = run_all(Device::cpu);
  eval(four);
  set_num_threads(3);
  auto three = run_all(Device::cpu);
  eval(three);
  set_num_threads(saved);
  const size_t exact = ref.size() - 2;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (i < exact) {
      EXPECT_TRUE(same(ref[i], one[i])) << i;
    } else {
      EXPECT_TRUE(allclose(ref[i], one[i], 1e-5, 1e-6).item<bool>()) << i;
    }
    EXPECT_TRUE(same(one[i], four[i])) << i;
    EXPECT_TRUE(same(one[i], three[i])) << i;
  }
}

TEST(RandomDeterminism, DefaultKeyIsThreadSafe) {
  random::seed(99);
  constexpr int kThreads = 4, kDraws = 50;
  std::vector<std::vector<uint32_t>> got(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kDraws; ++i) {
        auto v = to_vec<uint32_t>(random::bits({2}));
        got[t].insert(got[t].end(), v.begin(), v.end());
      }
    });
  }
  for (auto& th : ts) th.join();
  std::set<std::pair<uint32_t, uint32_t>> uniq;
  for (auto& g : got) {
    for (size_t i = 0; i < g.size(); i += 2) uniq.insert({g[i], g[i + 1]});
  }
  EXPECT_EQ(uniq.size(), size_t(kThreads * kDraws));
}

TEST(RandomUniform, RangeAndMoments) {
  array k = random::key(11);
  array u = random::uniform({kN}, k);
  EXPECT_EQ(u.dtype(), float32);
  EXPECT_GE(scalar(min(u)), 0.0);
  EXPECT_LT(scalar(max(u)), 1.0);
  EXPECT_NEAR(scalar(mean(u)), 0.5, 2e-3);
  EXPECT_NEAR(scalar(var(u)), 1.0 / 12.0, 1e-3);

  array v = random::uniform(-3.0f, 5.0f, {kN}, float32, k);
  EXPECT_GE(scalar(min(v)), -3.0);
  EXPECT_LT(scalar(max(v)), 5.0);
  EXPECT_NEAR(scalar(mean(v)), 1.0, 2e-2);
  EXPECT_NEAR(scalar(var(v)), 64.0 / 12.0, 3e-2);

  // Broadcast bounds.
  array lo = array({0.0f, 10.0f, 100.0f});
  array w = random::uniform(lo, add(lo, array(1.0f)), {1000, 3}, float32, k);
  auto wv = to_vec<float>(w);
  for (size_t i = 0; i < wv.size(); ++i) {
    float l = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 10.0f : 100.0f;
    ASSERT_GE(wv[i], l);
    ASSERT_LT(wv[i], l + 1.0f);
  }
}

TEST(RandomUniform, NeverReturnsHigh) {
  array k = random::key(5);
  for (Dtype d : {float16, bfloat16, float32, float64}) {
    array u = random::uniform(1.0f, 2.0f, {1 << 16}, d, k);
    EXPECT_EQ(u.dtype(), d);
    EXPECT_GE(scalar(min(u)), 1.0) << d;
    EXPECT_LT(scalar(max(u)), 2.0) << d;
    array z = random::uniform({1 << 16}, d, k);
    EXPECT_GE(scalar(min(z)), 0.0) << d;
    EXPECT_LT(scalar(max(z)), 1.0) << d;
    EXPECT_NEAR(scalar(mean(astype(z, float32))), 0.5, 1e-2) << d;
    // A reversed range stays in (high, low].
    array r = random::uniform(2.0f, 1.0f, {1 << 12}, d, k);
    EXPECT_GT(scalar(min(r)), 1.0) << d;
    EXPECT_LE(scalar(max(r)), 2.0) << d;
  }
  // An interval one ulp wide only ever gives low.
  float lo = 1.0f, hi = std::nextafter(1.0f, 2.0f);
  array t = random::uniform(lo, hi, {4096}, float32, k);
  EXPECT_EQ(scalar(max(t)), double(lo));
}

TEST(RandomNormal, Moments) {
  array k = random::key(12);
  array n = random::normal({kN}, k);
  EXPECT_EQ(n.dtype(), float32);
  EXPECT_TRUE(all(isfinite(n)).item<bool>());
  EXPECT_NEAR(scalar(mean(n)), 0.0, 5e-3);
  EXPECT_NEAR(scalar(var(n)), 1.0, 1e-2);
  // Fourth moment 3 (kurtosis of a Gaussian).
  EXPECT_NEAR(scalar(mean(power(n, array(4.0f)))), 3.0, 5e-2);

  array m = random::normal({kN}, float32, 2.0f, 3.0f, k);
  EXPECT_NEAR(scalar(mean(m)), 2.0, 1.5e-2);
  EXPECT_NEAR(scalar(var(m)), 9.0, 9e-2);
  // Same key, affine map of the standard samples.
  EXPECT_TRUE(allclose(m, add(multiply(n, array(3.0f)), array(2.0f)), 1e-5, 1e-5).item<bool>());

  array loc = array({-1.0f, 1.0f});
  array p = random::normal({kN / 2, 2}, float32, loc, std::nullopt, k);
  array cm = mean(p, 0);
  auto cv = to_vec<float>(cm);
  EXPECT_NEAR(cv[0], -1.0, 1e-2);
  EXPECT_NEAR(cv[1], 1.0, 1e-2);

  for (Dtype d : {float16, bfloat16, float64}) {
    array h = random::normal({1 << 16}, d, k);
    EXPECT_EQ(h.dtype(), d);
    EXPECT_TRUE(all(isfinite(h)).item<bool>()) << d;
    EXPECT_NEAR(scalar(mean(astype(h, float32))), 0.0, 2e-2) << d;
    EXPECT_NEAR(scalar(var(astype(h, float32))), 1.0, 3e-2) << d;
  }
}

TEST(RandomLaplace, Moments) {
  array k = random::key(13);
  array x = random::laplace({kN}, float32, 1.0f, 2.0f, k);
  EXPECT_EQ(x.dtype(), float32);
  EXPECT_TRUE(all(isfinite(x)).item<bool>());
  EXPECT_NEAR(scalar(mean(x)), 1.0, 2e-2);
  EXPECT_NEAR(scalar(var(x)), 8.0, 0.1);  // 2 * scale^2
  // Median at loc and the mean absolute deviation is the scale.
  EXPECT_NEAR(scalar(mean(abs(subtract(x, array(1.0f))))), 2.0, 1e-2);
  EXPECT_EQ(random::laplace({4}, float16, k).dtype(), float16);
}

TEST(RandomGumbel, Moments) {
  array k = random::key(14);
  array g = random::gumbel({kN}, float32, k);
  EXPECT_TRUE(all(isfinite(g)).item<bool>());
  EXPECT_NEAR(scalar(mean(g)), 0.5772156649, 1e-2);
  EXPECT_NEAR(scalar(var(g)), M_PI * M_PI / 6.0, 2e-2);
  EXPECT_TRUE(all(isfinite(random::gumbel({1 << 16}, float16, k))).item<bool>());
}

TEST(RandomBernoulli, Frequency) {
  array k = random::key(15);
  array b = random::bernoulli(array(0.3f), {kN}, k);
  EXPECT_EQ(b.dtype(), bool_);
  EXPECT_NEAR(scalar(mean(astype(b, float32))), 0.3, 3e-3);
  array p = array({0.1f, 0.5f, 0.9f});
  array bb = random::bernoulli(p, {kN / 4, 3}, k);
  auto f = to_vec<float>(mean(astype(bb, float32), 0));
  EXPECT_NEAR(f[0], 0.1, 4e-3);
  EXPECT_NEAR(f[1], 0.5, 4e-3);
  EXPECT_NEAR(f[2], 0.9, 4e-3);
  EXPECT_EQ(random::bernoulli(p, k).shape(), Shape{3});
  EXPECT_EQ(random::bernoulli(std::optional<array>(k)).shape(), Shape{});
  EXPECT_FALSE(any(random::bernoulli(array(0.0f), {1000}, k)).item<bool>());
  EXPECT_TRUE(all(random::bernoulli(array(1.0f), {1000}, k)).item<bool>());
}

TEST(RandomRandint, Range) {
  array k = random::key(16);
  array r = random::randint(-5, 5, {kN}, int32, k);
  EXPECT_EQ(r.dtype(), int32);
  auto v = to_vec<int32_t>(r);
  std::vector<int> counts(10, 0);
  for (int x : v) {
    ASSERT_GE(x, -5);
    ASSERT_LT(x, 5);
    counts[x + 5]++;
  }
  for (int c : counts) EXPECT_NEAR(double(c) / kN, 0.1, 3e-3);
  EXPECT_NEAR(scalar(mean(astype(r, float64))), -0.5, 1e-2);

  array big = random::randint(array(int64_t(0)), array(int64_t(1) << 40), {1 << 16}, int64, k);
  EXPECT_EQ(big.dtype(), int64);
  EXPECT_GE(scalar(min(big)), 0.0);
  EXPECT_LT(scalar(max(big)), std::ldexp(1.0, 40));
  EXPECT_GT(scalar(max(big)), std::ldexp(1.0, 39));

  array u8 = random::randint(0, 256, {1 << 16}, uint8, k);
  EXPECT_EQ(u8.dtype(), uint8);
  EXPECT_EQ(scalar(max(u8)), 255.0);
  EXPECT_EQ(scalar(min(u8)), 0.0);
  // Per-element bounds broadcast.
  array hi = array({1, 2, 3});
  array rb = random::randint(array(0), hi, {1000, 3}, int32, k);
  auto mv = to_vec<int32_t>(max(rb, 0));
  EXPECT_EQ(mv, (std::vector<int32_t>{0, 1, 2}));
  // An empty range gives low.
  EXPECT_EQ(scalar(max(random::randint(3, 3, {10}, int32, k))), 3.0);
}

TEST(RandomTruncatedNormal, Bounds) {
  array k = random::key(17);
  float a = -1.0f, b = 2.0f;
  array t = random::truncated_normal(array(a), array(b), {kN}, float32, k);
  EXPECT_GE(scalar(min(t)), double(a));
  EXPECT_LE(scalar(max(t)), double(b));
  auto pdf = [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); };
  auto cdf = [](double x) { return 0.5 * (1 + std::erf(x / std::sqrt(2.0))); };
  double z = cdf(b) - cdf(a);
  double mu = (pdf(a) - pdf(b)) / z;
  double var_t = 1 + (a * pdf(a) - b * pdf(b)) / z - mu * mu;
  EXPECT_NEAR(scalar(mean(t)), mu, 5e-3);
  EXPECT_NEAR(scalar(var(t)), var_t, 1e-2);

  array lo = array({-0.5f, 0.0f});
  array hi = array({0.5f, 3.0f});
  array tb = random::truncated_normal(lo, hi, float32, k);
  EXPECT_EQ(tb.shape(), Shape{2});
  array many = random::truncated_normal(lo, hi, {1000, 2}, float32, k);
  auto mins = to_vec<float>(min(many, 0)), maxs = to_vec<float>(max(many, 0));
  EXPECT_GE(mins[0], -0.5f);
  EXPECT_LE(maxs[0], 0.5f);
  EXPECT_GE(mins[1], 0.0f);
  EXPECT_LE(maxs[1], 3.0f);
}

TEST(RandomCategorical, FrequenciesMatchSoftmax) {
  array k = random::key(18);
  std::vector<float> lv = {0.0f, 1.0f, 2.0f, -1.0f};
  array logits(lv.begin(), Shape{4}, float32);
  double zsum = 0;
  for (float l : lv) zsum += std::exp(double(l));
  array s = random::categorical(logits, -1, kN, k);
  EXPECT_EQ(s.shape(), Shape{kN});
  EXPECT_EQ(s.dtype(), uint32);
  auto v = to_vec<uint32_t>(s);
  std::vector<int> counts(4, 0);
  for (auto x : v) {
    ASSERT_LT(x, 4u);
    counts[x]++;
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(double(counts[i]) / kN, std::exp(double(lv[i])) / zsum, 3e-3) << i;

  // Batched (strided) logits with an explicit output shape: rows [0, 10] and [0, -10].
  array l2 = transpose(array({0.0f, 0.0f, 10.0f, -10.0f}, {2, 2}));
  array c = random::categorical(l2, 1, Shape{1000, 2}, k);
  EXPECT_EQ(c.shape(), (Shape{1000, 2}));
  auto cv = to_vec<uint32_t>(c);
  int ones_col0 = 0, ones_col1 = 0;
  for (int i = 0; i < 1000; ++i) {
    ones_col0 += cv[2 * i] == 1;
    ones_col1 += cv[2 * i + 1] == 1;
  }
  EXPECT_GT(ones_col0, 990);
  EXPECT_LT(ones_col1, 10);
  // Classes along axis 0: columns [0, 10] and [0, -10]; `shape` aligns with the remaining axes.
  array l3 = array({0.0f, 0.0f, 10.0f, -10.0f}, {2, 2});
  auto c3 = to_vec<uint32_t>(random::categorical(l3, 0, Shape{1000, 2}, k));
  ones_col0 = ones_col1 = 0;
  for (int i = 0; i < 1000; ++i) {
    ones_col0 += c3[2 * i] == 1;
    ones_col1 += c3[2 * i + 1] == 1;
  }
  EXPECT_GT(ones_col0, 990);
  EXPECT_LT(ones_col1, 10);
  EXPECT_EQ(random::categorical(l2, 0, k).shape(), Shape{2});
  EXPECT_EQ(random::categorical(array({1.0f, 2.0f}, {1, 2}), 1, 5, k).shape(), (Shape{1, 5}));
}

TEST(RandomMultivariateNormal, Covariance) {
  array k = random::key(19);
  array mean_v = array({1.0f, -2.0f, 0.5f});
  array cov = array({2.0f, 0.6f, 0.2f, 0.6f, 1.0f, -0.3f, 0.2f, -0.3f, 0.5f}, {3, 3});
  int n = 1 << 18;
  array x = random::multivariate_normal(mean_v, cov, {n}, float32, k);
  EXPECT_EQ(x.shape(), (Shape{n, 3}));
  auto m = to_vec<float>(mean(x, 0));
  EXPECT_NEAR(m[0], 1.0, 1.5e-2);
  EXPECT_NEAR(m[1], -2.0, 1.5e-2);
  EXPECT_NEAR(m[2], 0.5, 1.5e-2);
  array c = subtract(x, mean(x, 0, true));
  array emp = divide(matmul(transpose(c), c), array(float(n)));
  EXPECT_TRUE(allclose(emp, cov, 0.0, 2e-2).item<bool>()) << emp;
  // Semi-definite covariance (rank 1) gives finite, perfectly correlated samples.
  array cov1 = array({1.0f, 1.0f, 1.0f, 1.0f}, {2, 2});
  array y = random::multivariate_normal(array({0.0f, 0.0f}), cov1, {100}, float32, k);
  EXPECT_TRUE(all(isfinite(y)).item<bool>());
  EXPECT_TRUE(allclose(slice(y, {0, 0}, {100, 1}), slice(y, {0, 1}, {100, 2}), 1e-5, 1e-5).item<bool>());
}

TEST(RandomPermutation, IsPermutation) {
  array k = random::key(20);
  array p = random::permutation(1000, k);
  EXPECT_EQ(p.dtype(), uint32);
  auto v = to_vec<uint32_t>(p);
  auto sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(v, sorted);
  EXPECT_TRUE(same(p, random::permutation(1000, k, Device::reference)));
  EXPECT_EQ(random::permutation(0, k).size(), 0u);

  // Rows of a matrix move together along axis 0, columns along axis 1 (strided input too).
  array x = reshape(arange(12), {4, 3});
  array r = random::permutation(x, 0, k);
  auto rv = to_vec<int32_t>(r);
  std::vector<int> rows;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(rv[3 * i] % 3, 0);
    EXPECT_EQ(rv[3 * i + 1], rv[3 * i] + 1);
    EXPECT_EQ(rv[3 * i + 2], rv[3 * i] + 2);
    rows.push_back(rv[3 * i] / 3);
  }
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<int>{0, 1, 2, 3}));
  array xt = transpose(x);  // [3, 4], strided
  array c = random::permutation(xt, 1, k);
  EXPECT_EQ(c.shape(), (Shape{3, 4}));
  auto cv = to_vec<int32_t>(c);
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(cv[4 + j], cv[j] + 1);
    EXPECT_EQ(cv[8 + j], cv[j] + 2);
  }
  // The same key permutes the same way.
  EXPECT_TRUE(same(random::permutation(arange(10), 0, k), astype(random::permutation(10, k), int32)));
}

TEST(RandomErrors, InvalidArguments) {
  array k = random::key(0);
  expect_invalid([&] { random::bits({2}, array({1, 2}, int32)); }, "[random.bits]");
  expect_invalid([&] { random::bits({2}, array({1u, 2u, 3u}, uint32)); }, "[random.bits]");
  expect_invalid([&] { random::bits({2}, 3, k); }, "[random.bits]");
  expect_invalid([&] { random::bits({-1}, k); }, "[random.bits]");
  expect_invalid([&] { random::split(array({1.0f, 2.0f})); }, "[random.split]");
  expect_invalid([&] { random::split(k, -1); }, "[random.split]");
  expect_invalid([&] { random::uniform({2}, int32, k); }, "[random.uniform]");
  expect_invalid([&] { random::uniform(array({0.0f, 0.0f, 0.0f}), array(1.0f), {2}, float32, k); },
                 "[random.uniform]");
  expect_invalid([&] { random::uniform(array({0.0f, 0.0f}), array(1.0f), {1}, float32, k); }, "[random.uniform]");
  expect_invalid([&] { random::uniform({2}, float32, array({1, 2}, int32)); }, "[random.uniform]");
  expect_invalid([&] { random::normal({2}, int32, k); }, "[random.normal]");
  expect_invalid([&] { random::normal({2}, complex64, k); }, "[random.normal]");
  expect_invalid([&] { random::randint(0, 10, {2}, float32, k); }, "[random.randint]");
  expect_invalid([&] { random::bernoulli(array(1), k); }, "[random.bernoulli]");
  expect_invalid([&] { random::bernoulli(array({0.5f, 0.5f}), {3}, k); }, "[random.bernoulli]");
  expect_invalid([&] { random::truncated_normal(array(0.0f), array(1.0f), {2}, int32, k); },
                 "[random.truncated_normal]");
  expect_invalid([&] { random::gumbel({2}, int32, k); }, "[random.gumbel]");
  expect_invalid([&] { random::laplace({2}, int32, k); }, "[random.laplace]");
  expect_invalid([&] { random::categorical(array({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2}), 0, Shape{3}, k); }, "[random.categorical]");
  expect_invalid([&] { random::categorical(array({1.0f, 2.0f}), 0, -1, k); }, "[random.categorical]");
  expect_invalid([&] { random::multivariate_normal(array({0.0f, 0.0f}), eye(3), {}, float32, k); },
                 "[random.multivariate_normal]");
  expect_invalid([&] { random::multivariate_normal(array(0.0f), eye(1), {}, float32, k); },
                 "[random.multivariate_normal]");
  expect_invalid([&] { random::multivariate_normal(array({0.0f}), array({1.0f}), {}, float32, k); },
                 "[random.multivariate_normal]");
  expect_invalid([&] { random::permutation(-1, k); }, "[random.permutation]");
  expect_invalid([&] { random::permutation(3, array({1, 2}, int32)); }, "[random.permutation]");
  EXPECT_THROW(random::categorical(array({1.0f, 2.0f}), 1, k), std::out_of_range);
  EXPECT_THROW(random::permutation(array(1.0f), 0, k), std::out_of_range);
}
