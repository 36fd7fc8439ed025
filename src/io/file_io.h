// File plumbing shared by the loaders and savers: error messages that name the file and the byte
// offset, bounded reads of a region of a file, sequential byte sources and sinks (so npy data can
// stream through zlib), the atomic writer every save uses, and read-only file mappings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tessera/array.h"

namespace tessera::io {

// "[op] file: what at byte offset N" as std::runtime_error (malformed or truncated input).
[[noreturn]] void fail_at(const char* op, const std::string& file, uint64_t offset, const std::string& what);
// "[op] file: what" as std::runtime_error (system errors: open, read, write).
[[noreturn]] void fail_file(const char* op, const std::string& file, const std::string& what);
// Appends ": <strerror(errno)>".
std::string errno_text(const std::string& what);

// Checked arithmetic for sizes read from untrusted headers.
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

// A file opened for reading; reads are positional and never go past the size seen at open.
class FileReader {
 public:
  FileReader(const char* op, std::string path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  const char* op() const { return op_; }
  // Reads up to n bytes at `offset`; returns the count (short only at end of file).
  size_t read_some(uint64_t offset, void* dst, size_t n) const;
  // Reads exactly n bytes or fails naming `what` and the offset.
  void read_exact(uint64_t offset, void* dst, size_t n, const char* what) const;

 private:
  const char* op_;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Sequential reader used by the npy decoder. Positions count from the start of the source.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; returns fewer only when the source ends.
  virtual size_t read(void* dst, size_t n) = 0;
  // An upper bound on the bytes left (exact for file regions, declared size for inflated data).
  virtual uint64_t remaining() const = 0;
  uint64_t position() const { return pos_; }
  // Where errors at `pos` point: "at byte offset N" of the file, or of an uncompressed member.
  virtual std::string describe(uint64_t pos) const = 0;
  [[noreturn]] void fail(uint64_t pos, const std::string& what) const;
  const char* op() const { return op_; }
  const std::string& file() const { return file_; }

 protected:
  ByteSource(const char* op, std::string file) : op_(op), file_(std::move(file)) {}
  const char* op_;
  std::string file_;
  uint64_t pos_ = 0;
};

// The region [base, base + length) of a file.
class FileRegionSource : public ByteSource {
 public:
  FileRegionSource(const FileReader& f, uint64_t base, uint64_t length, std::string member = {});
  size_t read(void* dst, size_t n) override;
  uint64_t remaining() const override { return length_ - pos_; }
  std::string describe(uint64_t pos) const override;

 private:
  const FileReader& f_;
  uint64_t base_, length_;
  std::string member_;
};

// Sequential writer; every save goes through one.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const void* data, size_t n) = 0;
};

// The temporary file of an atomic save.
class FileWriter : public ByteSink {
 public:
  FileWriter(const char* op, std::string target, int fd) : op_(op), target_(std::move(target)), fd_(fd) {}
  void write(const void* data, size_t n) override;
  // Overwrites bytes already written (zip headers are patched once sizes are known).
  void write_at(uint64_t offset, const void* data, size_t n);
  uint64_t position() const { return pos_; }

 private:
  const char* op_;
  std::string target_;
  int fd_;
  uint64_t pos_ = 0;
};

// Writes `path` atomically: `body` fills a temporary file in the same directory, which is then
// flushed (fsync) and renamed over `path`. If anything fails, the temporary file is removed and
// an existing `path` is left untouched.
void write_file_atomic(const char* op, const std::string& path, const std::function<void(FileWriter&)>& body);

// A private, copy-on-write mapping of a whole file. Pages are writable so that an array built over
// the mapping may be donated to an in-place op without touching the file.
class Mapping {
 public:
  Mapping(const char* op, const std::string& path);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  uint64_t size_ = 0;
};

// Evaluates `a` and returns it with its elements dense in C order, or in Fortran order when
// `allow_col_major` and the array already is (saves then skip a copy).
array dense_for_save(array a, bool allow_col_major);

bool ends_with(const std::string& s, const std::string& suffix);

}  // namespace tessera::io
