// tessera::nn: the module tree (naming, freezing, update, weights I/O, train/eval),
// nn::value_and_grad, and every layer's forward against PyTorch on the same weights
// (tests/reference/torch_nn.py, Debian's python3-torch; skipped when torch is absent).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "tessera/nn.h"
#include "tessera/tessera.h"

namespace tessera {
namespace {

using nn::Params;

struct TorchNnReference {
  std::string dir, skip_reason;
  std::unordered_map<std::string, array> data;
  TorchNnReference() {
    char tmpl[] = "/tmp/tessera-torch-nn-XXXXXX";
    dir = mkdtemp(tmpl);
    // One Python start-up: the script itself reports a missing torch (exit status 77).
    std::string cmd = std::string("/usr/bin/python3 ") + TESSERA_SOURCE_DIR + "/tests/reference/torch_nn.py " + dir +
                      " 2>/dev/null";
    int status = std::system(cmd.c_str());
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 77) {
      skip_reason = "PyTorch (Debian's python3-torch at /usr/bin/python3) is not installed";
      return;
    }
    if (status != 0) throw std::runtime_error("tests/reference/torch_nn.py failed: " + cmd);
    data = loadz(dir + "/nn.npz");
  }
  ~TorchNnReference() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  const array& operator()(const std::string& key) const {
    auto it = data.find(key);
    if (it == data.end()) throw std::out_of_range("no reference array " + key);
    return it->second;
  }
  // Every "<case>.<name>" entry whose name is in `names`, keyed by name.
  Params weights(const std::string& c, const std::vector<std::string>& names) const {
    Params p;
    for (auto& n : names) p.emplace(n, (*this)(c + "." + n));
    return p;
  }
};

const TorchNnReference& ref() {
  static TorchNnReference r;
  return r;
}

void expect_close(const array& got, const array& want, const std::string& name, float rtol = 1e-4f,
                  float atol = 1e-5f) {
  ASSERT_EQ(got.shape(), want.shape()) << name;
  array g = astype(got, float32), w = astype(want, float32);
  array bound = add(multiply(abs(w), array(rtol)), array(atol));
  EXPECT_TRUE(all(less_equal(abs(subtract(g, w)), bound)).item<bool>())
      << name << ": max abs error " << max(abs(subtract(g, w))).item<float>() << " (max |ref| "
      << max(abs(w)).item<float>() << ")";
}

std::vector<std::string> keys(const Params& p) {
  std::vector<std::string> k;
  for (auto& [n, v] : p) k.push_back(n);
  return k;
}

// A decoder-shaped model for naming tests: layers.N.self_attn.{q,k,v,o}_proj, layers.N.mlp, norm.
struct Block : nn::Module {
  Block() {
    auto attn = std::make_shared<nn::Module>();
    for (const char* p : {"q_proj", "k_proj", "v_proj", "o_proj"}) attn->register_module(p, std::make_shared<nn::Linear>(8, 8, false));
    register_module("self_attn", attn);
    register_module("mlp", std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                               std::make_shared<nn::Linear>(8, 16), std::make_shared<nn::SiLU>(),
                               std::make_shared<nn::Linear>(16, 8)}));
    register_module("input_layernorm", std::make_shared<nn::RMSNorm>(8));
  }
  std::string type_name() const override { return "Block"; }
};

struct TinyLm : nn::Module {
  explicit TinyLm(int n_layers) {
    register_module("embed_tokens", std::make_shared<nn::Embedding>(32, 8));
    std::vector<nn::ModulePtr> layers;
    for (int i = 0; i < n_layers; ++i) layers.push_back(std::make_shared<Block>());
    register_modules("layers", layers);
    register_module("norm", std::make_shared<nn::RMSNorm>(8));
  }
  std::string type_name() const override { return "TinyLm"; }
};

std::shared_ptr<nn::Sequential> mlp(int in, int hidden, int out) {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(in, hidden), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(hidden, out));
}

// ---------------------------------------------------------------- module tree

TEST(NnModule, ParameterNamesFollowSafetensorsConvention) {
  TinyLm m(11);
  Params p = m.parameters();
  EXPECT_TRUE(p.count("embed_tokens.weight"));
  EXPECT_TRUE(p.count("layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(p.count("layers.10.self_attn.o_proj.weight"));
  EXPECT_TRUE(p.count("layers.3.mlp.layers.0.bias"));
  EXPECT_TRUE(p.count("layers.3.mlp.layers.2.weight"));
  EXPECT_TRUE(p.count("layers.7.input_layernorm.weight"));
  EXPECT_TRUE(p.count("norm.weight"));
  EXPECT_FALSE(p.count("layers.0.self_attn.q_proj.bias"));
  EXPECT_EQ(p.size(), 1 + 11 * (4 + 4 + 1) + 1);
  EXPECT_EQ(p.at("layers.3.mlp.layers.0.weight").shape(), (Shape{16, 8}));

  auto mods = m.named_modules();
  ASSERT_GE(mods.size(), 4u);
  EXPECT_EQ(mods[0].first, "");
  EXPECT_EQ(mods[0].second, &m);
  EXPECT_EQ(mods[1].first, "embed_tokens");
  EXPECT_EQ(mods[2].first, "layers");
  EXPECT_EQ(mods[3].first, "layers.0");
  // Registration order, not string order: layers.2 comes before layers.10.
  auto pos = [&](const std::string& path) {
    for (size_t i = 0; i < mods.size(); ++i)
      if (mods[i].first == path) return i;
    return size_t(-1);
  };
  EXPECT_LT(pos("layers.2"), pos("layers.10"));
  EXPECT_LT(pos("layers.10"), pos("norm"));
  EXPECT_EQ(m.child("layers.4.self_attn").type_name(), "Module");
  EXPECT_EQ(m.child("layers.4.mlp").type_name(), "Sequential");
  EXPECT_EQ(m.children().size(), 3u);
  EXPECT_THROW(m.child("layers.11"), std::out_of_range);
  EXPECT_THROW(m.register_parameter("a.b", zeros({1})), std::invalid_argument);
  EXPECT_NE(m.describe().find("q_proj: Linear"), std::string::npos);
}

TEST(NnModule, FreezeAndUnfreeze) {
  TinyLm m(2);
  size_t all = m.parameters().size();
  EXPECT_EQ(m.trainable_parameters().size(), all);

  m.freeze();
  EXPECT_TRUE(m.trainable_parameters().empty());
  m.unfreeze();
  EXPECT_EQ(m.trainable_parameters().size(), all);

  // A plain name matches that parameter in every module.
  m.freeze({"bias"});
  for (auto& k : keys(m.trainable_parameters())) EXPECT_EQ(k.find(".bias"), std::string::npos) << k;
  EXPECT_EQ(m.trainable_parameters().size(), all - 2 * 2);
  m.unfreeze();

  // A module path freezes the whole subtree; a parameter path freezes one parameter.
  m.freeze({"layers.0", "norm.weight"});
  Params t = m.trainable_parameters();
  for (auto& k : keys(t)) {
    EXPECT_NE(k.rfind("layers.0.", 0), 0u) << k;
    EXPECT_NE(k, "norm.weight");
  }
  EXPECT_TRUE(t.count("layers.1.self_attn.q_proj.weight"));
  m.unfreeze({"layers.0.mlp"});
  EXPECT_TRUE(m.trainable_parameters().count("layers.0.mlp.layers.0.weight"));
  EXPECT_FALSE(m.trainable_parameters().count("layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(m.child("norm").is_frozen("weight"));

  // recurse=false: plain names only reach this module's own parameters.
  m.unfreeze();
  m.child("layers.0.mlp").freeze({}, false);  // Sequential has no own parameters: nothing changes
  EXPECT_EQ(m.trainable_parameters().size(), all);

  try {
    m.freeze({"no_such_thing"});
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_thing"), std::string::npos);
  }

  // Buffers never train: BatchNorm's running statistics, quantized weights.
  nn::BatchNorm bn(4);
  EXPECT_EQ(bn.parameters().size(), 4u);
  EXPECT_EQ(keys(bn.trainable_parameters()), (std::vector<std::string>{"bias", "weight"}));
  bn.unfreeze();
  EXPECT_EQ(bn.trainable_parameters().size(), 2u);

  nn::QuantizedLinear q(64, 8, true, 64, 4);
  EXPECT_EQ(keys(q.parameters()), (std::vector<std::string>{"bias", "biases", "scales", "weight"}));
  EXPECT_TRUE(q.trainable_parameters().empty());
  q.unfreeze();
  EXPECT_EQ(keys(q.trainable_parameters()), (std::vector<std::string>{"bias"}));
}

TEST(NnModule, UpdateChecksNamesAndShapes) {
  auto m = mlp(4, 6, 2);
  array x = random::normal({3, 4});
  Params p = m->parameters();
  Params doubled;
  for (auto& [k, v] : p) doubled.emplace(k, multiply(v, array(2.0f)));
  m->update(doubled);
  expect_close(m->parameters().at("layers.2.bias"), multiply(p.at("layers.2.bias"), array(2.0f)), "updated");

  Params bad{{"layers.0.weight", zeros({4, 6})}, {"layers.9.weight", zeros({1})}, {"layers.2.bias", zeros({2})}};
  try {
    m->update(bad);
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("layers.9.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("layers.0.weight: expected [6, 4], got [4, 6]"), std::string::npos) << msg;
  }
  // Nothing was applied: the valid entry in the failing update did not land either.
  expect_close(m->parameters().at("layers.2.bias"), multiply(p.at("layers.2.bias"), array(2.0f)), "unchanged");
}

TEST(NnModule, SaveLoadRoundTrip) {
  auto dir = std::filesystem::temp_directory_path() / ("tessera-nn-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "model.safetensors").string();
  TinyLm a(2), b(2);
  a.register_module("bn", std::shared_ptr<nn::Module>(new nn::BatchNorm(8)));
  b.register_module("bn", std::shared_ptr<nn::Module>(new nn::BatchNorm(8)));
  a.child("bn").update({{"running_mean", full({8}, 0.5f)}});
  a.save_weights(path);

  nn::LoadReport r = b.load_weights(path);
  EXPECT_TRUE(r.ok()) << r.to_string();
  EXPECT_EQ(r.loaded.size(), a.parameters().size());
  Params pa = a.parameters(), pb = b.parameters();
  for (auto& [k, v] : pa) expect_close(pb.at(k), v, k, 0, 0);
  array idx = array({1, 5, 9}, int32);
  expect_close(b.child("embed_tokens")(idx), a.child("embed_tokens")(idx), "embedding", 0, 0);

  // The saved file is plain safetensors with the dotted names.
  auto loaded = load_safetensors(path).first;
  EXPECT_TRUE(loaded.count("layers.1.self_attn.v_proj.weight"));
  EXPECT_TRUE(loaded.count("bn.running_var"));
  std::filesystem::remove_all(dir);
}

TEST(NnModule, StrictAndNonStrictLoadReports) {
  auto m = mlp(4, 6, 2);
  Params before = m->parameters();
  Params w = m->parameters();
  w.erase("layers.2.bias");                                 // missing
  w.emplace("layers.5.weight", zeros({3}));                 // unexpected
  w.insert_or_assign("layers.0.weight", ones({4, 6}));      // mis-shaped
  w.insert_or_assign("layers.0.bias", full({6}, 7.0f));     // fine

  try {
    m->load_weights(w);
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("missing (1): layers.2.bias"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected (1): layers.5.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("layers.0.weight: expected [6, 4] float32, got [4, 6] float32"), std::string::npos) << msg;
  }
  // A failed strict load changes nothing.
  expect_close(m->parameters().at("layers.0.bias"), before.at("layers.0.bias"), "strict untouched", 0, 0);

  nn::LoadReport r = m->load_weights(w, false);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.missing, std::vector<std::string>{"layers.2.bias"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"layers.5.weight"});
  ASSERT_EQ(r.mismatched.size(), 1u);
  EXPECT_EQ(r.loaded, (std::vector<std::string>{"layers.0.bias", "layers.2.weight"}));
  EXPECT_NE(r.to_string().find("loaded 2 of 4 parameters"), std::string::npos) << r.to_string();
  expect_close(m->parameters().at("layers.0.bias"), full({6}, 7.0f), "non-strict loaded", 0, 0);
  expect_close(m->parameters().at("layers.0.weight"), before.at("layers.0.weight"), "mis-shaped skipped", 0, 0);
}

TEST(NnModule, TrainEvalModeAndDropout) {
  nn::Sequential m({std::make_shared<nn::Linear>(4, 4), std::make_shared<nn::Dropout>(0.25f)});
  EXPECT_TRUE(m.training());
  m.train(false);
  EXPECT_FALSE(m[1].training());
  EXPECT_FALSE(m.child("layers").training());
  array x = ones({200, 50});
  nn::Dropout d(0.25f);
  d.train(false);
  expect_close(d(x), x, "eval identity", 0, 0);
  d.train(true);
  random::seed(3);
  array y = d(x);
  // Survivors are scaled by 1 / (1 - p); about a quarter are dropped.
  array kept = astype(not_equal(y, array(0.0f)), float32);
  float frac = mean(kept).item<float>();
  EXPECT_NEAR(frac, 0.75f, 0.02f);
  EXPECT_NEAR(max(y).item<float>(), 1.0f / 0.75f, 1e-6f);
  EXPECT_NEAR(mean(y).item<float>(), 1.0f, 0.03f);
  // Channel dropout zeroes whole channels.
  nn::Dropout2d d2(0.5f);
  array z = d2(ones({2, 5, 5, 16}));
  array per_channel = max(z, std::vector<int>{1, 2});
  array all_same = equal(min(z, std::vector<int>{1, 2}), per_channel);
  EXPECT_TRUE(all(all_same).item<bool>());
  EXPECT_THROW(nn::Dropout(1.0f), std::invalid_argument);
}

// ---------------------------------------------------------------- value_and_grad

TEST(NnValueAndGrad, MatchesFunctionalGradients) {
  auto m = mlp(5, 7, 3);
  array x = random::normal({9, 5}), y = random::normal({9, 3});
  m->freeze({"layers.2.bias"});
  Params p = m->parameters();

  auto loss_fn = [&](const std::vector<array>& in) { return mean(square(subtract((*m)(in[0]), in[1]))); };
  auto [loss, grads] = nn::value_and_grad(*m, loss_fn)({x, y});
  eval(loss);
  EXPECT_EQ(keys(grads), (std::vector<std::string>{"layers.0.bias", "layers.0.weight", "layers.2.weight"}));

  // The same computation without modules.
  auto functional = [&](const std::vector<array>& w) {
    array h = maximum(add(matmul(x, transpose(w[0])), w[1]), array(0.0f));
    array pred = add(matmul(h, transpose(w[2])), p.at("layers.2.bias"));
    return mean(square(subtract(pred, y)));
  };
  auto [floss, fgrads] = tessera::value_and_grad(
      functional, std::vector<int>{0, 1, 2})({p.at("layers.0.weight"), p.at("layers.0.bias"), p.at("layers.2.weight")});
  expect_close(loss, floss, "loss");
  expect_close(grads.at("layers.0.weight"), fgrads[0], "grad w0");
  expect_close(grads.at("layers.0.bias"), fgrads[1], "grad b0");
  expect_close(grads.at("layers.2.weight"), fgrads[2], "grad w2");

  // The model got its own parameters back and still computes the same loss.
  Params after = m->parameters();
  for (auto& [k, v] : p) EXPECT_EQ(after.at(k).id(), v.id()) << k;
  expect_close(loss_fn({x, y}), floss, "loss after");

  // Auxiliary outputs ride along; only the first output is differentiated.
  auto [outs, g2] = nn::value_and_grad(*m, nn::ModuleLossFn([&](const std::vector<array>& in) {
                                          array pred = (*m)(in[0]);
                                          return std::vector<array>{mean(square(subtract(pred, in[1]))), pred};
                                        }))({x, y});
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[1].shape(), (Shape{9, 3}));
  expect_close(g2.at("layers.0.weight"), fgrads[0], "grad w0 with aux");
}

TEST(NnValueAndGrad, ClassifierStepsReduceTheLoss) {
  // The usage shown in tessera/nn.h: a classifier, cross-entropy, plain SGD through update().
  random::seed(11);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 32), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(32, 3));
  array x = random::normal({64, 6});
  array y = argmax(matmul(x, random::normal({6, 3})), -1);
  auto step = nn::value_and_grad(*model, [&](const std::vector<array>& in) {
    return nn::losses::cross_entropy((*model)(in[0]), in[1], std::nullopt, -1, 0.0f, nn::losses::Reduction::mean);
  });
  float first = 0, last = 0;
  for (int i = 0; i < 30; ++i) {
    auto [loss, grads] = step({x, y});
    Params p = model->trainable_parameters(), next;
    for (auto& [k, g] : grads) next.emplace(k, subtract(p.at(k), multiply(array(0.5f), g)));
    model->update(next);
    std::vector<array> values;
    for (auto& [k, v] : next) values.push_back(v);
    eval(values);
    (i == 0 ? first : last) = loss.item<float>();
  }
  EXPECT_LT(last, 0.5f * first) << first << " -> " << last;
}

TEST(NnValueAndGrad, BatchNormStatisticsUpdateUnderGrad) {
  nn::Sequential m({std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::BatchNorm>(4)});
  array x = random::normal({16, 3});
  auto [loss, grads] = nn::value_and_grad(m, [&](const std::vector<array>& in) { return sum(square(m(in[0]))); })({x});
  eval(loss);
  EXPECT_EQ(grads.size(), 4u);
  // The running mean moved towards the batch mean and evaluates outside the trace.
  array rm = m.parameters().at("layers.1.running_mean");
  array h = m[0](x);
  expect_close(rm, multiply(mean(h, 0), array(0.1f)), "running mean");
}

// ---------------------------------------------------------------- layers against PyTorch

TEST(NnTorch, Activations) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  const array& x = ref()("act.x");
  std::vector<std::pair<std::string, std::function<array(const array&)>>> fns = {
      {"relu", nn::relu},
      {"relu6", nn::relu6},
      {"relu_squared", nn::relu_squared},
      {"leaky_relu", [](const array& a) { return nn::leaky_relu(a, 0.1f); }},
      {"elu", [](const array& a) { return nn::elu(a, 1.5f); }},
      {"selu", nn::selu},
      {"celu", [](const array& a) { return nn::celu(a, 1.3f); }},
      {"gelu", nn::gelu},
      {"gelu_approx", nn::gelu_approx},
      {"gelu_fast_approx", nn::gelu_fast_approx},
      {"silu", nn::silu},
      {"mish", nn::mish},
      {"softplus", nn::softplus},
      {"softsign", nn::softsign},
      {"glu", [](const array& a) { return nn::glu(a); }},
      {"sigmoid", [](const array& a) { return nn::sigmoid(a); }},
      {"tanh", [](const array& a) { return nn::tanh(a); }},
      {"log_sigmoid", nn::log_sigmoid},
      {"log_softmax", [](const array& a) { return nn::log_softmax(a); }},
      {"softmax", [](const array& a) { return nn::softmax(a, -1); }},
      {"softmin", [](const array& a) { return nn::softmin(a); }},
      {"hard_tanh", [](const array& a) { return nn::hard_tanh(a, -2.0f, 1.5f); }},
      {"hardswish", nn::hardswish},
      {"hard_shrink", [](const array& a) { return nn::hard_shrink(a); }},
      {"soft_shrink", [](const array& a) { return nn::soft_shrink(a); }},
      {"prelu", [](const array& a) { return nn::prelu(a, ref()("act.alpha")); }},
      {"step", [](const array& a) { return nn::step(a, 0.25f); }},
  };
  for (auto& [name, fn] : fns) expect_close(fn(x), ref()("act." + name), name, 2e-5f, 2e-6f);

  // The modules apply the same functions.
  expect_close(nn::GELU("tanh")(x), ref()("act.gelu_approx"), "GELU(tanh)", 2e-5f, 2e-6f);
  expect_close(nn::GELU()(x), ref()("act.gelu"), "GELU", 2e-5f, 2e-6f);
  expect_close(nn::LeakyReLU(0.1f)(x), ref()("act.leaky_relu"), "LeakyReLU", 2e-5f, 2e-6f);
  expect_close(nn::Mish()(x), ref()("act.mish"), "Mish", 2e-5f, 2e-6f);
  nn::PReLU pr(14);
  pr.update({{"weight", ref()("act.alpha")}});
  expect_close(pr(x), ref()("act.prelu"), "PReLU", 2e-5f, 2e-6f);
  EXPECT_THROW(nn::GELU("bogus"), std::invalid_argument);
  // Constants follow the input's dtype: bfloat16 stays bfloat16.
  EXPECT_EQ(nn::gelu_approx(astype(x, bfloat16)).dtype(), bfloat16);
  EXPECT_EQ(nn::elu(astype(x, bfloat16)).dtype(), bfloat16);
}

TEST(NnTorch, LinearAndSequential) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  nn::Linear lin(16, 8), nob(16, 8, false);
  lin.load_weights(ref().weights("linear", {"weight", "bias"}));
  nob.load_weights(Params{{"weight", ref()("linear.nobias_weight")}});
  expect_close(lin(ref()("linear.x")), ref()("linear.y"), "linear");
  expect_close(nob(ref()("linear.x")), ref()("linear.y_nobias"), "linear no bias");
  array x2 = reshape(ref()("linear.x"), {15, 16});
  expect_close(lin(x2), reshape(ref()("linear.y"), {15, 8}), "linear 2-D");
  expect_close(lin(take(x2, 0, 0)), take(reshape(ref()("linear.y"), {15, 8}), 0, 0), "linear 1-D");

  // PyTorch's Sequential state dict names ("0.weight") map onto ours ("layers.0.weight").
  nn::Sequential seq({std::make_shared<nn::Linear>(10, 12), std::make_shared<nn::GELU>(),
                      std::make_shared<nn::Linear>(12, 4)});
  Params w;
  for (const char* n : {"0.weight", "0.bias", "2.weight", "2.bias"}) w.emplace(std::string("layers.") + n, ref()(std::string("seq.") + n));
  nn::LoadReport r = seq.load_weights(w);
  EXPECT_TRUE(r.ok());
  expect_close(seq(ref()("seq.x")), ref()("seq.y"), "sequential");
  seq.append([](const array& a) { return multiply(a, array(2.0f)); });
  expect_close(seq(ref()("seq.x")), multiply(ref()("seq.y"), array(2.0f)), "sequential + lambda");
  EXPECT_EQ(seq.size(), 4u);
}

TEST(NnTorch, Embedding) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  nn::Embedding emb(11, 8);
  emb.load_weights(ref().weights("emb", {"weight"}));
  expect_close(emb(ref()("emb.idx")), ref()("emb.y"), "embedding", 0, 0);
  expect_close(emb.as_linear(ref()("emb.h")), ref()("emb.logits"), "as_linear");
  EXPECT_THROW(emb(ref()("emb.h")), std::invalid_argument);
}

TEST(NnTorch, Normalization) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  const array& x = ref()("norm.x");
  Params wb{{"weight", ref()("norm.w")}, {"bias", ref()("norm.b")}};
  nn::RMSNorm rms(12);
  rms.load_weights(Params{{"weight", ref()("norm.w")}});
  expect_close(rms(x), ref()("norm.rms"), "rms_norm");
  nn::LayerNorm ln(12);
  ln.load_weights(wb);
  expect_close(ln(x), ref()("norm.ln"), "layer_norm");
  nn::LayerNorm plain(12, 1e-5f, false);
  EXPECT_TRUE(plain.parameters().empty());
  expect_close(plain(x), ref()("norm.ln_plain"), "layer_norm without affine");
  nn::GroupNorm gt(3, 12, 1e-5f, true, true), gm(3, 12);
  gt.load_weights(wb);
  gm.load_weights(wb);
  expect_close(gt(x), ref()("norm.gn_torch"), "group_norm pytorch_compatible");
  expect_close(gm(x), ref()("norm.gn_mlx"), "group_norm");
}

TEST(NnTorch, BatchNormTrainAndEval) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  nn::BatchNorm bn(6, 1e-5f, 0.2f);
  bn.update(ref().weights("bn", {"weight", "bias"}));
  expect_close(bn(ref()("bn.x")), ref()("bn.y_train"), "train output");
  expect_close(bn.param("running_mean"), ref()("bn.running_mean"), "running mean");
  expect_close(bn.param("running_var"), ref()("bn.running_var"), "running var");
  bn.train(false);
  expect_close(bn(ref()("bn.x2")), ref()("bn.y_eval"), "eval output");
  // Eval mode leaves the statistics alone.
  expect_close(bn.param("running_mean"), ref()("bn.running_mean"), "running mean after eval");
}

TEST(NnTorch, Convolutions) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  nn::Conv1d c1(4, 6, 3, 2, 1, 1, 2);
  EXPECT_EQ(c1.param("weight").shape(), (Shape{6, 3, 2}));
  c1.load_weights(ref().weights("conv1d", {"weight", "bias"}));
  expect_close(c1(ref()("conv1d.x")), ref()("conv1d.y"), "conv1d");
  nn::Conv2d c2(3, 4, {3, 2}, {1, 2}, {1, 0}, {2, 1});
  c2.load_weights(ref().weights("conv2d", {"weight", "bias"}));
  expect_close(c2(ref()("conv2d.x")), ref()("conv2d.y"), "conv2d");
  nn::Conv2d square(3, 5, 3);
  EXPECT_EQ(square.param("weight").shape(), (Shape{5, 3, 3, 3}));
}

TEST(NnTorch, MultiHeadAttention) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  for (bool bias : {false, true}) {
    std::string c = bias ? "mha_bias" : "mha";
    nn::MultiHeadAttention mha(16, 4, bias);
    std::vector<std::string> names{"query_proj.weight", "key_proj.weight", "value_proj.weight", "out_proj.weight"};
    if (bias) {
      for (const char* n : {"query_proj.bias", "key_proj.bias", "value_proj.bias", "out_proj.bias"}) names.push_back(n);
    }
    nn::LoadReport r = mha.load_weights(ref().weights(c, names));
    EXPECT_TRUE(r.ok()) << r.to_string();
    const array &q = ref()(c + ".q"), &k = ref()(c + ".k"), &v = ref()(c + ".v");
    expect_close(mha(q, k, v), ref()(c + ".y"), c);
    expect_close(mha(q, k, v, ref()(c + ".mask")), ref()(c + ".y_mask"), c + " masked");
    expect_close(mha({q, k, v, ref()(c + ".mask")})[0], ref()(c + ".y_mask"), c + " forward");
  }
  // "causal" matches the additive causal mask.
  nn::MultiHeadAttention mha(16, 4);
  array x = random::normal({2, 6, 16});
  expect_close(mha(x, x, x, "causal"), mha(x, x, x, nn::MultiHeadAttention::create_additive_causal_mask(6)),
               "causal");
  // Value heads of another width take the unfused path.
  nn::MultiHeadAttention wide(16, 4, nn::MultiHeadAttention::Options{0, 0, 0, 32, 8, false});
  EXPECT_EQ(wide(x, x, x, "causal").shape(), (Shape{2, 6, 8}));
  array bmask = astype(tril(ones({6, 6})), bool_);
  expect_close(wide(x, x, x, "causal"), wide(x, x, x, bmask), "causal (unfused)");
}

TEST(NnTorch, RoPE) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  const array& x = ref()("rope.x");
  expect_close(nn::RoPE(16)(x), ref()("rope.y"), "rope");
  expect_close(nn::RoPE(8, false, 500.0f, 0.5f)(x, 3), ref()("rope.y_partial"), "rope partial with offset");
  expect_close(nn::RoPE(16, true)(x, array(2, int32)), ref()("rope.y_trad"), "rope traditional");
  EXPECT_THROW(nn::RoPE(7), std::invalid_argument);
}

// Gradients of sum(layer(x) * r) with respect to the layer's parameters, against PyTorch's.
void check_grads(nn::Module& layer, const std::string& c, const std::function<array()>& forward) {
  array r = ref()(c + ".r");
  auto [loss, grads] = nn::value_and_grad(layer, [&](const std::vector<array>&) { return sum(multiply(forward(), r)); })({});
  eval(loss);
  ASSERT_FALSE(grads.empty()) << c;
  for (auto& [name, g] : grads) expect_close(g, ref()(c + ".grad." + name), c + " grad of " + name, 2e-4f, 2e-5f);
}

TEST(NnTorch, LayerGradients) {
  if (!ref().skip_reason.empty()) GTEST_SKIP() << ref().skip_reason;
  nn::Linear lin(16, 8);
  lin.load_weights(ref().weights("linear", {"weight", "bias"}));
  check_grads(lin, "linear", [&] { return lin(ref()("linear.x")); });

  nn::Embedding emb(11, 8);
  emb.load_weights(ref().weights("emb", {"weight"}));
  check_grads(emb, "emb", [&] { return emb(ref()("emb.idx")); });

  const array& x = ref()("norm.x");
  Params wb{{"weight", ref()("norm.w")}, {"bias", ref()("norm.b")}};
  nn::RMSNorm rms(12);
  rms.load_weights(Params{{"weight", ref()("norm.w")}});
  check_grads(rms, "rms", [&] { return rms(x); });
  nn::LayerNorm ln(12);
  ln.load_weights(wb);
  check_grads(ln, "ln", [&] { return ln(x); });
  nn::GroupNorm gt(3, 12, 1e-5f, true, true), gm(3, 12);
  gt.load_weights(wb);
  gm.load_weights(wb);
  check_grads(gt, "gn_torch", [&] { return gt(x); });
  check_grads(gm, "gn_mlx", [&] { return gm(x); });

  nn::BatchNorm bn(6, 1e-5f, 0.2f);
  bn.update(ref().weights("bn", {"weight", "bias"}));
  check_grads(bn, "bn", [&] { return bn(ref()("bn.x")); });

  nn::Conv1d c1(4, 6, 3, 2, 1, 1, 2);
  c1.load_weights(ref().weights("conv1d", {"weight", "bias"}));
  check_grads(c1, "conv1d", [&] { return c1(ref()("conv1d.x")); });
  nn::Conv2d c2(3, 4, {3, 2}, {1, 2}, {1, 0}, {2, 1});
  c2.load_weights(ref().weights("conv2d", {"weight", "bias"}));
  check_grads(c2, "conv2d", [&] { return c2(ref()("conv2d.x")); });

  for (bool bias : {false, true}) {
    std::string c = bias ? "mha_bias" : "mha";
    nn::MultiHeadAttention mha(16, 4, bias);
    std::vector<std::string> names;
    for (auto& [n, v] : mha.parameters()) names.push_back(n);
    mha.load_weights(ref().weights(c, names));
    check_grads(mha, c, [&] { return mha(ref()(c + ".q"), ref()(c + ".k"), ref()(c + ".v"), ref()(c + ".mask")); });
  }
}

// ---------------------------------------------------------------- quantized layers

TEST(NnQuantized, LinearEmbeddingAndQuantizePass) {
  nn::Linear lin(128, 16);
  array x = random::normal({3, 128});
  auto q = nn::QuantizedLinear::from_linear(lin, 64, 4);
  array w = dequantize(q->param("weight"), q->param("scales"), q->param("biases"), 64, 4);
  expect_close((*q)(x), add(matmul(x, transpose(w)), lin.param("bias")), "qlinear vs dequantized", 1e-4f, 1e-5f);
  // Fine-tuning around frozen quantized weights (the bias here; LoRA adapters in general).
  q->unfreeze();
  auto [qloss, qgrads] = nn::value_and_grad(*q, [&](const std::vector<array>& in) { return sum((*q)(in[0])); })({x});
  EXPECT_EQ(keys(qgrads), std::vector<std::string>{"bias"});
  expect_close(qgrads.at("bias"), full({16}, 3.0f), "qlinear bias grad", 0, 0);
  // 8 bits stays close to the float layer.
  auto q8 = nn::QuantizedLinear::from_linear(lin, 32, 8);
  expect_close((*q8)(x), lin(x), "8-bit qlinear", 0.0f, 2e-2f);

  nn::Embedding emb(40, 64);
  auto qe = nn::QuantizedEmbedding::from_embedding(emb, 32, 6);
  array idx = array({3, 0, 39, 3}, {2, 2}, int32);
  array table = dequantize(qe->param("weight"), qe->param("scales"), qe->param("biases"), 32, 6);
  expect_close((*qe)(idx), take(table, idx, 0), "qembedding rows", 0, 0);
  array h = random::normal({5, 64});
  expect_close(qe->as_linear(h), matmul(h, transpose(table)), "qembedding as_linear", 1e-4f, 1e-4f);
  expect_close(qe->as_linear(h), emb.as_linear(h), "qembedding ~ embedding", 0.0f, 0.1f);

  // nn::quantize swaps layers in place; parents that call children by name use the new ones.
  TinyLm m(2);
  m.register_module("head", std::make_shared<nn::Linear>(8, 5));
  auto model = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      std::make_shared<nn::Linear>(64, 64), std::make_shared<nn::MultiHeadAttention>(64, 4),
      std::make_shared<nn::Linear>(64, 10)});
  array before = random::normal({2, 3, 64});
  auto done = nn::quantize(*model, 32, 8, [](const std::string& path, const nn::Module& mod) {
    return mod.type_name() == "Linear" && path != "layers.2";
  });
  EXPECT_EQ(done, (std::vector<std::string>{"layers.0", "layers.1.query_proj", "layers.1.key_proj",
                                            "layers.1.value_proj", "layers.1.out_proj"}));
  EXPECT_EQ((*model)[0].type_name(), "QuantizedLinear");
  EXPECT_EQ(model->child("layers.1.out_proj").type_name(), "QuantizedLinear");
  EXPECT_EQ((*model)[2].type_name(), "Linear");
  EXPECT_TRUE(model->parameters().count("layers.1.key_proj.scales"));
  // Attention calls the quantized projections: a forward through the whole model works.
  array hid = (*model)[0](before);
  EXPECT_EQ(dynamic_cast<nn::MultiHeadAttention&>((*model)[1])(hid, hid, hid).shape(), (Shape{2, 3, 64}));

  // Default predicate: every Linear/Embedding whose input axis is a multiple of group_size.
  auto lm_done = nn::quantize(m, 32, 4);
  EXPECT_TRUE(lm_done.empty());  // 8-wide layers do not divide into groups of 32
  TinyLm big(1);
  big.register_module("head", std::make_shared<nn::Linear>(64, 5));
  EXPECT_EQ(nn::quantize(big, 64, 4), std::vector<std::string>{"head"});
}

// ---------------------------------------------------------------- initializers

TEST(NnInit, Initializers) {
  array w = zeros({300, 200});
  auto [fi, fo] = nn::init::calculate_fans(w.shape());
  EXPECT_EQ(fi, 200);
  EXPECT_EQ(fo, 300);
  auto conv = nn::init::calculate_fans({8, 3, 3, 4});
  EXPECT_EQ(conv.first, 36);
  EXPECT_EQ(conv.second, 72);
  EXPECT_THROW(nn::init::calculate_fans({5}), std::invalid_argument);

  expect_close(nn::init::constant(0.5f)(w), full({300, 200}, 0.5f), "constant", 0, 0);
  expect_close(nn::init::identity()(zeros({4, 4})), eye(4), "identity", 0, 0);
  EXPECT_THROW(nn::init::identity()(w), std::invalid_argument);

  array n = nn::init::normal(1.0f, 2.0f)(w);
  EXPECT_NEAR(mean(n).item<float>(), 1.0f, 0.03f);
  EXPECT_NEAR(std(n).item<float>(), 2.0f, 0.03f);
  array u = nn::init::uniform(-3.0f, -1.0f)(w);
  EXPECT_GE(min(u).item<float>(), -3.0f);
  EXPECT_LE(max(u).item<float>(), -1.0f);

  float glorot_limit = std::sqrt(6.0f / 500.0f);
  array gu = nn::init::glorot_uniform()(w);
  EXPECT_LE(max(abs(gu)).item<float>(), glorot_limit);
  EXPECT_NEAR(std(gu).item<float>(), glorot_limit / std::sqrt(3.0f), 2e-3f);
  EXPECT_NEAR(std(nn::init::glorot_normal(2.0f)(w)).item<float>(), 2.0f * std::sqrt(2.0f / 500.0f), 3e-3f);
  EXPECT_NEAR(std(nn::init::he_normal()(w)).item<float>(), 1.0f / std::sqrt(200.0f), 1e-3f);
  EXPECT_NEAR(std(nn::init::he_normal("fan_out")(w)).item<float>(), 1.0f / std::sqrt(300.0f), 1e-3f);
  array hu = nn::init::he_uniform("fan_in", 1.0f, bfloat16)(w);
  EXPECT_EQ(hu.dtype(), bfloat16);
  EXPECT_LE(max(abs(astype(hu, float32))).item<float>(), std::sqrt(3.0f / 200.0f) * 1.01f);
  EXPECT_THROW(nn::init::he_uniform("fan_sideways")(w), std::invalid_argument);
  // A key makes an initializer repeatable.
  array k = random::key(7);
  expect_close(nn::init::he_normal("fan_in", 1.0f, float32, k)(w), nn::init::he_normal("fan_in", 1.0f, float32, k)(w),
               "keyed", 0, 0);
}

TEST(NnModule, SetDtypeCastsFloatsOnly) {
  nn::Sequential m({std::make_shared<nn::Linear>(64, 8), std::make_shared<nn::QuantizedLinear>(64, 8)});
  m.set_dtype(bfloat16);
  Params p = m.parameters();
  EXPECT_EQ(p.at("layers.0.weight").dtype(), bfloat16);
  EXPECT_EQ(p.at("layers.1.scales").dtype(), bfloat16);
  EXPECT_EQ(p.at("layers.1.weight").dtype(), uint32);
  EXPECT_EQ(m[0](astype(ones({2, 64}), bfloat16)).dtype(), bfloat16);
}

}  // namespace
}  // namespace tessera
