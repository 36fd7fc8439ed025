// Optimizers against PyTorch's update sequences (tests/reference/torch_optim.py), Lion,
// Adafactor and Muon against their published update equations written out below in double
// precision, schedules, clipping, accumulation, state save/restore and module updates.
#include "tessera/optimizers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "tessera/nn.h"
#include "tessera/tessera.h"
#include "torch_optim_reference.h"

namespace tessera {
namespace {

using namespace optimizers;
using testing_torch_optim::torch_optim_reference;
using Vec = std::vector<double>;

Vec to_vec(const array& a) {
  array f = astype(a, float32);
  f.eval();
  const float* p = f.data<float>();
  return Vec(p, p + f.size());
}

array from_vec(const Vec& v, const Shape& shape) {
  std::vector<float> f(v.begin(), v.end());
  return array(f.begin(), shape, float32);
}

Vec randn(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist;
  Vec v(n);
  for (auto& x : v) x = float(dist(gen));  // representable in float32, so both sides start equal
  return v;
}

void expect_near(const array& got, const Vec& want, const std::string& what, double rtol = 1e-5, double atol = 1e-6) {
  Vec g = to_vec(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    double excess = std::abs(g[i] - want[i]) - (atol + rtol * std::abs(want[i]));
    if (excess > worst) worst = excess, at = i;
  }
  EXPECT_LE(worst, 0.0) << what << ": entry " << at << " is " << g[at] << ", expected " << want[at];
}

// ------------------------------------------------------------------ against PyTorch

// Runs the 10 recorded gradient steps and compares the parameters after each with PyTorch's.
void check_against_torch(Optimizer& opt, const std::string& key, double rtol = 2e-5, double atol = 1e-6) {
  const auto& ref = torch_optim_reference().optim;
  Params params{{"w", ref.at("w")}, {"b", ref.at("b")}};
  for (int k = 1; k <= 10; ++k) {
    std::string s = std::to_string(k);
    params = opt.apply_gradients({{"w", ref.at("gw." + s)}, {"b", ref.at("gb." + s)}}, params);
    opt.eval_state(params);
    for (const char* n : {"w", "b"}) {
      expect_near(params.at(n), to_vec(ref.at(key + "." + n + "." + s)), key + " step " + s + " " + n, rtol, atol);
    }
  }
  EXPECT_EQ(opt.step(), 10);
}

#define SKIP_WITHOUT_TORCH() \
  if (!torch_optim_reference().skip_reason.empty()) GTEST_SKIP() << torch_optim_reference().skip_reason

TEST(Optimizers, SgdAgainstTorch) {
  SKIP_WITHOUT_TORCH();
  SGD nesterov(0.1f, 0.9f, 0.01f, 0.0f, true);
  check_against_torch(nesterov, "sgd_nesterov");
  SGD momentum(0.05f, 0.8f);
  check_against_torch(momentum, "sgd_momentum");
}

TEST(Optimizers, AdamFamilyAgainstTorch) {
  SKIP_WITHOUT_TORCH();
  Adam adam(0.01f, {0.9f, 0.999f}, 1e-8f, true);
  check_against_torch(adam, "adam");
  AdamW adamw(0.01f, {0.9f, 0.99f}, 1e-8f, 0.1f, true);
  check_against_torch(adamw, "adamw");
  // PyTorch puts eps inside the max instead of the denominator: a 1e-8 difference.
  Adamax adamax(0.02f, {0.9f, 0.999f}, 1e-8f, true);
  check_against_torch(adamax, "adamax");
}

TEST(Optimizers, AdaptiveStepAgainstTorch) {
  SKIP_WITHOUT_TORCH();
  RMSprop rmsprop(0.01f, 0.9f, 1e-8f);
  check_against_torch(rmsprop, "rmsprop");
  Adagrad adagrad(0.1f, 1e-8f);
  check_against_torch(adagrad, "adagrad");
  AdaDelta adadelta(1.0f, 0.9f, 1e-6f);
  check_against_torch(adadelta, "adadelta");
}

TEST(Optimizers, SgdDampeningFollowsMlx) {
  // MLX starts the velocity at zero, so dampening applies from the first step (PyTorch skips it
  // there): v1 = (1 - d)·g, v2 = μ·v1 + (1 - d)·g.
  SGD opt(0.1f, 0.9f, 0.0f, 0.5f);
  Params p{{"x", array(1.0f)}};
  p = opt.apply_gradients({{"x", array(2.0f)}}, p);
  EXPECT_FLOAT_EQ(p.at("x").item<float>(), 1.0f - 0.1f * 1.0f);
  p = opt.apply_gradients({{"x", array(2.0f)}}, p);
  EXPECT_FLOAT_EQ(p.at("x").item<float>(), 0.9f - 0.1f * (0.9f * 1.0f + 1.0f));
}

// ------------------------------------------------------------------ published equations

struct Problem {
  Vec w, b;
  std::vector<Vec> gw, gb;
  Shape ws{5, 4}, bs{4};
  explicit Problem(Shape wshape = {5, 4}) : ws(std::move(wshape)) {
    size_t nw = 1;
    for (int d : ws) nw *= d;
    w = randn(nw, 1), b = randn(4, 2);
    for (int k = 0; k < 10; ++k) gw.push_back(randn(nw, 10 + k)), gb.push_back(randn(4, 30 + k));
  }
};

// Runs the optimizer and the reference `step(k, w, gw, b, gb)` (k 1-based) side by side.
template <typename Ref>
void check_against_equations(Optimizer& opt, const Problem& pr, Ref step, const std::string& what, double rtol = 1e-5,
                             double atol = 1e-6) {
  Params params{{"w", from_vec(pr.w, pr.ws)}, {"b", from_vec(pr.b, pr.bs)}};
  Vec w = pr.w, b = pr.b;
  for (int k = 1; k <= 10; ++k) {
    params = opt.apply_gradients({{"w", from_vec(pr.gw[k - 1], pr.ws)}, {"b", from_vec(pr.gb[k - 1], pr.bs)}}, params);
    opt.eval_state(params);
    step(k, w, pr.gw[k - 1], b, pr.gb[k - 1]);
    expect_near(params.at("w"), w, what + " step " + std::to_string(k) + " w", rtol, atol);
    expect_near(params.at("b"), b, what + " step " + std::to_string(k) + " b", rtol, atol);
  }
}

double rms(const Vec& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s / v.size());
}

TEST(Optimizers, LionMatchesItsEquations) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.99, wd = 0.1;
  Lion opt(float(lr), {float(b1), float(b2)}, float(wd));
  Problem pr;
  Vec mw(pr.w.size()), mb(pr.b.size());
  auto lion = [&](Vec& p, const Vec& g, Vec& m) {
    for (size_t i = 0; i < p.size(); ++i) {
      double c = b1 * m[i] + (1 - b1) * g[i];
      m[i] = b2 * m[i] + (1 - b2) * g[i];
      p[i] = p[i] * (1 - lr * wd) - lr * ((c > 0) - (c < 0));
    }
  };
  check_against_equations(
      opt, pr,
      [&](int, Vec& w, const Vec& gw, Vec& b, const Vec& gb) {
        lion(w, gw, mw);
        lion(b, gb, mb);
      },
      "lion");
}

// Adafactor as in Shazeer & Stern (Algorithms 4 and 5) with MLX's options.
struct AdafactorRef {
  double lr = 0, eps1 = 1e-30, eps2 = 1e-3, clip = 1.0, decay = -0.8, wd = 0;
  std::optional<double> beta1;
  bool scale_parameter = true, relative_step = true, warmup_init = false;
  Vec row, col, v, mw, mb;

  void step(int t, Vec& p, const Vec& g, int rows, int cols, bool factored, Vec& m) {
    double rel = relative_step ? std::min(warmup_init ? 1e-6 * t : 1e-2, 1 / std::sqrt(double(t))) : lr;
    double alpha = rel * (scale_parameter ? std::max(eps2, rms(p)) : 1.0);
    double b2 = 1 - std::pow(double(t), decay);
    Vec u(p.size());
    if (factored) {
      if (row.empty()) row.assign(rows, 0), col.assign(cols, 0);
      for (int i = 0; i < rows; ++i) {
        double s = 0;
        for (int j = 0; j < cols; ++j) s += g[i * cols + j] * g[i * cols + j] + eps1;
        row[i] = b2 * row[i] + (1 - b2) * s / cols;
      }
      for (int j = 0; j < cols; ++j) {
        double s = 0;
        for (int i = 0; i < rows; ++i) s += g[i * cols + j] * g[i * cols + j] + eps1;
        col[j] = b2 * col[j] + (1 - b2) * s / rows;
      }
      double row_mean = 0;
      for (double r : row) row_mean += r / rows;
      // V̂_ij = R_i·C_j / mean(R): the rank-1 estimate of the second moment.
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) u[i * cols + j] = g[i * cols + j] / std::sqrt(row[i] * col[j] / row_mean);
    } else {
      if (v.empty()) v.assign(p.size(), 0);
      for (size_t i = 0; i < p.size(); ++i) {
        v[i] = b2 * v[i] + (1 - b2) * (g[i] * g[i] + eps1);
        u[i] = g[i] / std::sqrt(v[i]);
      }
    }
    double d = std::max(1.0, rms(u) / clip);
    for (auto& x : u) x = alpha * x / d;
    if (beta1) {
      if (m.empty()) m.assign(p.size(), 0);
      for (size_t i = 0; i < p.size(); ++i) u[i] = m[i] = *beta1 * m[i] + (1 - *beta1) * u[i];
    }
    for (size_t i = 0; i < p.size(); ++i) p[i] = p[i] - wd * alpha * p[i] - u[i];
  }
};

TEST(Optimizers, AdafactorMatchesItsEquationsWithRelativeSteps) {
  Adafactor opt;  // MLX's defaults: relative steps, parameter scaling, no first moment
  AdafactorRef ref;
  AdafactorRef vec_ref;
  Problem pr;
  check_against_equations(
      opt, pr,
      [&](int t, Vec& w, const Vec& gw, Vec& b, const Vec& gb) {
        ref.step(t, w, gw, 5, 4, true, ref.mw);
        vec_ref.step(t, b, gb, 1, 4, false, vec_ref.mb);
      },
      "adafactor", 2e-5, 1e-6);
  EXPECT_EQ(opt.state().count("adafactor.exp_avg_sq_row.w"), 1u);
  EXPECT_EQ(opt.state().at("adafactor.exp_avg_sq_col.w").shape(), Shape{4});
  EXPECT_EQ(opt.state().count("adafactor.exp_avg_sq.b"), 1u);
}

TEST(Optimizers, AdafactorMatchesItsEquationsWithGivenRate) {
  Adafactor opt(0.05f, {1e-30f, 1e-3f}, 0.5f, -0.8f, 0.9f, 0.01f, false, false, false);
  AdafactorRef ref;
  ref.lr = 0.05, ref.clip = 0.5, ref.beta1 = 0.9, ref.wd = 0.01, ref.scale_parameter = false;
  ref.relative_step = false;
  AdafactorRef vec_ref = ref;
  Problem pr;
  check_against_equations(
      opt, pr,
      [&](int t, Vec& w, const Vec& gw, Vec& b, const Vec& gb) {
        ref.step(t, w, gw, 5, 4, true, ref.mw);
        vec_ref.step(t, b, gb, 1, 4, false, vec_ref.mb);
      },
      "adafactor(lr)", 2e-5, 1e-6);
  EXPECT_THROW(Adafactor({}, {1e-30f, 1e-3f}, 1.0f, -0.8f, std::nullopt, 0.0f, true, false), std::invalid_argument);
}

// Small dense matrices for the Newton–Schulz reference.
struct Mat {
  int r, c;
  Vec d;
  Mat(int r, int c, Vec v = {}) : r(r), c(c), d(v.empty() ? Vec(size_t(r) * c) : std::move(v)) {}
  double& operator()(int i, int j) { return d[size_t(i) * c + j]; }
  double operator()(int i, int j) const { return d[size_t(i) * c + j]; }
};
Mat mm(const Mat& a, const Mat& b) {
  Mat o(a.r, b.c);
  for (int i = 0; i < a.r; ++i)
    for (int k = 0; k < a.c; ++k)
      for (int j = 0; j < b.c; ++j) o(i, j) += a(i, k) * b(k, j);
  return o;
}
Mat tr(const Mat& a) {
  Mat o(a.c, a.r);
  for (int i = 0; i < a.r; ++i)
    for (int j = 0; j < a.c; ++j) o(j, i) = a(i, j);
  return o;
}
Mat newton_schulz_ref(Mat x, int steps) {
  const double a = 3.4445, b = -4.7750, c = 2.0315;
  bool t = x.r > x.c;
  if (t) x = tr(x);
  double n = 0;
  for (double v : x.d) n += v * v;
  n = std::sqrt(n) + 1e-7;
  for (auto& v : x.d) v /= n;
  for (int s = 0; s < steps; ++s) {
    Mat A = mm(x, tr(x));
    Mat AA = mm(A, A);
    Mat B(A.r, A.c);
    for (size_t i = 0; i < B.d.size(); ++i) B.d[i] = b * A.d[i] + c * AA.d[i];
    Mat BX = mm(B, x);
    for (size_t i = 0; i < x.d.size(); ++i) x.d[i] = a * x.d[i] + BX.d[i];
  }
  return t ? tr(x) : x;
}

// Muon (Jordan et al.) on matrices, MLX's momentum form; AdamW with bias correction elsewhere.
struct MuonRef {
  double lr = 0.02, mu = 0.95, wd = 0.01, b1 = 0.9, b2 = 0.95, eps = 1e-8;
  bool nesterov = true, adamw = true;
  Vec vw, vb, mb;
  void matrix(Vec& p, const Vec& g0, int rows, int cols) {
    if (vw.empty()) vw.assign(p.size(), 0);
    Vec g = g0, u(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      g[i] += wd * p[i];
      vw[i] = mu * vw[i] + (1 - mu) * g[i];
      u[i] = nesterov ? (1 - mu) * g[i] + mu * vw[i] : vw[i];
    }
    Mat o = newton_schulz_ref(Mat(rows, cols, u), 5);
    double scale = std::sqrt(std::max(1.0, double(rows) / cols));
    for (size_t i = 0; i < p.size(); ++i) p[i] -= lr * scale * o.d[i];
  }
  void vector(int t, Vec& p, const Vec& g) {
    if (vb.empty()) vb.assign(p.size(), 0), mb.assign(p.size(), 0);
    for (size_t i = 0; i < p.size(); ++i) {
      if (adamw) {
        mb[i] = b1 * mb[i] + (1 - b1) * g[i];
        vb[i] = b2 * vb[i] + (1 - b2) * g[i] * g[i];
        double mhat = mb[i] / (1 - std::pow(b1, t)), vhat = vb[i] / (1 - std::pow(b2, t));
        p[i] = p[i] * (1 - lr * wd) - lr * mhat / (std::sqrt(vhat) + eps);
      } else {
        double gi = g[i] + wd * p[i];
        vb[i] = mu * vb[i] + (1 - mu) * gi;
        p[i] -= lr * (nesterov ? (1 - mu) * gi + mu * vb[i] : vb[i]);
      }
    }
  }
};

TEST(Optimizers, MuonMatchesItsEquations) {
  for (bool adamw : {true, false}) {
    for (Shape ws : {Shape{5, 4}, Shape{3, 7}, Shape{4, 2, 3}}) {
      Muon opt(0.02f, 0.95f, 0.01f, true, 5, adamw);
      MuonRef ref;
      ref.adamw = adamw;
      Problem pr(ws);
      int rows = ws[0], cols = int(pr.w.size()) / rows;
      check_against_equations(
          opt, pr,
          [&](int t, Vec& w, const Vec& gw, Vec& b, const Vec& gb) {
            ref.matrix(w, gw, rows, cols);
            ref.vector(t, b, gb);
          },
          "muon " + std::to_string(ws.size()) + "-d" + (adamw ? " adamw" : " momentum"), 1e-4, 2e-6);
    }
  }
}

TEST(Optimizers, MuonSelectorAndSeparateAdamRate) {
  Muon opt(0.02f);
  opt.adam_learning_rate = 0.001f;
  opt.orthogonalize = [](const std::string& name, const array& p) { return p.ndim() >= 2 && name != "head"; };
  Params params{{"w", ones({4, 4})}, {"head", ones({4, 4})}};
  Params grads{{"w", ones({4, 4})}, {"head", ones({4, 4})}};
  params = opt.apply_gradients(grads, params);
  opt.eval_state(params);
  Params st = opt.state();
  EXPECT_EQ(st.count("muon.m.head"), 1u);  // AdamW state
  EXPECT_EQ(st.count("muon.m.w"), 0u);
  // AdamW's first bias-corrected step moves each entry by lr (after the decoupled decay).
  for (double h : to_vec(params.at("head"))) EXPECT_NEAR(h, 1.0 * (1 - 0.001 * 0.01) - 0.001, 1e-6);
  // A constant (rank-1) update normalizes to J/4 with singular value 1, which five Newton–Schulz
  // steps map through the quintic φ(σ) = aσ + bσ³ + cσ⁵ (landing near 0.7-1.2, not exactly 1).
  double sigma = 1.0;
  for (int i = 0; i < 5; ++i) {
    sigma = 3.4445 * sigma - 4.7750 * std::pow(sigma, 3) + 2.0315 * std::pow(sigma, 5);
  }
  EXPECT_GT(sigma, 0.6);
  EXPECT_LT(sigma, 1.25);
  for (double x : to_vec(params.at("w"))) EXPECT_NEAR(x, 1.0 - 0.02 * sigma / 4, 1e-6);
}

// ------------------------------------------------------------------ schedules

float at(const Schedule& s, int step) { return s(step).item<float>(); }

TEST(Optimizers, Schedules) {
  auto e = exponential_decay(0.1f, 0.9f);
  EXPECT_FLOAT_EQ(at(e, 0), 0.1f);
  EXPECT_FLOAT_EQ(at(e, 5), float(0.1 * std::pow(0.9, 5)));
  auto s = step_decay(0.1f, 0.5f, 10);
  EXPECT_FLOAT_EQ(at(s, 9), 0.1f);
  EXPECT_FLOAT_EQ(at(s, 10), 0.05f);
  EXPECT_FLOAT_EQ(at(s, 25), 0.025f);
  auto c = cosine_decay(0.1f, 100, 0.01f);
  EXPECT_FLOAT_EQ(at(c, 0), 0.1f);
  EXPECT_FLOAT_EQ(at(c, 50), 0.055f);
  EXPECT_FLOAT_EQ(at(c, 100), 0.01f);
  EXPECT_FLOAT_EQ(at(c, 1000), 0.01f);
  EXPECT_FLOAT_EQ(at(c, 25), float(0.01 + 0.09 * 0.5 * (1 + std::cos(M_PI / 4))));
  auto l = linear_schedule(0.0f, 0.1f, 10);
  EXPECT_FLOAT_EQ(at(l, 0), 0.0f);
  EXPECT_FLOAT_EQ(at(l, 3), 0.03f);
  EXPECT_FLOAT_EQ(at(l, 10), 0.1f);
  EXPECT_FLOAT_EQ(at(l, 20), 0.1f);
  // Warmup then cosine: the second schedule restarts its count at the boundary.
  auto j = join_schedules({linear_schedule(0.0f, 0.1f, 10), cosine_decay(0.1f, 100)}, {10});
  EXPECT_FLOAT_EQ(at(j, 5), 0.05f);
  EXPECT_FLOAT_EQ(at(j, 10), 0.1f);
  EXPECT_FLOAT_EQ(at(j, 60), 0.05f);
  auto three = join_schedules(
      {[](int) { return array(1.0f); }, [](int) { return array(2.0f); }, [](int st) { return array(float(st)); }},
      {5, 8});
  EXPECT_FLOAT_EQ(at(three, 4), 1.0f);
  EXPECT_FLOAT_EQ(at(three, 5), 2.0f);
  EXPECT_FLOAT_EQ(at(three, 11), 3.0f);
  EXPECT_THROW(join_schedules({e}, {3}), std::invalid_argument);
  EXPECT_THROW(linear_schedule(0.0f, 1.0f, 0), std::invalid_argument);
}

TEST(Optimizers, ScheduledLearningRateIsReadAtEachStep) {
  auto sched = linear_schedule(0.0f, 1.0f, 4);
  SGD opt(sched);
  EXPECT_FLOAT_EQ(opt.learning_rate().item<float>(), 0.0f);
  Params p{{"x", array(10.0f)}};
  double x = 10.0;
  for (int k = 0; k < 6; ++k) {
    EXPECT_FLOAT_EQ(opt.learning_rate().item<float>(), std::min(k, 4) / 4.0f) << k;
    p = opt.apply_gradients({{"x", array(1.0f)}}, p);
    x -= std::min(k, 4) / 4.0;  // the update at 0-based index k uses schedule(k)
    EXPECT_FLOAT_EQ(p.at("x").item<float>(), float(x)) << k;
  }
  EXPECT_FLOAT_EQ(opt.learning_rate(2).item<float>(), 0.5f);
  opt.set_learning_rate(0.5f);
  EXPECT_FLOAT_EQ(opt.learning_rate().item<float>(), 0.5f);
}

// ------------------------------------------------------------------ clipping and accumulation

TEST(Optimizers, ClipGradNorm) {
  Params g{{"a", array({3.0f, 0.0f})}, {"b", array({0.0f, 4.0f}, {1, 2})}};
  auto [clipped, norm] = clip_grad_norm(g, 1.0f);
  EXPECT_FLOAT_EQ(norm.item<float>(), 5.0f);
  expect_near(clipped.at("a"), {3.0 / (5 + 1e-6), 0}, "a");
  expect_near(clipped.at("b"), {0, 4.0 / (5 + 1e-6)}, "b");
  EXPECT_EQ(clipped.at("b").shape(), (Shape{1, 2}));
  auto [same, norm2] = clip_grad_norm(g, 10.0f);
  expect_near(same.at("a"), {3, 0}, "unclipped");
  EXPECT_FLOAT_EQ(norm2.item<float>(), 5.0f);
  // Half-precision gradients keep their dtype; the norm is float32.
  auto [half, hnorm] = clip_grad_norm({{"h", astype(array({300.0f, 400.0f}), bfloat16)}}, 1.0f);
  EXPECT_EQ(half.at("h").dtype(), bfloat16);
  EXPECT_EQ(hnorm.dtype(), float32);
  EXPECT_FLOAT_EQ(hnorm.item<float>(), 500.0f);
}

TEST(Optimizers, GradientAccumulation) {
  GradientAccumulator acc(3);
  EXPECT_FALSE(acc.add({{"w", array({1.0f, 2.0f})}}));
  EXPECT_FALSE(acc.add({{"w", array({3.0f, 4.0f})}}));
  EXPECT_TRUE(acc.add({{"w", array({5.0f, 9.0f})}}));
  expect_near(acc.gradients().at("w"), {3.0, 5.0}, "mean");
  Params taken = acc.take();
  EXPECT_EQ(acc.count(), 0);
  EXPECT_THROW(acc.gradients(), std::logic_error);
  GradientAccumulator sum_acc(2, false);
  sum_acc.add({{"w", array({1.0f})}});
  EXPECT_THROW(sum_acc.add({{"v", array({1.0f})}}), std::invalid_argument);
  sum_acc.add({{"w", array({2.0f})}});
  expect_near(sum_acc.gradients().at("w"), {3.0}, "sum");
  // bfloat16 sums in float32: 256 + 1 + 1 is not lost to bfloat16's 8-bit mantissa.
  GradientAccumulator half(3, false);
  for (float v : {256.0f, 1.0f, 1.0f}) half.add({{"h", astype(array({v}), bfloat16)}});
  EXPECT_EQ(half.gradients().at("h").dtype(), bfloat16);
  EXPECT_FLOAT_EQ(astype(half.gradients().at("h"), float32).item<float>(), 258.0f);
}

TEST(Optimizers, AccumulatedMicroBatchesEqualTheFullBatchGradient) {
  // Mean-squared error of a linear model: the mean of 4 micro-batch gradients is the gradient of
  // the 4x larger batch.
  Vec xs = randn(16 * 3, 7), ys = randn(16, 8);
  array x = from_vec(xs, {16, 3}), y = from_vec(ys, {16, 1}), w = from_vec(randn(3, 9), {3, 1});
  auto loss = [](const array& x, const array& y) {
    return std::function<array(const array&)>([=](const array& w) { return mean(square(matmul(x, w) - y)); });
  };
  array full_grad = grad(loss(x, y))(w);
  GradientAccumulator acc(4);
  for (int i = 0; i < 4; ++i) {
    array xi = slice(x, {i * 4, 0}, {i * 4 + 4, 3}), yi = slice(y, {i * 4, 0}, {i * 4 + 4, 1});
    acc.add({{"w", grad(loss(xi, yi))(w)}});
  }
  expect_near(acc.gradients().at("w"), to_vec(full_grad), "accumulated", 1e-5, 1e-6);
}

// ------------------------------------------------------------------ state

bool identical(const array& a, const array& b) { return array_equal(a, b).item<bool>(); }

// Five steps, save the state to safetensors, restore it into a fresh optimizer, five more steps
// on both: identical parameters.
template <typename Make>
void check_state_round_trip(Make make, const std::string& prefix) {
  Problem pr;
  Params params{{"layers.0.weight", from_vec(pr.w, pr.ws)}, {"layers.0.bias", from_vec(pr.b, pr.bs)}};
  auto grads = [&](int k) {
    return Params{{"layers.0.weight", from_vec(pr.gw[k], pr.ws)}, {"layers.0.bias", from_vec(pr.gb[k], pr.bs)}};
  };
  auto a = make();
  for (int k = 0; k < 5; ++k) {
    params = a->apply_gradients(grads(k), params);
    a->eval_state(params);
  }
  Params st = a->state();
  ASSERT_EQ(st.count(prefix + ".step"), 1u);
  EXPECT_EQ(to_vec(st.at(prefix + ".step"))[0], 5.0);
  char tmpl[] = "/tmp/tessera-optim-state-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  a->save_state(dir + "/opt.safetensors");
  auto b = make();
  b->load_state(dir + "/opt.safetensors");
  if (prefix != "sgd") {
    EXPECT_THROW(SGD(0.1f).load_state(dir + "/opt.safetensors"), std::invalid_argument);
  }
  EXPECT_EQ(b->step(), 5);
  Params pa = params, pb = params;
  for (int k = 5; k < 10; ++k) {
    pa = a->apply_gradients(grads(k), pa);
    a->eval_state(pa);
    pb = b->apply_gradients(grads(k), pb);
    b->eval_state(pb);
  }
  for (const auto& [n, v] : pa) {
    EXPECT_TRUE(identical(v, pb.at(n))) << prefix << " " << n;
  }
  std::filesystem::remove_all(dir);
}

TEST(Optimizers, StateSaveRestoreGivesIdenticalUpdates) {
  check_state_round_trip([] { return std::make_unique<Adam>(0.01f, std::pair{0.9f, 0.999f}, 1e-8f, true); }, "adam");
  check_state_round_trip([] { return std::make_unique<SGD>(cosine_decay(0.1f, 8), 0.9f, 0.0f, 0.0f, true); }, "sgd");
  check_state_round_trip([] { return std::make_unique<Adafactor>(); }, "adafactor");
  check_state_round_trip([] { return std::make_unique<Muon>(0.02f); }, "muon");
  check_state_round_trip([] { return std::make_unique<AdaDelta>(1.0f); }, "adadelta");
}

TEST(Optimizers, StateNamesAndErrors) {
  Adam opt(0.01f);
  Params params{{"layers.0.weight", ones({2, 3})}};
  params = opt.apply_gradients({{"layers.0.weight", ones({2, 3})}}, params);
  Params st = opt.state();
  std::vector<std::string> keys;
  for (auto& [k, v] : st) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"adam.m.layers.0.weight", "adam.step", "adam.v.layers.0.weight"}));
  // Wrong optimizer, missing step, malformed key.
  EXPECT_THROW(SGD(0.1f).set_state(st), std::invalid_argument);
  EXPECT_THROW(Adam(0.1f).set_state({{"adam.m.w", zeros({2})}}), std::invalid_argument);
  EXPECT_THROW(Adam(0.1f).set_state({{"adam.step", array(1)}, {"adam.m", zeros({2})}}), std::invalid_argument);
  // A restored slot of the wrong shape is caught on the next update, naming the parameter.
  Adam bad(0.01f);
  bad.set_state({{"adam.step", array(1)}, {"adam.m.w", zeros({3})}, {"adam.v.w", zeros({2})}});
  try {
    bad.apply_gradients({{"w", ones({2})}}, {{"w", ones({2})}});
    FAIL() << "expected a state mismatch";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
  // A parameter missing from restored state is an error, not a silent restart from zero.
  Adam missing(0.01f);
  missing.set_state({{"adam.step", array(3)}});
  EXPECT_THROW(missing.apply_gradients({{"w", ones({2})}}, {{"w", ones({2})}}), std::invalid_argument);
  // Gradients must name known parameters of the same shape.
  EXPECT_THROW(opt.apply_gradients({{"nope", ones({2})}}, params), std::invalid_argument);
  EXPECT_THROW(opt.apply_gradients({{"layers.0.weight", ones({3, 2})}}, params), std::invalid_argument);
  EXPECT_THROW(SGD(0.1f, 0.0f, 0.0f, 0.0f, true), std::invalid_argument);
}

TEST(Optimizers, HalfPrecisionParametersKeepTheirDtype) {
  for (auto* opt : std::initializer_list<Optimizer*>{new Adam(0.01f), new AdamW(0.01f), new Lion(0.01f),
                                                     new Adafactor(), new Muon(0.02f), new SGD(0.1f, 0.9f)}) {
    std::unique_ptr<Optimizer> own(opt);
    Params p{{"w", astype(ones({4, 3}), bfloat16)}, {"b", astype(ones({3}), bfloat16)}};
    Params g{{"w", astype(full({4, 3}, 0.5f), bfloat16)}, {"b", astype(full({3}, 0.5f), bfloat16)}};
    p = opt->apply_gradients(g, p);
    opt->eval_state(p);
    for (auto& [n, v] : p) EXPECT_EQ(v.dtype(), bfloat16) << opt->name() << " " << n;
    for (auto& [n, v] : opt->state()) {
      if (!n.ends_with(".step")) {
        EXPECT_EQ(v.dtype(), bfloat16) << n;
      }
    }
  }
}

// ------------------------------------------------------------------ modules

class TwoParams : public nn::Module {
 public:
  TwoParams() {
    register_parameter("weight", ones({2, 2}));
    register_parameter("bias", zeros({2}));
  }
};

TEST(Optimizers, UpdateModuleEvaluatesParametersAndState) {
  TwoParams model;
  model.freeze({"bias"});
  SGD opt(0.5f, 0.9f);
  Params grads{{"weight", full({2, 2}, 2.0f)}};
  opt.update(model, grads);
  const array& w = model.param("weight");
  EXPECT_TRUE(w.is_evaluated());
  for (const array& s : opt.state_arrays()) EXPECT_TRUE(s.is_evaluated());
  expect_near(w, {0, 0, 0, 0}, "weight after one step");
  expect_near(model.param("bias"), {0, 0}, "frozen bias untouched");
  EXPECT_EQ(opt.state().count("sgd.v.bias"), 0u);
  opt.update(model, grads);
  expect_near(model.param("weight"), {-1.9, -1.9, -1.9, -1.9}, "second step with momentum");
  EXPECT_THROW(opt.update(model, {{"bias", ones({2})}}), std::invalid_argument);  // frozen
  EXPECT_EQ(opt.step(), 2);
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// Two interleaved spirals (deterministic, 2 x 200 points): an MLP trained with AdamW, a warmup +
// cosine schedule and gradient clipping separates them in 250 full-batch steps.
TEST(Optimizers, TrainsAnMlpOnTwoSpirals) {
  random::seed(7);
  const int n = 200;
  std::vector<float> xs, ys;
  std::vector<int> labels;
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < n; ++i) {
      double r = 0.1 + 0.9 * i / n, t = 3.0 * M_PI * i / n + c * M_PI;
      xs.push_back(float(r * std::cos(t))), xs.push_back(float(r * std::sin(t)));
      labels.push_back(c);
    }
  }
  array x(xs.begin(), {2 * n, 2}, float32), y(labels.begin(), {2 * n}, int32);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(2, 64), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(64, 64), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(64, 2));
  auto step = nn::value_and_grad(*model, [&](const std::vector<array>& in) {
    return nn::losses::cross_entropy((*model)(in[0]), in[1], std::nullopt, -1, 0.0f, nn::losses::Reduction::mean);
  });
  AdamW opt(join_schedules({linear_schedule(0.0f, 0.03f, 20), cosine_decay(0.03f, 230, 1e-3f)}, {20}));
  float first = 0, last = 0;
  for (int s = 0; s < 250; ++s) {
    auto [loss, grads] = step({x, y});
    auto [clipped, norm] = clip_grad_norm(grads, 1.0f);
    opt.update(*model, clipped);
    last = loss.item<float>();
    if (s == 0) first = last;
  }
  float accuracy = mean(astype(equal(argmax((*model)(x), -1), astype(y, uint32)), float32)).item<float>();
  EXPECT_LT(last, first / 10) << "loss " << first << " -> " << last;
  EXPECT_GT(accuracy, 0.97f) << "final loss " << last;
}

}  // namespace
}  // namespace tessera
