// Trainer: an MLP learning the digits set past 97%, mixed precision against float32, float32
// masters, dynamic loss scaling (skips, backoff, growth) and an exact in-process resume of a
// bfloat16 run.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "tessera/optimizers.h"
#include "tessera/train.h"
#include "testing/train_data.h"

namespace tessera {
namespace {

using testing::Cursor;
using testing::Digits;

constexpr int kTrain = 4000, kTest = 1000, kBatch = 100;

const Digits& train_set() {
  static const Digits d = testing::make_digits(kTrain, 1);
  return d;
}
const Digits& test_set() {
  static const Digits d = testing::make_digits(kTest, 2);
  return d;
}

train::Trainer::LossFn ce_loss(nn::Module& model) {
  return [&model](const std::vector<array>& b) {
    // Logits in float32 before the softmax, whatever the compute dtype.
    return nn::losses::cross_entropy(astype(model(b[0]), float32), b[1], std::nullopt, -1, 0.0f,
                                     nn::losses::Reduction::mean);
  };
}

struct DigitsRun {
  std::vector<float> losses;
  float accuracy = 0.0f;
  double seconds = 0.0;
};

// Trains a fresh 64-128-10 MLP for `steps` steps on the digits set.
DigitsRun train_digits(int steps, train::MixedPrecision precision, std::shared_ptr<nn::Sequential>* keep = nullptr) {
  random::seed(7);
  auto model = testing::make_mlp(128, 0.0f);
  optimizers::AdamW opt(3e-3f, {0.9f, 0.999f}, 1e-8f, 1e-4f);
  train::Trainer trainer(*model, opt, ce_loss(*model), {.clip_grad_norm = 5.0f, .precision = precision});
  DigitsRun run;
  Cursor c;
  auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    auto r = trainer.step(train_set().batch(testing::batch_indices(c, kTrain, kBatch)));
    run.losses.push_back(r.loss);
    c = testing::advance(c, kTrain, kBatch);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.accuracy = testing::accuracy(*model, test_set());
  if (keep) *keep = model;
  return run;
}

TEST(TrainingTest, MlpReachesAbove97PercentOnDigits) {
  DigitsRun run = train_digits(400, {});  // 10 epochs
  std::cout << "digits MLP: test accuracy " << run.accuracy << ", final loss " << run.losses.back() << ", "
            << run.seconds << " s for 400 steps\n";
  EXPECT_GT(run.accuracy, 0.97f);
  EXPECT_LT(run.losses.back(), 0.1f);
}

TEST(TrainingTest, Bfloat16MixedPrecisionTracksFloat32WithFloat32Masters) {
  const int steps = 300;
  DigitsRun f32 = train_digits(steps, {});
  std::shared_ptr<nn::Sequential> model;
  DigitsRun bf16 = train_digits(steps, {.compute_dtype = bfloat16}, &model);
  std::cout << "float32: accuracy " << f32.accuracy << ", loss " << f32.losses.back() << "; bfloat16: accuracy "
            << bf16.accuracy << ", loss " << bf16.losses.back() << "\n";
  for (const auto& [name, p] : model->parameters()) EXPECT_EQ(p.dtype(), bfloat16) << name;
  EXPECT_GT(bf16.accuracy, 0.96f);
  EXPECT_NEAR(bf16.accuracy, f32.accuracy, 0.015f);
  // Step for step, the two runs stay close (bfloat16 keeps about 3 significant digits).
  double worst = 0.0;
  for (int s = 0; s < steps; ++s) {
    worst = std::max(worst, double(std::abs(bf16.losses[size_t(s)] - f32.losses[size_t(s)])));
  }
  EXPECT_LT(worst, 0.15) << "largest per-step loss difference";
  double tail_f32 = 0.0, tail_bf16 = 0.0;
  for (int s = steps - 40; s < steps; ++s) {
    tail_f32 += f32.losses[size_t(s)];
    tail_bf16 += bf16.losses[size_t(s)];
  }
  EXPECT_NEAR(tail_bf16 / 40, tail_f32 / 40, 0.03 + 0.2 * tail_f32 / 40);
}

TEST(TrainingTest, MastersStayFloat32AndModelComputesInBfloat16) {
  random::seed(3);
  auto model = testing::make_mlp(32, 0.0f);
  optimizers::Adam opt(1e-3f);
  train::Trainer trainer(*model, opt, ce_loss(*model), {.precision = {.compute_dtype = bfloat16}});
  ASSERT_TRUE(trainer.mixed_precision());
  ASSERT_EQ(trainer.master_weights().size(), 4u);
  nn::Params before = trainer.master_weights();
  for (int s = 0; s < 3; ++s) trainer.step(train_set().batch(testing::batch_indices({0, uint64_t(s)}, kTrain, 50)));
  for (const auto& [name, m] : trainer.master_weights()) {
    EXPECT_EQ(m.dtype(), float32) << name;
    // The model holds the masters rounded to bfloat16.
    EXPECT_TRUE(array_equal(astype(m, bfloat16), model->parameters().at(name)).item<bool>()) << name;
    EXPECT_FALSE(array_equal(m, before.at(name)).item<bool>()) << name << " did not move";
  }
  for (const auto& [key, st] : opt.state()) {
    if (key != "adam.step") {
      EXPECT_EQ(st.dtype(), float32) << key;
    }
  }
  // Updates smaller than bfloat16's resolution still accumulate in the masters.
  EXPECT_EQ(trainer.loss_scale(), 1.0f);
}

TEST(TrainingTest, DynamicLossScalingSkipsOverflowAndAdjustsTheScale) {
  random::seed(4);
  auto model = testing::make_mlp(32, 0.0f);
  optimizers::SGD opt(0.1f);
  // float16, where scaling matters: its largest value is 65504.
  train::MixedPrecision mp{.compute_dtype = float16,
                           .loss_scaling = train::LossScaling::dynamic,
                           .init_scale = std::ldexp(1.0f, 30),
                           .growth_interval = 2};
  train::Trainer trainer(*model, opt, ce_loss(*model), {.precision = mp});
  auto batch = train_set().batch(testing::batch_indices({}, kTrain, 50));
  nn::Params before = trainer.master_weights();

  // Gradients scaled by 2^30 overflow float16: the step is skipped and nothing moves.
  auto r = trainer.step(batch);
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.loss_scale, std::ldexp(1.0f, 30));
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_EQ(trainer.loss_scale(), std::ldexp(1.0f, 29));
  EXPECT_EQ(opt.step(), 0);
  EXPECT_EQ(trainer.step_count(), 1);
  for (const auto& [name, m] : trainer.master_weights()) {
    EXPECT_TRUE(array_equal(m, before.at(name)).item<bool>()) << name;
  }

  int skipped = 1;
  float last_scale = 0.0f;
  for (int s = 0; s < 200 && (last_scale == 0.0f || skipped == 0); ++s) {
    r = trainer.step(batch);
    if (r.skipped) {
      ++skipped;
    } else {
      last_scale = r.loss_scale;
      break;
    }
  }
  ASSERT_GT(last_scale, 0.0f) << "the scale never came down far enough";
  EXPECT_GT(skipped, 1);
  EXPECT_EQ(opt.step(), 1);
  // Two good steps in a row (growth_interval) double the scale.
  r = trainer.step(batch);
  EXPECT_FALSE(r.skipped);
  EXPECT_EQ(trainer.loss_scale(), last_scale * 2.0f);

  // With the scale in range, scaled training follows unscaled training closely.
  for (const auto& [name, m] : trainer.master_weights()) EXPECT_EQ(m.dtype(), float32);
}

TEST(TrainingTest, LossScaleDoesNotChangeTheUpdateBeyondRounding) {
  auto run = [](train::LossScaling scaling) {
    random::seed(5);
    auto model = testing::make_mlp(32, 0.0f);
    optimizers::SGD opt(0.05f);
    train::Trainer trainer(*model, opt, ce_loss(*model),
                           {.precision = {.compute_dtype = bfloat16, .loss_scaling = scaling, .init_scale = 1024.0f}});
    std::vector<float> losses;
    for (int s = 0; s < 20; ++s) {
      losses.push_back(trainer.step(train_set().batch(testing::batch_indices({0, uint64_t(s)}, kTrain, 100))).loss);
    }
    return losses;
  };
  auto plain = run(train::LossScaling::none);
  auto scaled = run(train::LossScaling::dynamic);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NEAR(scaled[i], plain[i], 0.02f + 0.02f * plain[i]) << i;
}

TEST(TrainingTest, Bfloat16RunResumesExactlyFromItsCheckpoint) {
  testing::TempDir tmp;
  auto make = [&](uint64_t seed, std::shared_ptr<nn::Sequential>& model, std::unique_ptr<optimizers::AdamW>& opt) {
    random::seed(seed);
    model = testing::make_mlp(64, 0.2f);
    opt = std::make_unique<optimizers::AdamW>(optimizers::join_schedules(
        {optimizers::linear_schedule(0.0f, 3e-3f, 5), optimizers::cosine_decay(3e-3f, 40)}, {5}));
    return std::make_unique<train::Trainer>(
        *model, *opt, ce_loss(*model),
        train::TrainerOptions{.clip_grad_norm = 1.0f,
                              .precision = {.compute_dtype = bfloat16, .loss_scaling = train::LossScaling::dynamic},
                              .checkpoint_dir = tmp.str(),
                              .checkpoint_every = 10});
  };
  auto run = [&](train::Trainer& t, int until, std::vector<float>& losses) {
    while (t.step_count() < until) {
      Cursor c = t.data_state().empty() ? Cursor{} : train::unpack<Cursor>(t.data_state());
      t.set_data_state(train::pack(testing::advance(c, kTrain, kBatch)));
      losses.push_back(t.step(train_set().batch(testing::batch_indices(c, kTrain, kBatch))).loss);
    }
  };
  std::shared_ptr<nn::Sequential> m1, m2;
  std::unique_ptr<optimizers::AdamW> o1, o2;
  auto t1 = make(11, m1, o1);
  std::vector<float> straight;
  run(*t1, 25, straight);

  // The checkpoint at step 20 holds float32 masters.
  auto c = train::load_checkpoint(train::CheckpointManager(tmp.str()).path_for(20));
  for (const auto& [name, p] : c.model) EXPECT_EQ(p.dtype(), float32) << name;
  EXPECT_EQ(c.metadata.at("compute_dtype"), "bfloat16");

  auto t2 = make(999, m2, o2);
  auto from = t2->resume();
  ASSERT_TRUE(from.has_value());
  EXPECT_EQ(t2->step_count(), 20);
  std::vector<float> resumed;
  run(*t2, 25, resumed);
  ASSERT_EQ(resumed.size(), 5u);
  for (size_t i = 0; i < resumed.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &straight[20 + i], 4);
    std::memcpy(&b, &resumed[i], 4);
    EXPECT_EQ(a, b) << "step " << 21 + i << ": " << straight[20 + i] << " vs " << resumed[i];
  }
  for (const auto& [name, p] : m1->parameters()) {
    EXPECT_TRUE(array_equal(p, m2->parameters().at(name)).item<bool>()) << name;
  }
}

TEST(TrainingTest, CompiledStepsFollowEagerSteps) {
  // Float16 with dynamic scaling from an overflowing scale: the scale is an input of the
  // compiled graph, so its changes reach the replays.
  for (Dtype dt : {float32, float16}) {
    auto run = [&](bool compiled) {
      random::seed(6);
      auto model = testing::make_mlp(32, 0.0f);
      optimizers::Adam opt(1e-2f);
      train::TrainerOptions o{.clip_grad_norm = 1.0f, .compile = compiled};
      if (dt == float16) {
        o.precision = {.compute_dtype = float16, .loss_scaling = train::LossScaling::dynamic,
                       .init_scale = std::ldexp(1.0f, 24), .growth_interval = 3};
      }
      train::Trainer trainer(*model, opt, ce_loss(*model), o);
      std::vector<train::StepResult> out;
      for (int s = 0; s < 25; ++s) {
        out.push_back(trainer.step(train_set().batch(testing::batch_indices({0, uint64_t(s)}, kTrain, 100))));
      }
      return out;
    };
    auto eager = run(false), compiled = run(true);
    int skipped = 0;
    for (size_t i = 0; i < eager.size(); ++i) {
      EXPECT_EQ(compiled[i].skipped, eager[i].skipped) << dtype_name(dt) << " step " << i;
      EXPECT_EQ(compiled[i].loss_scale, eager[i].loss_scale) << dtype_name(dt) << " step " << i;
      EXPECT_NEAR(compiled[i].loss, eager[i].loss, 2e-3f * std::max(1.0f, eager[i].loss)) << dtype_name(dt) << " step " << i;
      skipped += eager[i].skipped;
    }
    if (dt == float16) {
      EXPECT_GT(skipped, 0);
    }
  }
}

TEST(TrainingTest, CompileRefusesALossThatDrawsRandomNumbers) {
  random::seed(8);
  auto model = testing::make_mlp(16, 0.5f);
  optimizers::SGD opt(0.1f);
  train::Trainer trainer(*model, opt, ce_loss(*model), {.compile = true});
  array before = random::get_state();
  auto batch = train_set().batch(testing::batch_indices({}, kTrain, 20));
  try {
    trainer.step(batch);
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("global random key"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(array_equal(random::get_state(), before).item<bool>());
  EXPECT_EQ(trainer.step_count(), 0);
  EXPECT_EQ(opt.step(), 0);
}

TEST(TrainingTest, OptionsAreChecked) {
  auto model = testing::make_mlp(8, 0.0f);
  optimizers::SGD opt(0.1f);
  EXPECT_THROW(train::Trainer(*model, opt, ce_loss(*model), {.precision = {.compute_dtype = int32}}),
               std::invalid_argument);
  EXPECT_THROW(train::Trainer(*model, opt, ce_loss(*model), {.checkpoint_every = 5}), std::invalid_argument);
  EXPECT_THROW(train::Trainer(*model, opt, ce_loss(*model), {.clip_grad_norm = 0.0f}), std::invalid_argument);
  train::Trainer t(*model, opt, ce_loss(*model));
  EXPECT_THROW(t.save_checkpoint(), std::invalid_argument);
  EXPECT_THROW(t.resume(), std::invalid_argument);
}

}  // namespace
}  // namespace tessera
