// Gradients of a 2-layer MLP and of a pre-norm transformer block against PyTorch
// (tests/reference/torch_grads.py, Debian's python3-torch) on the same weights and inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "core/eval_stats.h"
#include "tessera/tessera.h"

namespace tessera {
namespace {

using Params = std::unordered_map<std::string, array>;

struct TorchReference {
  std::string dir, skip_reason;
  Params mlp, block;
  std::map<std::string, Params> attention, rms_norm;
  TorchReference() {
    if (std::system("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") != 0) {
      skip_reason = "PyTorch (Debian's python3-torch at /usr/bin/python3) is not installed";
      return;
    }
    char tmpl[] = "/tmp/tessera-torch-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string cmd = std::string("/usr/bin/python3 ") + TESSERA_SOURCE_DIR + "/tests/reference/torch_grads.py " + dir;
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("torch_grads.py failed");
    mlp = loadz(dir + "/mlp.npz");
    block = loadz(dir + "/block.npz");
    for (const char* name : {"attention", "attention_offset", "attention_full"}) {
      attention[name] = loadz(dir + "/" + name + ".npz");
    }
    for (const char* name : {"rms_norm", "rms_norm_wide"}) rms_norm[name] = loadz(dir + "/" + name + ".npz");
  }
  ~TorchReference() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

const TorchReference& reference() {
  static TorchReference r;
  return r;
}

array linear(const array& x, const array& w) { return matmul(x, transpose(w)); }

void expect_close(const array& got, const array& want, const std::string& name, float rtol = 2e-4f,
                  float atol = 2e-6f) {
  ASSERT_EQ(got.shape(), want.shape()) << name;
  array err = max(abs(subtract(got, want)));
  array bound = add(multiply(abs(want), array(rtol)), array(atol));
  EXPECT_TRUE(all(less_equal(abs(subtract(got, want)), bound)).item<bool>())
      << name << ": max abs error " << err.item<float>() << " (max |ref| " << max(abs(want)).item<float>() << ")";
}

// Runs value_and_grad over the named weights and compares loss and gradients with PyTorch's.
void check(const Params& ref, const std::vector<std::string>& names,
           const std::function<array(const Params&)>& loss_fn) {
  std::vector<array> weights;
  for (auto& n : names) weights.push_back(ref.at(n));
  auto fn = [&](const std::vector<array>& w) {
    Params p = ref;
    for (size_t i = 0; i < names.size(); ++i) p.insert_or_assign(names[i], w[i]);
    return loss_fn(p);
  };
  std::vector<int> argnums(names.size());
  for (size_t i = 0; i < names.size(); ++i) argnums[i] = int(i);
  auto [loss, grads] = value_and_grad(fn, argnums)(weights);
  eval(loss);
  eval(grads);
  expect_close(loss, ref.at("loss"), "loss");
  for (size_t i = 0; i < names.size(); ++i) expect_close(grads[i], ref.at("grad_" + names[i]), "grad of " + names[i]);
}

TEST(TorchGrads, TwoLayerMlp) {
  const auto& r = reference();
  if (!r.skip_reason.empty()) GTEST_SKIP() << r.skip_reason;
  check(r.mlp, {"w1", "b1", "w2", "b2"}, [](const Params& p) {
    array h = maximum(add(linear(p.at("x"), p.at("w1")), p.at("b1")), array(0.0f));
    array pred = add(linear(h, p.at("w2")), p.at("b2"));
    return mean(square(subtract(pred, p.at("y"))));
  });
}

TEST(TorchGrads, TransformerBlock) {
  const auto& r = reference();
  if (!r.skip_reason.empty()) GTEST_SKIP() << r.skip_reason;
  check(r.block, {"norm1", "wq", "wk", "wv", "wo", "ln_w", "ln_b", "w1", "w3", "w2"}, [](const Params& p) {
    const array& x = p.at("x");
    int b = x.shape(0), t = x.shape(1), d = x.shape(2), heads = 4, dh = d / heads;
    array h = fast::rms_norm(x, p.at("norm1"), 1e-5f);
    auto heads_of = [&](const array& z) { return transpose(reshape(z, {b, t, heads, dh}), {0, 2, 1, 3}); };
    array q = fast::rope(heads_of(linear(h, p.at("wq"))), dh, false, 10000.0f, 1.0f, 0);
    array k = fast::rope(heads_of(linear(h, p.at("wk"))), dh, false, 10000.0f, 1.0f, 0);
    array v = heads_of(linear(h, p.at("wv")));
    array attn = fast::scaled_dot_product_attention(q, k, v, 1.0f / std::sqrt(float(dh)), "causal");
    array x2 = add(x, linear(reshape(transpose(attn, {0, 2, 1, 3}), {b, t, d}), p.at("wo")));
    array h2 = fast::layer_norm(x2, p.at("ln_w"), p.at("ln_b"), 1e-5f);
    array a = linear(h2, p.at("w1"));
    array mlp = linear(multiply(multiply(a, sigmoid(a)), linear(h2, p.at("w3"))), p.at("w2"));
    return mean(square(subtract(add(x2, mlp), p.at("y"))));
  });
}

// rms_norm's gradient (the fused RMSNormVjp kernel) in float32, bfloat16 and float16 against
// PyTorch's float64 gradients on bfloat16-exact inputs, and float64 (the composite). The 16-bit
// types compute in float32 and round the results once.
TEST(TorchGrads, RmsNormEveryFloatType) {
  const auto& r = reference();
  if (!r.skip_reason.empty()) GTEST_SKIP() << r.skip_reason;
  for (const auto& [name, p] : r.rms_norm) {
    for (Dtype dt : {float32, bfloat16, float16, float64}) {
      SCOPED_TRACE(name + " " + dtype_name(dt));
      auto fn = [](const std::vector<array>& xw) { return std::vector<array>{fast::rms_norm(xw[0], xw[1], 1e-5f)}; };
      const uint64_t runs = kernel_run_count(Device::cpu, PrimitiveKind::RMSNormVjp);
      auto [outs, grads] = vjp(fn, {astype(p.at("x"), dt), astype(p.at("weight"), dt)}, {astype(p.at("cotangent"), dt)});
      eval(outs);
      eval(grads);
      EXPECT_EQ(kernel_run_count(Device::cpu, PrimitiveKind::RMSNormVjp) - runs, dt == float64 ? 0u : 1u);
      ASSERT_EQ(grads[0].dtype(), dt);
      ASSERT_EQ(grads[1].dtype(), dt);
      for (auto [got, what] : {std::pair{outs[0], "out"}, {grads[0], "grad_x"}, {grads[1], "grad_weight"}}) {
        const array& want = p.at(what);
        const float peak = max(abs(want)).item<float>();
        // One rounding to 8 (bfloat16) or 11 (float16) significant bits; the weight's gradient
        // sums 150 or 130 rows first.
        if (dt == bfloat16) expect_close(astype(got, float32), want, what, 1e-2f, peak / 128.0f);
        else if (dt == float16) expect_close(astype(got, float32), want, what, 2e-3f, peak / 1024.0f);
        else expect_close(astype(got, float32), want, what, 2e-4f, 2e-5f * std::max(1.0f, peak));
      }
    }
  }
}

// Grouped-query attention through fast::scaled_dot_product_attention, float32 (the fused
// gradient kernel) and bfloat16 (the composite's gradient), against PyTorch's float64 gradients
// on the same (bfloat16-exact) inputs: causal, causal with 30 earlier keys over two query blocks,
// and unmasked. bfloat16 keeps 8 significant bits: its products and the gradients built from
// them are held to about 2^-6 of the largest reference value.
TEST(TorchGrads, GroupedQueryAttentionFloat32AndBfloat16) {
  const auto& r = reference();
  if (!r.skip_reason.empty()) GTEST_SKIP() << r.skip_reason;
  for (const auto& [name, p] : r.attention) {
    const float scale = 1.0f / std::sqrt(float(p.at("q").shape(3)));
    const std::string mode = name == "attention_full" ? "" : "causal";
    for (Dtype dt : {float32, bfloat16}) {
      SCOPED_TRACE(name + (dt == float32 ? " float32" : " bfloat16"));
      auto fn = [&](const std::vector<array>& qkv) {
        return std::vector<array>{fast::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], scale, mode)};
      };
      std::vector<array> primals;
      for (auto* n : {"q", "k", "v"}) primals.push_back(astype(p.at(n), dt));
      auto [outs, grads] = vjp(fn, primals, {astype(p.at("cotangent"), dt)});
      eval(outs);
      eval(grads);
      auto close = [&](const array& got, const std::string& what) {
        const array& want = p.at(what);
        const float peak = max(abs(want)).item<float>();
        if (dt == float32) return expect_close(astype(got, float32), want, what);
        expect_close(astype(got, float32), want, what, 2e-2f, peak / 64.0f);
      };
      EXPECT_EQ(outs[0].dtype(), dt);
      close(outs[0], "out");
      close(grads[0], "grad_q");
      close(grads[1], "grad_k");
      close(grads[2], "grad_v");
    }
  }
}

}  // namespace
}  // namespace tessera
