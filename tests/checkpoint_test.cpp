// Checkpoints: round trip, damage detection (flipped byte, truncation, broken manifest) with
// fallback to the previous good checkpoint, pruning, and the kill-and-resume test: a training
// process killed with SIGKILL resumes from its last checkpoint and produces the same losses, bit
// for bit, as a run that was never interrupted.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tessera/optimizers.h"
#include "tessera/train.h"
#include "testing/train_data.h"
#include "testing/errors.h"

extern char** environ;

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing::Cursor;
using testing::TempDir;

train::Checkpoint sample_checkpoint(int64_t step) {
  train::Checkpoint c;
  c.step = step;
  c.model.emplace("layers.0.weight", random::normal({4, 3}, float32, random::key(uint64_t(step))));
  c.model.emplace("layers.0.bias", astype(arange(4), bfloat16));
  c.optimizer.emplace("adam.m.layers.0.weight", full({4, 3}, 0.5f));
  c.optimizer.emplace("adam.step", array(int(step), int32));
  c.rng_state = random::key(1234 + uint64_t(step));
  c.data_state = train::pack(Cursor{2, uint64_t(step)});
  c.metadata["optimizer"] = "adam";
  return c;
}

using tessera::testing::error_of;

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(std::streamoff(offset));
  char c;
  f.read(&c, 1);
  c = char(c ^ 0x40);
  f.seekp(std::streamoff(offset));
  f.write(&c, 1);
}

TEST(CheckpointTest, RoundTripKeepsEveryPart) {
  TempDir tmp;
  auto c = sample_checkpoint(7);
  const std::string path = tmp.file("ck");
  train::save_checkpoint(path, c);
  EXPECT_TRUE(fs::exists(path + "/manifest.json"));
  auto back = train::load_checkpoint(path);
  EXPECT_EQ(back.step, 7);
  ASSERT_EQ(back.model.size(), 2u);
  for (const auto& [name, a] : c.model) {
    EXPECT_EQ(back.model.at(name).dtype(), a.dtype()) << name;
    EXPECT_TRUE(array_equal(back.model.at(name), a).item<bool>()) << name;
  }
  EXPECT_TRUE(array_equal(back.optimizer.at("adam.m.layers.0.weight"), c.optimizer.at("adam.m.layers.0.weight"))
                  .item<bool>());
  EXPECT_EQ(back.optimizer.at("adam.step").item<int>(), 7);
  ASSERT_TRUE(back.rng_state.has_value());
  EXPECT_TRUE(array_equal(*back.rng_state, *c.rng_state).item<bool>());
  auto cur = train::unpack<Cursor>(back.data_state);
  EXPECT_EQ(cur.epoch, 2u);
  EXPECT_EQ(cur.index, 7u);
  EXPECT_EQ(back.metadata.at("optimizer"), "adam");
  // Nothing but the checkpoint itself is left in the parent directory.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path)) entries += e.path().filename() != "ck";
  EXPECT_EQ(entries, 0);
}

TEST(CheckpointTest, RngStateRestoresTheGlobalSequence) {
  random::seed(77);
  array saved = random::get_state();
  array a = random::uniform({8});
  array b = random::normal({8});
  random::seed(5);
  random::uniform({3});
  random::set_state(saved);
  EXPECT_TRUE(array_equal(random::uniform({8}), a).item<bool>());
  EXPECT_TRUE(array_equal(random::normal({8}), b).item<bool>());
  EXPECT_THROW(random::set_state(array({1.0f, 2.0f})), std::invalid_argument);
}

TEST(CheckpointTest, FlippedByteNamesTheFileAndResumeFallsBack) {
  TempDir tmp;
  train::CheckpointManager mgr(tmp.str(), 5);
  mgr.save(sample_checkpoint(5));
  const std::string p10 = mgr.save(sample_checkpoint(10));
  ASSERT_EQ(mgr.latest(), p10);

  flip_byte(p10 + "/model.safetensors", fs::file_size(p10 + "/model.safetensors") - 3);
  std::string err = error_of([&] { train::load_checkpoint(p10); });
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  EXPECT_NE(err.find("CRC-32"), std::string::npos) << err;
  EXPECT_NE(err.find("corrupted"), std::string::npos) << err;

  auto resumed = mgr.load_latest();
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->checkpoint.step, 5);
  ASSERT_EQ(resumed->skipped.size(), 1u);
  EXPECT_NE(resumed->skipped[0].find("model.safetensors"), std::string::npos);
  // The damaged checkpoint is reported, not deleted; the good one still loads.
  EXPECT_TRUE(fs::exists(p10 + "/model.safetensors"));
  EXPECT_EQ(train::load_checkpoint(mgr.path_for(5)).step, 5);
}

TEST(CheckpointTest, TruncatedFileIsReportedAsTruncated) {
  TempDir tmp;
  train::CheckpointManager mgr(tmp.str(), 5);
  mgr.save(sample_checkpoint(1));
  const std::string p2 = mgr.save(sample_checkpoint(2));
  const std::string file = p2 + "/optimizer.safetensors";
  fs::resize_file(file, fs::file_size(file) / 2);
  std::string err = error_of([&] { train::verify_checkpoint(p2); });
  EXPECT_NE(err.find("optimizer.safetensors"), std::string::npos) << err;
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  EXPECT_EQ(mgr.load_latest()->checkpoint.step, 1);
}

TEST(CheckpointTest, DamagedOrMissingManifestIsAClearError) {
  TempDir tmp;
  train::CheckpointManager mgr(tmp.str(), 5);
  mgr.save(sample_checkpoint(1));
  const std::string p2 = mgr.save(sample_checkpoint(2));
  const std::string p3 = mgr.save(sample_checkpoint(3));

  // A changed digit keeps the JSON valid; the manifest's own checksum catches it.
  {
    std::ifstream in(p3 + "/manifest.json");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    size_t at = text.find("\"step\": 3");
    ASSERT_NE(at, std::string::npos) << text;
    text[at + 8] = '4';
    std::ofstream(p3 + "/manifest.json", std::ios::trunc) << text;
  }
  std::string err = error_of([&] { train::load_checkpoint(p3); });
  EXPECT_NE(err.find("manifest.json"), std::string::npos) << err;
  EXPECT_NE(err.find("corrupted"), std::string::npos) << err;

  fs::resize_file(p2 + "/manifest.json", 40);
  err = error_of([&] { train::load_checkpoint(p2); });
  EXPECT_NE(err.find("manifest.json"), std::string::npos) << err;
  EXPECT_NE(err.find("not valid JSON"), std::string::npos) << err;

  auto resumed = mgr.load_latest();
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->checkpoint.step, 1);
  EXPECT_EQ(resumed->skipped.size(), 2u);

  fs::remove(p3 + "/manifest.json");
  err = error_of([&] { train::load_checkpoint(p3); });
  EXPECT_NE(err.find("manifest.json: missing"), std::string::npos) << err;
}

TEST(CheckpointTest, KeepLastPrunesOldCheckpointsAndLeftoversOfKilledWriters) {
  TempDir tmp;
  train::CheckpointManager mgr(tmp.str(), 2);
  // What a writer killed mid-save leaves behind; the pid is above Linux's pid_max, so certainly gone.
  const std::string dead = tmp.file(".tmp_step_0000000099_999999999_0");
  fs::create_directories(dead);
  std::ofstream(dead + "/model.safetensors") << "partial";
  for (int s = 1; s <= 5; ++s) mgr.save(sample_checkpoint(s));
  auto all = mgr.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, 4);
  EXPECT_EQ(all[1].first, 5);
  EXPECT_FALSE(fs::exists(dead));
  // A half-written temporary directory is never taken for a checkpoint.
  EXPECT_EQ(mgr.load_latest()->checkpoint.step, 5);
}

TEST(CheckpointTest, SavingTheSameStepAgainReplacesIt) {
  TempDir tmp;
  train::CheckpointManager mgr(tmp.str(), 3);
  mgr.save(sample_checkpoint(4));
  auto c = sample_checkpoint(4);
  c.metadata["optimizer"] = "sgd";
  mgr.save(c);
  EXPECT_EQ(mgr.list().size(), 1u);
  EXPECT_EQ(mgr.load_latest()->checkpoint.metadata.at("optimizer"), "sgd");
}

// ---------------------------------------------------------------- kill and resume

constexpr int kSteps = 30, kKillAfter = 14, kEvery = 3, kData = 400, kBatch = 40;

const testing::Digits& data() {
  static const testing::Digits d = testing::make_digits(kData, 21);
  return d;
}

// The run under test: an MLP with dropout (so the RNG state matters), AdamW with warmup and
// cosine decay (so the step counter matters), clipping, and shuffled epochs (so the data
// position matters).
struct TrainRun {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optimizers::AdamW> opt;
  std::unique_ptr<train::Trainer> trainer;
  explicit TrainRun(const std::string& dir, uint64_t seed) {
    random::seed(seed);
    model = testing::make_mlp(64, 0.25f);
    opt = std::make_unique<optimizers::AdamW>(
        optimizers::join_schedules(
            {optimizers::linear_schedule(0.0f, 5e-3f, 6), optimizers::cosine_decay(5e-3f, kSteps)}, {6}),
        std::pair{0.9f, 0.99f}, 1e-8f, 0.05f);
    nn::Module& m = *model;
    trainer = std::make_unique<train::Trainer>(
        m, *opt,
        [&m](const std::vector<array>& b) {
          return nn::losses::cross_entropy(m(b[0]), b[1], std::nullopt, -1, 0.1f, nn::losses::Reduction::mean);
        },
        train::TrainerOptions{.clip_grad_norm = 1.0f, .checkpoint_dir = dir, .checkpoint_every = kEvery, .keep_last = 2});
  }
  // One step; returns its loss.
  float step() {
    Cursor c = trainer->data_state().empty() ? Cursor{} : train::unpack<Cursor>(trainer->data_state());
    trainer->set_data_state(train::pack(testing::advance(c, kData, kBatch)));
    return trainer->step(data().batch(testing::batch_indices(c, kData, kBatch))).loss;
  }
};

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The child side: runs when the parent test starts this binary with TESSERA_TRAIN_CHILD_DIR set.
// Appends "step loss-bits" per step to losses.txt and sleeps a little so the parent's kill lands
// mid-run.
TEST(CheckpointChild, TrainUntilKilled) {
  const char* dir = std::getenv("TESSERA_TRAIN_CHILD_DIR");
  if (!dir) GTEST_SKIP() << "only runs as the child of CheckpointTest.KillAndResumeReproducesTheLossesBitForBit";
  TrainRun s(std::string(dir) + "/ckpt", 42);
  int fd = ::open((std::string(dir) + "/losses.txt").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  while (s.trainer->step_count() < kSteps) {
    float loss = s.step();
    std::string line = std::to_string(s.trainer->step_count()) + " " + std::to_string(bits(loss)) + "\n";
    ASSERT_EQ(::write(fd, line.data(), line.size()), ssize_t(line.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::close(fd);
}

std::vector<std::pair<int, uint32_t>> read_losses(const std::string& file) {
  std::vector<std::pair<int, uint32_t>> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int step;
    uint64_t b;
    if (ls >> step >> b) out.emplace_back(step, uint32_t(b));
  }
  return out;
}

TEST(CheckpointTest, KillAndResumeReproducesTheLossesBitForBit) {
  TempDir tmp;
  // The uninterrupted run (its own checkpoint directory, unused afterwards).
  std::vector<uint32_t> straight;
  {
    TrainRun s(tmp.file("straight"), 42);
    for (int i = 0; i < kSteps; ++i) straight.push_back(bits(s.step()));
  }

  // The run that gets killed: this test binary again, running only the child test.
  std::string env_dir = "TESSERA_TRAIN_CHILD_DIR=" + tmp.str();
  std::vector<std::string> env_store{env_dir};
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "TESSERA_TRAIN_CHILD_DIR=", 24) != 0) env_store.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  // /proc/self/exe still runs this binary when a rebuild has replaced the file on disk.
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=CheckpointChild.TrainUntilKilled";
  std::vector<char*> argv{exe.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string log = tmp.file("child.log");
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);

  const std::string losses_file = tmp.file("losses.txt");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  bool exited = false;
  while (read_losses(losses_file).size() < size_t(kKillAfter)) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  }
  std::ifstream lg(log);
  std::stringstream child_log;
  child_log << lg.rdbuf();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own before the kill; its output:\n"
      << child_log.str();
  auto child = read_losses(losses_file);
  ASSERT_GE(child.size(), size_t(kKillAfter));
  ASSERT_LT(child.size(), size_t(kSteps)) << "the child finished before it was killed";
  // Across processes too, the same run gives the same bits.
  for (const auto& [step, b] : child) EXPECT_EQ(b, straight[size_t(step - 1)]) << "child step " << step;

  // Resume in this process, whose RNG and model start elsewhere.
  TrainRun r(tmp.file("ckpt"), 1000);
  auto from = r.trainer->resume();
  ASSERT_TRUE(from.has_value()) << "no checkpoint to resume from";
  const int64_t start = r.trainer->step_count();
  std::cout << "killed after " << child.size() << " steps; resumed from " << *from << " (step " << start << ")\n";
  EXPECT_GE(start, (kKillAfter / kEvery) * kEvery);
  EXPECT_LE(start, int64_t(child.size()));
  EXPECT_EQ(start % kEvery, 0);
  for (int64_t s = start + 1; s <= kSteps; ++s) {
    uint32_t b = bits(r.step());
    EXPECT_EQ(b, straight[size_t(s - 1)]) << "step " << s;
  }
  EXPECT_EQ(r.trainer->step_count(), kSteps);
  EXPECT_LE(train::CheckpointManager(tmp.file("ckpt")).list().size(), 2u);
}

}  // namespace
}  // namespace tessera
