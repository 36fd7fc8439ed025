#include "io/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::io {

void fail_at(const char* op, const std::string& file, uint64_t offset, const std::string& what) {
  throw std::runtime_error("[" + std::string(op) + "] " + file + ": " + what + " at byte offset " +
                           std::to_string(offset));
}

void fail_file(const char* op, const std::string& file, const std::string& what) {
  throw std::runtime_error("[" + std::string(op) + "] " + file + ": " + what);
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- Reading ----

FileReader::FileReader(const char* op, std::string path) : op_(op), path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail_file(op_, path_, errno_text("cannot open for reading"));
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    int e = errno;
    ::close(fd_);
    errno = e;
    fail_file(op_, path_, errno_text("cannot stat"));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail_file(op_, path_, "not a regular file");
  }
  size_ = uint64_t(st.st_size);
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

size_t FileReader::read_some(uint64_t offset, void* dst, size_t n) const {
  if (offset >= size_) return 0;
  if (n > size_ - offset) n = size_t(size_ - offset);
  size_t done = 0;
  while (done < n) {
    // pread takes at most 2 GiB - 4 KiB per call on Linux; keep chunks well under that.
    size_t chunk = std::min<size_t>(n - done, size_t(1) << 30);
    ssize_t r = ::pread(fd_, static_cast<char*>(dst) + done, chunk, off_t(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_at(op_, path_, offset + done, errno_text("read error"));
    }
    if (r == 0) break;  // the file shrank under us
    done += size_t(r);
  }
  return done;
}

void FileReader::read_exact(uint64_t offset, void* dst, size_t n, const char* what) const {
  size_t got = read_some(offset, dst, n);
  if (got != n) {
    fail_at(op_, path_, offset,
            std::string("truncated ") + what + " (needs " + std::to_string(n) + " bytes, file has " +
                std::to_string(got) + " left)");
  }
}

void ByteSource::fail(uint64_t pos, const std::string& what) const {
  throw std::runtime_error("[" + std::string(op_) + "] " + file_ + ": " + what + " " + describe(pos));
}

FileRegionSource::FileRegionSource(const FileReader& f, uint64_t base, uint64_t length, std::string member)
    : ByteSource(f.op(), f.path()), f_(f), base_(base), length_(length), member_(std::move(member)) {}

size_t FileRegionSource::read(void* dst, size_t n) {
  if (n > remaining()) n = size_t(remaining());
  size_t got = f_.read_some(base_ + pos_, dst, n);
  pos_ += got;
  return got;
}

std::string FileRegionSource::describe(uint64_t pos) const {
  std::string s = "at byte offset " + std::to_string(base_ + pos);
  if (!member_.empty()) s += " (member '" + member_ + "')";
  return s;
}

// ---- Atomic writes ----

void FileWriter::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_file(op_, target_, errno_text("write failed at byte offset " + std::to_string(pos_)));
    }
    p += w;
    n -= size_t(w);
    pos_ += uint64_t(w);
  }
}

void FileWriter::write_at(uint64_t offset, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, p, n, off_t(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_file(op_, target_, errno_text("write failed at byte offset " + std::to_string(offset)));
    }
    p += w;
    n -= size_t(w);
    offset += uint64_t(w);
  }
}

namespace {

std::pair<std::string, std::string> split_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// Creates "<dir>/.<name>.tmp-<random>" with O_EXCL, so the process umask applies as for any new file.
int create_temp(const char* op, const std::string& path, std::string* tmp) {
  static std::atomic<uint64_t> counter{0};
  auto [dir, name] = split_dir(path);
  if (name.empty()) fail_file(op, path, "not a file name");
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    uint64_t tag = (uint64_t(rd()) << 32) ^ uint64_t(rd()) ^ (uint64_t(::getpid()) << 16) ^ counter++;
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(tag));
    *tmp = (dir == "/" ? std::string() : dir) + "/." + name + ".tmp-" + hex;
    int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) fail_file(op, path, errno_text("cannot create temporary file " + *tmp));
  }
  fail_file(op, path, "cannot find a free temporary file name");
}

}  // namespace

void write_file_atomic(const char* op, const std::string& path, const std::function<void(FileWriter&)>& body) {
  std::string tmp;
  int fd = create_temp(op, path, &tmp);
  try {
    FileWriter w(op, path, fd);
    body(w);
    if (::fsync(fd) != 0) fail_file(op, path, errno_text("fsync failed"));
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) fail_file(op, path, errno_text("close failed"));
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail_file(op, path, errno_text("cannot rename " + tmp));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable. Some file systems refuse fsync on directories; the data is
  // already safe, so that is not an error.
  int dfd = ::open(split_dir(path).first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// ---- Mappings ----

Mapping::Mapping(const char* op, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_file(op, path, errno_text("cannot open for reading"));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_file(op, path, "not a regular file");
  }
  size_ = uint64_t(st.st_size);
  if (size_ > 0) {
    // MAP_NORESERVE: a writable private mapping would otherwise be charged in full against the
    // overcommit limit, and weights larger than RAM + swap could not be mapped at all.
    void* p = ::mmap(nullptr, size_t(size_), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      errno = e;
      fail_file(op, path, errno_text("mmap failed"));
    }
    data_ = static_cast<char*>(p);
  }
  ::close(fd);
}

Mapping::~Mapping() {
  if (data_) ::munmap(data_, size_t(size_));
}

// ---- Saving ----

array dense_for_save(array a, bool allow_col_major) {
  a.eval();
  auto f = a.flags();
  if (f.row_contiguous || (allow_col_major && f.col_contiguous)) return a;
  a = contiguous(a, false);
  a.eval();
  return a;
}

}  // namespace tessera::io
