// Training checkpoints: everything a run needs to continue exactly where it stopped, in one
// directory per checkpoint.
//
//   <root>/step_0000000100/
//     model.safetensors      weights (float32 master weights when training in mixed precision)
//     optimizer.safetensors  Optimizer::state(), step counter included
//     data_state.bin         the caller's data position, opaque bytes
//     manifest.json          format version, step, RNG key, metadata, and size + CRC-32 of each file;
//                            its own CRC-32 covers everything else in it
//
// Saving writes a hidden temporary directory next to the target, fsyncs every file and the
// directory, then renames it into place, so a checkpoint directory either is complete or does not
// exist; a run killed mid-save leaves the previous checkpoints as they were. Loading checks the
// manifest and every file's size and checksum before reading anything, and a damaged checkpoint
// raises std::runtime_error naming the file ("... step_0000000100/model.safetensors: CRC-32
// 0x1234abcd does not match the manifest's 0x89ab0123 (corrupted)").
//
// One writer per root directory: two processes saving into the same root may remove each other's
// temporary directories.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "tessera/array.h"
#include "tessera/nn/module.h"

namespace tessera::train {

inline constexpr int kCheckpointFormatVersion = 1;

struct Checkpoint {
  int64_t step = 0;
  nn::Params model;
  nn::Params optimizer;            // Optimizer::state()
  std::optional<array> rng_state;  // random::get_state(); restored with random::set_state
  std::string data_state;          // opaque bytes (pack/unpack below for plain structs)
  // Small strings saved in the manifest (e.g. the optimizer's name, the loss scale).
  std::map<std::string, std::string> metadata;
};

// Writes `checkpoint` as the directory `path` (atomically; an existing checkpoint at `path` is
// replaced only once the new one is complete). The parent directory is created if needed.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Verifies the manifest and every file's size and checksum, then loads. Arrays are memory-mapped
// from the files.
Checkpoint load_checkpoint(const std::string& path);

// The checks of load_checkpoint without loading; throws std::runtime_error on the first problem.
void verify_checkpoint(const std::string& path);

// Numbered checkpoints under one root: <root>/step_<step, 10 digits>.
class CheckpointManager {
 public:
  // keep_last <= 0 keeps every checkpoint.
  explicit CheckpointManager(std::string root, int keep_last = 3);

  const std::string& root() const { return root_; }
  std::string path_for(int64_t step) const;

  // Saves as path_for(checkpoint.step), then removes the oldest checkpoints beyond keep_last and
  // temporary directories left by killed writers. Returns the new checkpoint's path.
  std::string save(const Checkpoint& checkpoint);

  // (step, path) of every checkpoint directory, oldest first; nothing is verified.
  std::vector<std::pair<int64_t, std::string>> list() const;
  // The newest checkpoint directory, verified or not.
  std::optional<std::string> latest() const;

  struct Resumed {
    Checkpoint checkpoint;
    std::string path;
    // "path: reason" for every newer checkpoint that failed verification and was passed over.
    std::vector<std::string> skipped;
  };
  // Loads the newest checkpoint that verifies. Damaged newer ones are left on disk untouched,
  // reported in `skipped` and on stderr. nullopt when there is no loadable checkpoint.
  std::optional<Resumed> load_latest() const;

 private:
  std::string root_;
  int keep_last_;
};

// Plain structs as data_state bytes and back. unpack throws when the size does not match.
template <typename T>
std::string pack(const T& value) {
  static_assert(std::is_trivially_copyable_v<T>, "pack needs a trivially copyable type");
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}
template <typename T>
T unpack(const std::string& bytes) {
  static_assert(std::is_trivially_copyable_v<T>, "unpack needs a trivially copyable type");
  if (bytes.size() != sizeof(T)) {
    throw std::invalid_argument("[checkpoint] data_state holds " + std::to_string(bytes.size()) +
                                " bytes, expected " + std::to_string(sizeof(T)) + ".");
  }
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

}  // namespace tessera::train
