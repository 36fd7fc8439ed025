// Checkpoint directories: written into a hidden temporary directory and renamed into place, read
// back only after the manifest's checksums match the files.
#include "tessera/train/checkpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "tessera/io.h"
#include "tessera/ops.h"

namespace tessera::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kOp = "checkpoint";
constexpr const char* kFormat = "tessera.checkpoint";
constexpr const char* kManifest = "manifest.json";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kDataFile = "data_state.bin";
constexpr const char* kStepPrefix = "step_";
// Hidden names, so that listing and loading never mistake them for checkpoints.
constexpr const char* kTmpPrefix = ".tmp_";
constexpr const char* kOldPrefix = ".old_";

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::runtime_error(std::string("[") + kOp + "] " + file + ": " + what);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

uint32_t crc_of(const void* data, size_t n, uint32_t crc = 0) {
  return uint32_t(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

struct FileSum {
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

FileSum sum_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, io::errno_text("cannot open"));
  FileSum s;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string msg = io::errno_text("read failed");
      ::close(fd);
      fail(path, msg);
    }
    if (n == 0) break;
    s.crc = crc_of(buf.data(), size_t(n), s.crc);
    s.bytes += uint64_t(n);
  }
  ::close(fd);
  return s;
}

std::string read_whole(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) fail(path, "missing (an incomplete or foreign directory, not a checkpoint)");
    fail(path, io::errno_text("cannot open"));
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string msg = io::errno_text("read failed");
      ::close(fd);
      fail(path, msg);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(dir, io::errno_text("cannot open directory to sync it"));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail(dir, io::errno_text("fsync failed"));
}

void write_bytes(const std::string& path, const std::string& bytes) {
  io::write_file_atomic(kOp, path, [&](io::FileWriter& w) { w.write(bytes.data(), bytes.size()); });
}

std::unordered_map<std::string, array> to_unordered(const nn::Params& p) {
  return std::unordered_map<std::string, array>(p.begin(), p.end());
}

// "<prefix><base>_<pid>_<n>": the writer's pid lets a later save tell leftovers of a killed
// writer from the directory of a live one.
std::string scratch_name(const char* prefix, const std::string& base) {
  static std::atomic<uint64_t> counter{0};
  return std::string(prefix) + base + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

std::optional<pid_t> scratch_owner(const std::string& name) {
  size_t last = name.rfind('_');
  if (last == std::string::npos || last == 0) return std::nullopt;
  size_t prev = name.rfind('_', last - 1);
  if (prev == std::string::npos) return std::nullopt;
  std::string pid = name.substr(prev + 1, last - prev - 1);
  if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) return std::nullopt;
  return pid_t(std::stol(pid));
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// Parses and checks the manifest of `dir`, then every file it lists. Returns the manifest's body.
json verified_manifest(const std::string& dir) {
  const std::string mpath = (fs::path(dir) / kManifest).string();
  std::string text = read_whole(mpath);
  json top;
  try {
    top = json::parse(text);
  } catch (const json::exception& e) {
    fail(mpath, std::string("not valid JSON (truncated or corrupted): ") + e.what());
  }
  if (!top.is_object() || !top.contains("checkpoint") || !top.contains("checksum") || !top["checksum"].is_string()) {
    fail(mpath, "not a Tessera checkpoint manifest (expected the keys 'checkpoint' and 'checksum')");
  }
  const json& body = top["checkpoint"];
  // The checksum covers the body's compact serialization, which is canonical (sorted keys).
  const std::string canon = body.dump();
  const std::string want = top["checksum"].get<std::string>();
  const std::string got = hex32(crc_of(canon.data(), canon.size()));
  if (want != got) fail(mpath, "CRC-32 " + got + " does not match the recorded " + want + " (corrupted)");
  try {
    if (body.at("format").get<std::string>() != kFormat) {
      fail(mpath, "format '" + body.at("format").get<std::string>() + "' is not '" + kFormat + "'");
    }
    int version = body.at("version").get<int>();
    if (version > kCheckpointFormatVersion) {
      fail(mpath, "format version " + std::to_string(version) + " is newer than this build reads (" +
                      std::to_string(kCheckpointFormatVersion) + ")");
    }
    for (const auto& [name, info] : body.at("files").items()) {
      const std::string fpath = (fs::path(dir) / name).string();
      std::error_code ec;
      if (!fs::exists(fpath, ec)) fail(fpath, "missing (listed in the manifest)");
      const uint64_t want_bytes = info.at("bytes").get<uint64_t>();
      const std::string want_crc = info.at("crc32").get<std::string>();
      const uint64_t size = fs::file_size(fpath, ec);
      if (ec) fail(fpath, "cannot read its size: " + ec.message());
      if (size != want_bytes) {
        fail(fpath, std::to_string(size) + " bytes, the manifest says " + std::to_string(want_bytes) +
                        (size < want_bytes ? " (truncated)" : " (changed after saving)"));
      }
      FileSum s = sum_file(fpath);
      if (s.bytes != want_bytes) fail(fpath, "changed while it was being verified");
      if (hex32(s.crc) != want_crc) {
        fail(fpath, "CRC-32 " + hex32(s.crc) + " does not match the manifest's " + want_crc + " (corrupted)");
      }
    }
  } catch (const json::exception& e) {
    fail(mpath, std::string("malformed manifest: ") + e.what());
  }
  return body;
}

nn::Params load_arrays(const std::string& file) {
  auto [arrays, meta] = load_safetensors(file);
  return nn::Params(arrays.begin(), arrays.end());
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  fs::path target = fs::absolute(fs::path(path).lexically_normal());
  if (target.filename().empty()) target = target.parent_path();
  const fs::path parent = target.parent_path();
  const std::string base = target.filename().string();
  fs::create_directories(parent);
  const fs::path tmp = parent / scratch_name(kTmpPrefix, base);
  fs::create_directory(tmp);
  try {
    json files = json::object();
    auto record = [&](const char* name) {
      FileSum s = sum_file((tmp / name).string());
      files[name] = {{"bytes", s.bytes}, {"crc32", hex32(s.crc)}};
    };
    // save_safetensors fsyncs each file before renaming it into the temporary directory.
    save_safetensors((tmp / kModelFile).string(), to_unordered(ckpt.model), {{"format", "tessera.checkpoint.model"}});
    record(kModelFile);
    save_safetensors((tmp / kOptimizerFile).string(), to_unordered(ckpt.optimizer),
                     {{"format", "tessera.checkpoint.optimizer"}});
    record(kOptimizerFile);
    write_bytes((tmp / kDataFile).string(), ckpt.data_state);
    record(kDataFile);

    json body = {{"format", kFormat}, {"version", kCheckpointFormatVersion}, {"step", ckpt.step}, {"files", files}};
    if (ckpt.rng_state) {
      array k = contiguous(astype(*ckpt.rng_state, uint32));
      k.eval();
      if (k.size() != 2) throw std::invalid_argument("[checkpoint] rng_state must be a key of shape [2].");
      body["rng_state"] = {k.data<uint32_t>()[0], k.data<uint32_t>()[1]};
    }
    body["metadata"] = ckpt.metadata;
    const std::string canon = body.dump();
    json top = {{"checkpoint", body}, {"checksum", hex32(crc_of(canon.data(), canon.size()))}};
    write_bytes((tmp / kManifest).string(), top.dump(2) + "\n");
    fsync_dir(tmp.string());

    std::error_code ec;
    if (fs::exists(target, ec)) {
      // Replacing a checkpoint of the same step: the old one moves aside first (rename cannot
      // replace a non-empty directory) and goes only once the new one is in place.
      const fs::path old = parent / scratch_name(kOldPrefix, base);
      fs::rename(target, old);
      fs::rename(tmp, target);
      fsync_dir(parent.string());
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, target);
      fsync_dir(parent.string());
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

void verify_checkpoint(const std::string& path) { verified_manifest(path); }

Checkpoint load_checkpoint(const std::string& path) {
  const json body = verified_manifest(path);
  const fs::path dir(path);
  Checkpoint c;
  try {
    c.step = body.at("step").get<int64_t>();
    if (body.contains("rng_state")) {
      auto k = body.at("rng_state").get<std::vector<uint32_t>>();
      if (k.size() != 2) fail((dir / kManifest).string(), "rng_state is not a pair of uint32 words");
      c.rng_state = array(k.begin(), Shape{2}, uint32);
    }
    if (body.contains("metadata")) c.metadata = body.at("metadata").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    fail((dir / kManifest).string(), std::string("malformed manifest: ") + e.what());
  }
  c.model = load_arrays((dir / kModelFile).string());
  c.optimizer = load_arrays((dir / kOptimizerFile).string());
  c.data_state = read_whole((dir / kDataFile).string());
  return c;
}

CheckpointManager::CheckpointManager(std::string root, int keep_last) : root_(std::move(root)), keep_last_(keep_last) {}

std::string CheckpointManager::path_for(int64_t step) const {
  if (step < 0) throw std::invalid_argument("[checkpoint] step must be non-negative, got " + std::to_string(step));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%010lld", kStepPrefix, static_cast<long long>(step));
  return (fs::path(root_) / buf).string();
}

std::vector<std::pair<int64_t, std::string>> CheckpointManager::list() const {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return out;
  const std::string prefix = kStepPrefix;
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0 || name.size() == prefix.size()) continue;
    const std::string digits = name.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), ::isdigit) || digits.size() > 18) continue;
    if (!e.is_directory(ec)) continue;
    out.emplace_back(std::stoll(digits), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> CheckpointManager::latest() const {
  auto all = list();
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

std::string CheckpointManager::save(const Checkpoint& checkpoint) {
  const std::string path = path_for(checkpoint.step);
  save_checkpoint(path, checkpoint);
  std::error_code ec;
  if (keep_last_ > 0) {
    auto all = list();
    for (size_t i = 0; i + size_t(keep_last_) < all.size(); ++i) {
      if (all[i].second != path) fs::remove_all(all[i].second, ec);
    }
  }
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kTmpPrefix, 0) != 0 && name.rfind(kOldPrefix, 0) != 0) continue;
    auto owner = scratch_owner(name);
    if (!owner || *owner == ::getpid() || process_alive(*owner)) continue;
    fs::remove_all(e.path(), ec);
  }
  return path;
}

std::optional<CheckpointManager::Resumed> CheckpointManager::load_latest() const {
  auto all = list();
  std::vector<std::string> skipped;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      Checkpoint c = load_checkpoint(it->second);
      if (!skipped.empty()) {
        std::cerr << "[checkpoint] resuming from " << it->second << " (step " << c.step << ") after skipping "
                  << skipped.size() << " damaged newer checkpoint(s)\n";
      }
      return Resumed{std::move(c), it->second, std::move(skipped)};
    } catch (const std::exception& e) {
      std::cerr << "[checkpoint] skipping " << it->second << ": " << e.what() << "\n";
      skipped.push_back(it->second + ": " + e.what());
    }
  }
  if (!skipped.empty()) std::cerr << "[checkpoint] no loadable checkpoint under " << root_ << "\n";
  return std::nullopt;
}

}  // namespace tessera::train
