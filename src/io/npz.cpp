// .npz archives: a zip file with one .npy member per array, stored or deflated (NumPy's savez and
// savez_compressed). The zip layout follows PKWARE's APPNOTE: local file headers followed by the
// member data, a central directory, and the end-of-central-directory record; ZIP64 records are
// read and written when sizes, offsets or the member count need them.
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>
#include <map>
#include <vector>

#include "io/npy.h"
#include "tessera/io.h"
#include "tessera/ops.h"

namespace tessera::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint64_t kMax32 = 0xFFFFFFFFu;
constexpr uint16_t kMax16 = 0xFFFF;
constexpr uint16_t kStored = 0, kDeflated = 8;
constexpr size_t kLocalHeaderSize = 30, kCentralHeaderSize = 46, kEndSize = 22;
constexpr size_t kZip64EndSize = 56, kZip64LocatorSize = 20;
// Deflate cannot expand data by more than ~1032:1; a larger declared size is a corrupt header,
// and believing it would make us allocate for data that cannot exist.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr size_t kChunk = size_t(1) << 18;

uint16_t get16(const unsigned char* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t get32(const unsigned char* p) { return uint32_t(get16(p)) | uint32_t(get16(p + 2)) << 16; }
uint64_t get64(const unsigned char* p) { return uint64_t(get32(p)) | uint64_t(get32(p + 4)) << 32; }

void put16(std::string& s, uint16_t v) {
  s += char(v & 0xFF);
  s += char(v >> 8);
}
void put32(std::string& s, uint32_t v) {
  put16(s, uint16_t(v & 0xFFFF));
  put16(s, uint16_t(v >> 16));
}
void put64(std::string& s, uint64_t v) {
  put32(s, uint32_t(v & kMax32));
  put32(s, uint32_t(v >> 32));
}

uint32_t crc_update(uint32_t crc, const void* data, size_t n) {
  return uint32_t(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

// ---- Reading ----

// Inflates a raw deflate stream stored at [base, base + csize) of the file, producing at most
// `usize` bytes (the size the central directory declares).
class InflateSource : public ByteSource {
 public:
  InflateSource(const FileReader& f, uint64_t base, uint64_t csize, uint64_t usize, std::string member)
      : ByteSource(f.op(), f.path()), f_(f), base_(base), csize_(csize), usize_(usize), member_(std::move(member)),
        in_(kChunk) {
    std::memset(&z_, 0, sizeof(z_));
    if (inflateInit2(&z_, -MAX_WBITS) != Z_OK) fail_file(op_, file_, "cannot initialize zlib");
  }
  ~InflateSource() override { inflateEnd(&z_); }

  size_t read(void* dst, size_t n) override {
    n = size_t(std::min<uint64_t>(n, remaining()));
    size_t done = 0;
    while (done < n && !ended_) {
      if (z_.avail_in == 0 && consumed_ < csize_) {
        size_t want = size_t(std::min<uint64_t>(in_.size(), csize_ - consumed_));
        size_t got = f_.read_some(base_ + consumed_, in_.data(), want);
        if (got != want) fail_at(op_, file_, base_ + consumed_, "truncated compressed data of member '" + member_ + "'");
        z_.next_in = in_.data();
        z_.avail_in = uInt(got);
        consumed_ += got;
      }
      size_t chunk = std::min<size_t>(n - done, UINT_MAX);
      z_.next_out = static_cast<Bytef*>(dst) + done;
      z_.avail_out = uInt(chunk);
      int rc = inflate(&z_, Z_NO_FLUSH);
      size_t produced = chunk - z_.avail_out;
      done += produced;
      bool starved = z_.avail_in == 0 && consumed_ == csize_;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if ((rc == Z_OK && produced == 0 && starved) || (rc == Z_BUF_ERROR && starved)) {
        fail_at(op_, file_, base_ + consumed_, "compressed data of member '" + member_ + "' ends mid-stream");
      } else if (rc != Z_OK) {
        fail_at(op_, file_, compressed_offset(),
                "corrupt compressed data in member '" + member_ + "' (zlib: " + (z_.msg ? z_.msg : "error") + ")");
      }
    }
    pos_ += done;
    return done;
  }

  uint64_t remaining() const override { return usize_ - pos_; }

  std::string describe(uint64_t pos) const override {
    return "at byte offset " + std::to_string(pos) + " of deflated member '" + member_ +
           "' (compressed data starts at byte offset " + std::to_string(base_) + ")";
  }

  // After all declared bytes are read, the deflate stream must end there.
  void check_end() {
    if (ended_) return;
    unsigned char extra;
    uint64_t saved = usize_;
    usize_ = pos_ + 1;  // allow one more byte to see whether the stream has more
    size_t got = read(&extra, 1);
    usize_ = saved;
    if (got != 0) {
      fail_at(op_, file_, compressed_offset(),
              "member '" + member_ + "' inflates to more than its declared " + std::to_string(usize_) + " bytes");
    }
  }

 private:
  uint64_t compressed_offset() const { return base_ + consumed_ - z_.avail_in; }

  const FileReader& f_;
  uint64_t base_, csize_, usize_;
  std::string member_;
  std::vector<unsigned char> in_;
  z_stream z_;
  uint64_t consumed_ = 0;
  bool ended_ = false;
};

// Passes reads through and checksums them.
class CrcSource : public ByteSource {
 public:
  explicit CrcSource(ByteSource& inner) : ByteSource(inner.op(), inner.file()), inner_(inner) {}
  size_t read(void* dst, size_t n) override {
    size_t got = inner_.read(dst, n);
    crc_ = crc_update(crc_, dst, got);
    pos_ += got;
    return got;
  }
  uint64_t remaining() const override { return inner_.remaining(); }
  std::string describe(uint64_t pos) const override { return inner_.describe(pos); }
  uint32_t crc() const { return crc_; }

 private:
  ByteSource& inner_;
  uint32_t crc_ = 0;
};

struct Entry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t csize = 0, usize = 0, local_offset = 0;
  uint64_t central_at = 0;  // where its central directory record is, for messages
};

struct EndRecord {
  uint64_t entries = 0, cd_size = 0, cd_offset = 0, at = 0;
};

EndRecord find_end_record(const FileReader& f) {
  const char* op = f.op();
  uint64_t size = f.size();
  if (size < kEndSize) fail_at(op, f.path(), 0, "not a zip archive (too small for an end of central directory record)");
  uint64_t tail_len = std::min<uint64_t>(size, kEndSize + 0xFFFF);
  uint64_t tail_at = size - tail_len;
  std::vector<unsigned char> tail(static_cast<size_t>(tail_len));
  f.read_exact(tail_at, tail.data(), tail.size(), "zip trailer");
  // The record is followed only by its comment; search from the end for the last one that fits.
  for (size_t i = tail.size() - kEndSize + 1; i-- > 0;) {
    const unsigned char* p = tail.data() + i;
    if (get32(p) != kEndSig) continue;
    if (i + kEndSize + get16(p + 20) > tail.size()) continue;
    EndRecord e;
    e.at = tail_at + i;
    if (get16(p + 4) != 0 || get16(p + 6) != 0) fail_at(op, f.path(), e.at, "multi-disk zip archives are not supported");
    e.entries = get16(p + 10);
    e.cd_size = get32(p + 12);
    e.cd_offset = get32(p + 16);
    bool zip64 = e.entries == kMax16 || e.cd_size == kMax32 || e.cd_offset == kMax32;
    if (e.at >= kZip64LocatorSize) {
      unsigned char loc[kZip64LocatorSize];
      f.read_exact(e.at - kZip64LocatorSize, loc, sizeof(loc), "zip64 locator");
      if (get32(loc) == kZip64LocatorSig) {
        uint64_t at = get64(loc + 8);
        unsigned char z[kZip64EndSize];
        if (at > size || size - at < kZip64EndSize) {
          fail_at(op, f.path(), e.at - kZip64LocatorSize, "zip64 end record offset " + std::to_string(at) + " is outside the file");
        }
        f.read_exact(at, z, sizeof(z), "zip64 end of central directory record");
        if (get32(z) != kZip64EndSig) fail_at(op, f.path(), at, "bad zip64 end of central directory signature");
        if (get32(z + 16) != 0 || get32(z + 20) != 0) fail_at(op, f.path(), at, "multi-disk zip archives are not supported");
        e.entries = get64(z + 32);
        e.cd_size = get64(z + 40);
        e.cd_offset = get64(z + 48);
        zip64 = false;
        e.at = at;
      }
    }
    if (zip64) fail_at(op, f.path(), e.at, "end record needs a zip64 record, which is missing");
    uint64_t cd_end;
    if (add_overflows(e.cd_offset, e.cd_size, &cd_end) || cd_end > e.at) {
      fail_at(op, f.path(), e.at,
              "central directory [" + std::to_string(e.cd_offset) + ", " + std::to_string(e.cd_offset) + " + " +
                  std::to_string(e.cd_size) + ") overlaps the end record or runs past it");
    }
    return e;
  }
  fail_at(op, f.path(), tail_at, "not a zip archive (no end of central directory record)");
}

// Reads the zip64 extended-information field: each value is present only where the fixed field is
// saturated, in the order usize, csize, local offset.
void apply_zip64_extra(const FileReader& f, const unsigned char* extra, size_t len, uint64_t at, Entry& e, bool need_u,
                       bool need_c, bool need_o) {
  size_t i = 0;
  while (i + 4 <= len) {
    uint16_t id = get16(extra + i), sz = get16(extra + i + 2);
    if (i + 4 + sz > len) fail_at(f.op(), f.path(), at + i, "extra field runs past its record");
    if (id == kZip64ExtraId) {
      const unsigned char* p = extra + i + 4;
      size_t left = sz;
      auto take = [&](uint64_t& v) {
        if (left < 8) fail_at(f.op(), f.path(), at + i, "zip64 extra field is too short");
        v = get64(p);
        p += 8;
        left -= 8;
      };
      if (need_u) take(e.usize);
      if (need_c) take(e.csize);
      if (need_o) take(e.local_offset);
      return;
    }
    i += 4 + sz;
  }
  if (need_u || need_c || need_o) fail_at(f.op(), f.path(), at, "saturated size or offset without a zip64 extra field");
}

std::vector<Entry> read_central_directory(const FileReader& f, const EndRecord& end) {
  const char* op = f.op();
  std::vector<unsigned char> cd(size_t(end.cd_size));
  f.read_exact(end.cd_offset, cd.data(), cd.size(), "central directory");
  std::vector<Entry> entries;
  size_t i = 0;
  for (uint64_t n = 0; n < end.entries; ++n) {
    uint64_t at = end.cd_offset + i;
    if (cd.size() - i < kCentralHeaderSize) {
      fail_at(op, f.path(), at, "central directory ends after " + std::to_string(n) + " of " +
                                    std::to_string(end.entries) + " entries");
    }
    const unsigned char* p = cd.data() + i;
    if (get32(p) != kCentralSig) fail_at(op, f.path(), at, "bad central directory entry signature");
    Entry e;
    e.central_at = at;
    e.flags = get16(p + 8);
    e.method = get16(p + 10);
    e.crc = get32(p + 16);
    e.csize = get32(p + 20);
    e.usize = get32(p + 24);
    size_t name_len = get16(p + 28), extra_len = get16(p + 30), comment_len = get16(p + 32);
    e.local_offset = get32(p + 42);
    if (cd.size() - i - kCentralHeaderSize < name_len + extra_len + comment_len) {
      fail_at(op, f.path(), at, "central directory entry runs past the directory");
    }
    e.name.assign(reinterpret_cast<const char*>(p + kCentralHeaderSize), name_len);
    apply_zip64_extra(f, p + kCentralHeaderSize + name_len, extra_len, at + kCentralHeaderSize + name_len, e,
                      e.usize == kMax32, e.csize == kMax32, e.local_offset == kMax32);
    entries.push_back(std::move(e));
    i += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  return entries;
}

array read_member(const FileReader& f, const Entry& e, uint64_t data_limit) {
  const char* op = f.op();
  if (e.flags & 0x1) fail_at(op, f.path(), e.central_at, "member '" + e.name + "' is encrypted");
  unsigned char lh[kLocalHeaderSize];
  if (e.local_offset > f.size()) {
    fail_at(op, f.path(), e.central_at, "member '" + e.name + "' local header offset " + std::to_string(e.local_offset) +
                                            " is past the end of the file");
  }
  f.read_exact(e.local_offset, lh, sizeof(lh), "local file header");
  if (get32(lh) != kLocalSig) fail_at(op, f.path(), e.local_offset, "bad local file header signature for member '" + e.name + "'");
  uint64_t data_at = e.local_offset + kLocalHeaderSize + get16(lh + 26) + get16(lh + 28);
  uint64_t data_end;
  if (add_overflows(data_at, e.csize, &data_end) || data_end > data_limit) {
    fail_at(op, f.path(), e.local_offset,
            "member '" + e.name + "' data [" + std::to_string(data_at) + ", " + std::to_string(data_at) + " + " +
                std::to_string(e.csize) + ") runs past the member area, which ends at byte " + std::to_string(data_limit));
  }

  std::unique_ptr<ByteSource> raw;
  InflateSource* inflater = nullptr;
  if (e.method == kStored) {
    if (e.csize != e.usize) {
      fail_at(op, f.path(), e.central_at, "stored member '" + e.name + "' has compressed size " + std::to_string(e.csize) +
                                              " != uncompressed size " + std::to_string(e.usize));
    }
    raw = std::make_unique<FileRegionSource>(f, data_at, e.usize, e.name);
  } else if (e.method == kDeflated) {
    uint64_t bound;
    if (mul_overflows(e.csize, kMaxDeflateRatio, &bound) || e.usize > bound + 1024) {
      fail_at(op, f.path(), e.central_at, "member '" + e.name + "' declares " + std::to_string(e.usize) +
                                              " bytes from " + std::to_string(e.csize) + " compressed bytes, more than deflate can produce");
    }
    auto inf = std::make_unique<InflateSource>(f, data_at, e.csize, e.usize, e.name);
    inflater = inf.get();
    raw = std::move(inf);
  } else {
    fail_at(op, f.path(), e.central_at,
            "member '" + e.name + "' uses compression method " + std::to_string(e.method) + " (only stored and deflate are supported)");
  }

  CrcSource src(*raw);
  array a = read_npy(src);
  // NumPy's members end with the array data; anything after it still counts toward the checksum.
  std::vector<char> sink(std::min<uint64_t>(src.remaining(), kChunk));
  while (src.remaining() > 0) {
    size_t got = src.read(sink.data(), size_t(std::min<uint64_t>(src.remaining(), sink.size())));
    if (got == 0) break;
  }
  if (src.position() != e.usize) {
    src.fail(src.position(), "member '" + e.name + "' ends after " + std::to_string(src.position()) +
                                       " bytes but declares " + std::to_string(e.usize));
  }
  if (inflater) inflater->check_end();
  if (src.crc() != e.crc) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "CRC-32 mismatch (computed %08x, recorded %08x)", src.crc(), e.crc);
    fail_at(op, f.path(), e.central_at, "member '" + e.name + "': " + buf);
  }
  return a;
}

// ---- Writing ----

// Checksums and counts bytes on their way to the file.
class StoredSink : public ByteSink {
 public:
  explicit StoredSink(FileWriter& out) : out_(out) {}
  void write(const void* data, size_t n) override {
    crc_ = crc_update(crc_, data, n);
    size_ += n;
    out_.write(data, n);
  }
  uint32_t crc() const { return crc_; }
  uint64_t csize() const { return size_; }

 private:
  FileWriter& out_;
  uint32_t crc_ = 0;
  uint64_t size_ = 0;
};

class DeflateSink : public ByteSink {
 public:
  DeflateSink(FileWriter& out, const char* op, const std::string& path) : out_(out), op_(op), path_(path), buf_(kChunk) {
    std::memset(&z_, 0, sizeof(z_));
    if (deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      fail_file(op_, path_, "cannot initialize zlib");
    }
  }
  ~DeflateSink() override { deflateEnd(&z_); }
  void write(const void* data, size_t n) override {
    crc_ = crc_update(crc_, data, n);
    const Bytef* p = static_cast<const Bytef*>(data);
    while (n > 0) {
      size_t chunk = std::min<size_t>(n, size_t(1) << 30);
      z_.next_in = const_cast<Bytef*>(p);
      z_.avail_in = uInt(chunk);
      while (z_.avail_in > 0) run(Z_NO_FLUSH);
      p += chunk;
      n -= chunk;
    }
  }
  void finish() {
    while (run(Z_FINISH) != Z_STREAM_END) {
    }
  }
  uint32_t crc() const { return crc_; }
  uint64_t csize() const { return csize_; }

 private:
  int run(int flush) {
    z_.next_out = buf_.data();
    z_.avail_out = uInt(buf_.size());
    int rc = deflate(&z_, flush);
    if (rc == Z_STREAM_ERROR) fail_file(op_, path_, "zlib deflate failed");
    size_t produced = buf_.size() - z_.avail_out;
    out_.write(buf_.data(), produced);
    csize_ += produced;
    return rc;
  }

  FileWriter& out_;
  const char* op_;
  const std::string& path_;
  std::vector<Bytef> buf_;
  z_stream z_;
  uint32_t crc_ = 0;
  uint64_t csize_ = 0;
};

struct WrittenEntry {
  std::string name;
  uint16_t method = 0, flags = 0;
  uint32_t crc = 0;
  uint64_t csize = 0, usize = 0, local_offset = 0;
};

void dos_time(uint16_t* time, uint16_t* date) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  if (tm.tm_year < 80) {  // DOS dates start in 1980
    tm.tm_year = 80;
    tm.tm_mon = 0;
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  }
  *time = uint16_t(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
  *date = uint16_t((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

}  // namespace

}  // namespace tessera::io

namespace tessera {

std::unordered_map<std::string, array> loadz(const std::string& file, StreamOrDevice s) {
  (void)s;
  io::FileReader f("loadz", file);
  io::EndRecord end = io::find_end_record(f);
  std::vector<io::Entry> entries = io::read_central_directory(f, end);
  std::unordered_map<std::string, array> out;
  for (auto& e : entries) {
    // Only .npy members are arrays (NumPy's NpzFile returns other members as raw bytes).
    if (!io::ends_with(e.name, ".npy")) continue;
    std::string key = e.name.substr(0, e.name.size() - 4);
    if (out.count(key)) io::fail_at("loadz", file, e.central_at, "duplicate member '" + e.name + "'");
    out.emplace(key, io::read_member(f, e, end.cd_offset));
  }
  return out;
}

void savez(const std::string& file, const std::unordered_map<std::string, array>& arrays, bool compressed) {
  using namespace io;
  std::string path = ends_with(file, ".npz") ? file : file + ".npz";
  std::map<std::string, array> sorted(arrays.begin(), arrays.end());
  std::vector<array> all;
  for (auto& [name, a] : sorted) {
    if (name.size() + 4 > kMax16) throw std::invalid_argument("[savez] Array name is longer than a zip member name can be.");
    all.push_back(a);
  }
  eval(all);
  all.clear();

  uint16_t time, date;
  dos_time(&time, &date);
  write_file_atomic("savez", path, [&](FileWriter& w) {
    std::vector<WrittenEntry> written;
    for (auto& [name, a] : sorted) {
      NpyPrepared p = prepare_npy(a);
      WrittenEntry e;
      e.name = name + ".npy";
      e.method = compressed ? kDeflated : kStored;
      e.usize = p.total_size();
      e.local_offset = w.position();
      bool utf8 = std::any_of(e.name.begin(), e.name.end(), [](char c) { return (unsigned char)c >= 0x80; });
      e.flags = utf8 ? 0x0800 : 0;
      // Deflate can expand incompressible data slightly; leave room so the sizes fit the local
      // header's choice of 32- or 64-bit fields.
      bool zip64_local = e.usize + e.usize / 16 + 1024 >= kMax32;

      std::string lh;
      put32(lh, kLocalSig);
      put16(lh, zip64_local ? 45 : 20);
      put16(lh, e.flags);
      put16(lh, e.method);
      put16(lh, time);
      put16(lh, date);
      put32(lh, 0);  // crc, patched below
      put32(lh, zip64_local ? uint32_t(kMax32) : 0);
      put32(lh, zip64_local ? uint32_t(kMax32) : uint32_t(e.usize));
      put16(lh, uint16_t(e.name.size()));
      put16(lh, zip64_local ? 20 : 0);
      lh += e.name;
      if (zip64_local) {
        put16(lh, kZip64ExtraId);
        put16(lh, 16);
        put64(lh, e.usize);
        put64(lh, 0);  // csize, patched below
      }
      w.write(lh.data(), lh.size());

      if (compressed) {
        DeflateSink sink(w, "savez", path);
        write_npy(sink, p);
        sink.finish();
        e.crc = sink.crc();
        e.csize = sink.csize();
      } else {
        StoredSink sink(w);
        write_npy(sink, p);
        e.crc = sink.crc();
        e.csize = sink.csize();
      }
      if (!zip64_local && e.csize >= kMax32) fail_file("savez", path, "member '" + e.name + "' compressed past 4 GiB");
      std::string patch;
      put32(patch, e.crc);
      if (zip64_local) {
        w.write_at(e.local_offset + 14, patch.data(), 4);
        patch.clear();
        put64(patch, e.csize);
        w.write_at(e.local_offset + kLocalHeaderSize + e.name.size() + 12, patch.data(), 8);
      } else {
        put32(patch, uint32_t(e.csize));
        w.write_at(e.local_offset + 14, patch.data(), 8);
      }
      written.push_back(std::move(e));
    }

    uint64_t cd_offset = w.position();
    for (auto& e : written) {
      bool big_u = e.usize >= kMax32, big_c = e.csize >= kMax32, big_o = e.local_offset >= kMax32;
      std::string extra;
      if (big_u || big_c || big_o) {
        put16(extra, kZip64ExtraId);
        put16(extra, uint16_t(8 * (big_u + big_c + big_o)));
        if (big_u) put64(extra, e.usize);
        if (big_c) put64(extra, e.csize);
        if (big_o) put64(extra, e.local_offset);
      }
      uint16_t version = extra.empty() ? 20 : 45;
      std::string ch;
      put32(ch, kCentralSig);
      put16(ch, uint16_t(3 << 8 | version));  // made by Unix
      put16(ch, version);
      put16(ch, e.flags);
      put16(ch, e.method);
      put16(ch, time);
      put16(ch, date);
      put32(ch, e.crc);
      put32(ch, big_c ? uint32_t(kMax32) : uint32_t(e.csize));
      put32(ch, big_u ? uint32_t(kMax32) : uint32_t(e.usize));
      put16(ch, uint16_t(e.name.size()));
      put16(ch, uint16_t(extra.size()));
      put16(ch, 0);                        // comment
      put16(ch, 0);                        // disk
      put16(ch, 0);                        // internal attributes
      put32(ch, uint32_t(0100644) << 16);  // regular file, rw-r--r--
      put32(ch, big_o ? uint32_t(kMax32) : uint32_t(e.local_offset));
      ch += e.name;
      ch += extra;
      w.write(ch.data(), ch.size());
    }
    uint64_t cd_size = w.position() - cd_offset;
    uint64_t count = written.size();

    std::string tail;
    bool zip64_end = count >= kMax16 || cd_size >= kMax32 || cd_offset >= kMax32;
    if (zip64_end) {
      uint64_t z64_at = w.position();
      put32(tail, kZip64EndSig);
      put64(tail, kZip64EndSize - 12);
      put16(tail, uint16_t(3 << 8 | 45));
      put16(tail, 45);
      put32(tail, 0);
      put32(tail, 0);
      put64(tail, count);
      put64(tail, count);
      put64(tail, cd_size);
      put64(tail, cd_offset);
      put32(tail, kZip64LocatorSig);
      put32(tail, 0);
      put64(tail, z64_at);
      put32(tail, 1);
    }
    put32(tail, kEndSig);
    put16(tail, 0);
    put16(tail, 0);
    put16(tail, zip64_end ? kMax16 : uint16_t(count));
    put16(tail, zip64_end ? kMax16 : uint16_t(count));
    put32(tail, zip64_end ? uint32_t(kMax32) : uint32_t(cd_size));
    put32(tail, zip64_end ? uint32_t(kMax32) : uint32_t(cd_offset));
    put16(tail, 0);
    w.write(tail.data(), tail.size());
  });
}

}  // namespace tessera
