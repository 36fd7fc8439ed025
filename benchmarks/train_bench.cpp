// One training step (forward, backward, clip-free AdamW update, one eval) of the model: a
// 6-layer, 256-wide decoder-only transformer (4 heads, RoPE, causal sdpa, RMSNorm, SwiGLU MLP of
// hidden 1024, untied 4096-token head) on batch 8 x sequence 256, through train::Trainer.
// "f32" trains in float32; "bf16" in bfloat16 with float32 master weights (the Trainer's mixed
// precision), which is what benchmarks/train_peer.py compares with torch.autocast(bfloat16);
// "compiled" runs forward and backward through tessera::compile (TrainerOptions::compile).
// Counters: tokens/s, peak_bytes (the allocator's peak during the timed steps, model and
// optimizer state included) and ms per step. The same numbers as JSON with
// --benchmark_format=json.
#include <cmath>

#include "bench_common.h"
#include "tessera/compile.h"
#include "tessera/fast.h"
#include "tessera/lm/causal_lm.h"
#include "tessera/nn.h"
#include "tessera/optimizers.h"
#include "tessera/train.h"

namespace {

namespace tb = ::tessera;
namespace nn = ::tessera::nn;

constexpr int kLayers = 6, kDims = 256, kHeads = 4, kHidden = 1024, kVocab = 4096, kBatch = 8, kSeq = 256;

// BM_Phase's third argument: attention from plain ops in the model's dtype instead of
// fast::scaled_dot_product_attention, whose gradient goes through its float32 decomposition.
bool composite_attention = false;

tb::array attend(const tb::array& q, const tb::array& k, const tb::array& v, float scale) {
  const int l = q.shape(2);
  tb::array scores = tb::multiply(tb::matmul(q, tb::swapaxes(k, -1, -2)), tb::array(scale, q.dtype()));
  tb::array keep = tb::greater_equal(tb::expand_dims(tb::arange(l), 1), tb::expand_dims(tb::arange(l), 0));
  scores = tb::where(keep, scores, tb::array(-INFINITY, q.dtype()));
  return tb::matmul(tb::softmax(scores, -1, true), v);
}

class Attention : public nn::Module {
 public:
  Attention() {
    for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      register_module(n, std::make_shared<nn::Linear>(kDims, kDims, false));
    }
  }
  std::vector<tb::array> forward(const std::vector<tb::array>& in) override {
    const tb::array& x = single_input(in);
    const int b = x.shape(0), l = x.shape(1), hd = kDims / kHeads;
    auto heads = [&](const tb::array& z) { return tb::transpose(tb::reshape(z, {b, l, kHeads, hd}), {0, 2, 1, 3}); };
    tb::array q = tb::fast::rope(heads(child("q_proj")(x)), hd, false, 10000.0f, 1.0f, 0);
    tb::array k = tb::fast::rope(heads(child("k_proj")(x)), hd, false, 10000.0f, 1.0f, 0);
    tb::array v = heads(child("v_proj")(x));
    const float scale = 1.0f / std::sqrt(float(hd));
    tb::array o = composite_attention ? attend(q, k, v, scale)
                                      : tb::fast::scaled_dot_product_attention(q, k, v, scale, "causal");
    return {child("o_proj")(tb::reshape(tb::transpose(o, {0, 2, 1, 3}), {b, l, kDims}))};
  }
};

class SwiGLU : public nn::Module {
 public:
  SwiGLU() {
    register_module("gate", std::make_shared<nn::Linear>(kDims, kHidden, false));
    register_module("up", std::make_shared<nn::Linear>(kDims, kHidden, false));
    register_module("down", std::make_shared<nn::Linear>(kHidden, kDims, false));
  }
  std::vector<tb::array> forward(const std::vector<tb::array>& in) override {
    const tb::array& x = single_input(in);
    return {child("down")(tb::multiply(nn::silu(child("gate")(x)), child("up")(x)))};
  }
};

class Block : public nn::Module {
 public:
  Block() {
    register_module("norm1", std::make_shared<nn::RMSNorm>(kDims));
    register_module("attn", std::make_shared<Attention>());
    register_module("norm2", std::make_shared<nn::RMSNorm>(kDims));
    register_module("mlp", std::make_shared<SwiGLU>());
  }
  std::vector<tb::array> forward(const std::vector<tb::array>& in) override {
    tb::array x = single_input(in);
    x = tb::add(x, child("attn")(child("norm1")(x)));
    return {tb::add(x, child("mlp")(child("norm2")(x)))};
  }
};

class Decoder : public nn::Module {
 public:
  Decoder() {
    register_module("embed", std::make_shared<nn::Embedding>(kVocab, kDims));
    std::vector<nn::ModulePtr> layers;
    for (int i = 0; i < kLayers; ++i) layers.push_back(std::make_shared<Block>());
    register_modules("layers", layers);
    register_module("norm", std::make_shared<nn::RMSNorm>(kDims));
    register_module("lm_head", std::make_shared<nn::Linear>(kDims, kVocab, false));
  }
  std::vector<tb::array> forward(const std::vector<tb::array>& in) override {
    tb::array x = child("embed")(single_input(in));
    for (int i = 0; i < kLayers; ++i) x = child("layers." + std::to_string(i))(x);
    return {child("lm_head")(child("norm")(x))};
  }
};

// Random token ids [batch, seq + 1]: the inputs and, shifted by one, the targets.
tb::array tokens(uint64_t seed, int batch = kBatch, int seq = kSeq, int vocab = kVocab) {
  auto v = tessera_bench::host_values(size_t(batch) * (seq + 1), seed, 0.0f, float(vocab));
  std::vector<int32_t> t(v.size());
  for (size_t i = 0; i < v.size(); ++i) t[i] = std::min(vocab - 1, int32_t(v[i]));
  return tb::array(t.begin(), tb::Shape{batch, seq + 1}, tb::int32);
}

// Times train::Trainer steps of `model` (next-token cross-entropy, logits in float32) on one fixed
// batch of random tokens, after two warm-up steps (optimizer state, allocator cache, BLAS
// threads); reports tokens/s, the loss and the allocator's peak.
void time_steps(benchmark::State& state, nn::Module& model, tb::optimizers::Optimizer& opt,
                const tb::train::TrainerOptions& options, int batch, int seq, int vocab) {
  tb::train::Trainer trainer(
      model, opt,
      [&model](const std::vector<tb::array>& b) {
        tb::array logits = tb::astype(model(b[0]), tb::float32);
        return nn::losses::cross_entropy(logits, b[1], std::nullopt, -1, 0.0f, nn::losses::Reduction::mean);
      },
      options);
  tb::array ids = tokens(1, batch, seq, vocab);
  tb::array inputs = tb::slice(ids, {0, 0}, {batch, seq});
  tb::array targets = tb::slice(ids, {0, 1}, {batch, seq + 1});
  tb::eval({inputs, targets});
  float first = trainer.step({inputs, targets}).loss;
  trainer.step({inputs, targets});
  tessera_bench::PeakMemory peak;
  float loss = first;
  for (auto _ : state) loss = trainer.step({inputs, targets}).loss;
  peak.report(state);
  if (!std::isfinite(loss) || !(loss < first)) state.SkipWithError("the loss did not go down");
  state.counters["tokens/s"] = benchmark::Counter(double(batch) * seq, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["loss"] = loss;
}

void BM_TrainStep(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1;
  tb::random::seed(0);
  Decoder model;
  tb::optimizers::AdamW opt(3e-4f, {0.9f, 0.95f}, 1e-8f, 0.1f);
  tb::train::TrainerOptions options;
  options.compile = state.range(1) == 1;
  if (bf16) options.precision.compute_dtype = tb::bfloat16;
  time_steps(state, model, opt, options, kBatch, kSeq, kVocab);
  state.SetLabel(std::string(bf16 ? "bf16 (float32 masters)" : "f32") + (options.compile ? ", compiled" : ""));
}

// The step's phases, to see where its time goes: the forward pass with the loss alone, and
// forward plus backward (loss and every gradient evaluated, no update). The update's share is
// BM_TrainStep minus BM_ForwardBackward.
void BM_Phase(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1, backward = state.range(1) == 1;
  composite_attention = state.range(2) == 1;
  tb::random::seed(0);
  Decoder model;
  if (bf16) model.set_dtype(tb::bfloat16);
  auto loss_fn = [&model](const std::vector<tb::array>& b) {
    tb::array logits = tb::astype(model(b[0]), tb::float32);
    return nn::losses::cross_entropy(logits, b[1], std::nullopt, -1, 0.0f, nn::losses::Reduction::mean);
  };
  auto vg = nn::value_and_grad(model, std::function<tb::array(const std::vector<tb::array>&)>(loss_fn));
  tb::array seq = tokens(1);
  tb::array inputs = tb::slice(seq, {0, 0}, {kBatch, kSeq});
  tb::array targets = tb::slice(seq, {0, 1}, {kBatch, kSeq + 1});
  tb::eval({inputs, targets});
  const bool compiled = state.range(3) == 1;
  // Compiled forward+backward: the trainable parameters become the compiled function's leading
  // inputs (captured arrays would be frozen into the trace).
  std::vector<std::string> names;
  for (auto& [name, p] : model.trainable_parameters()) names.push_back(name);
  auto cfn = tb::compile([&](const std::vector<tb::array>& args) {
    nn::Params traced, saved = model.trainable_parameters();
    for (size_t i = 0; i < names.size(); ++i) traced.insert_or_assign(names[i], args[i]);
    model.update(traced);
    auto [loss, grads] = vg({args[names.size()], args[names.size() + 1]});
    model.update(saved);
    std::vector<tb::array> outs{loss};
    for (auto& n : names) outs.push_back(grads.at(n));
    return outs;
  });
  auto run = [&] {
    if (compiled) {
      std::vector<tb::array> args;
      for (auto& [name, p] : model.trainable_parameters()) args.push_back(p);
      args.push_back(inputs);
      args.push_back(targets);
      tb::eval(cfn(args));
      return;
    }
    if (!backward) {
      tb::array loss = loss_fn({inputs, targets});
      tb::eval(loss);
      return;
    }
    auto [loss, grads] = vg({inputs, targets});
    std::vector<tb::array> outs{loss};
    for (auto& [name, g] : grads) outs.push_back(g);
    tb::eval(outs);
  };
  run();
  tessera_bench::PeakMemory peak;
  for (auto _ : state) run();
  peak.report(state);
  state.counters["tokens/s"] = benchmark::Counter(double(kBatch) * kSeq, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(bf16 ? "bf16" : "f32") + (backward ? " forward+backward" : " forward") +
                 (composite_attention ? ", composite attention" : "") + (compiled ? ", compiled" : ""));
  composite_attention = false;
}

// One step of `tessera train`'s own model and loss (lm::CausalLM through train::Trainer with
// global-norm clipping, as lm::train_causal_lm runs it) in the configuration of the bundled
// Shakespeare model: 4 layers, 256 wide, 4 heads, SwiGLU hidden 688, tied 1024-token embedding,
// batch 16 x sequence 256. The peer is `train_peer.py --shape demo`.
void BM_LMTrainStep(benchmark::State& state) {
  const bool bf16 = state.range(0) == 1;
  constexpr int kDemoVocab = 1024, kDemoBatch = 16, kDemoSeq = 256;
  tb::lm::ModelConfig c;
  c.vocab_size = kDemoVocab;
  c.hidden_size = 256;
  c.num_layers = 4;
  c.num_heads = 4;
  c.num_kv_heads = 4;
  c.head_dim = 64;
  c.intermediate_size = 688;
  c.tie_word_embeddings = true;
  tb::random::seed(0);
  tb::lm::CausalLM model(c);
  tb::optimizers::AdamW opt(2e-3f, {0.9f, 0.95f}, 1e-8f, 0.1f);
  tb::train::TrainerOptions options;
  options.clip_grad_norm = 1.0f;
  if (bf16) options.precision.compute_dtype = tb::bfloat16;
  time_steps(state, model, opt, options, kDemoBatch, kDemoSeq, kDemoVocab);
  state.SetLabel(bf16 ? "demo model, bf16 (float32 masters)" : "demo model, f32");
}

}  // namespace

BENCHMARK(BM_LMTrainStep)->ArgNames({"bf16"})->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);
BENCHMARK(BM_Phase)
    ->ArgNames({"bf16", "backward", "composite_attn", "compiled"})
    ->Args({0, 0, 0, 0})
    ->Args({0, 1, 0, 0})
    ->Args({1, 0, 0, 0})
    ->Args({1, 1, 0, 0})
    ->Args({0, 1, 1, 0})
    ->Args({1, 1, 1, 0})
    ->Args({0, 1, 0, 1})
    ->Args({1, 1, 0, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);
BENCHMARK(BM_TrainStep)
    ->ArgNames({"bf16", "compiled"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);
BENCHMARK_MAIN();
