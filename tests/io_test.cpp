// save/load (.npy), savez/loadz (.npz) and safetensors: round trips for every dtype, files
// written by NumPy and by hand from Python, zero-copy loading, error messages for damaged files,
// and atomic saves.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tessera/io.h"
#include "tessera/memory.h"
#include "tessera/tessera.h"
#include "testing/errors.h"

using namespace tessera;
namespace fs = std::filesystem;

namespace {

const std::vector<Dtype> kAllDtypes = {bool_, uint8,   uint16,  uint32,  uint64,   int8,     int16,
                                       int32, int64,   float16, float32, float64,  bfloat16, complex64};

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tessera-io-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  // Runs a Python script with the temporary directory as its argument; false when Python or NumPy
  // is missing.
  static bool have_numpy() {
    static int ok = -1;
    if (ok < 0) {
      ok = access("/usr/bin/python3", X_OK) == 0 &&
           std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
    }
    return ok == 1;
  }
  void run_python(const std::string& script) const {
    std::string file = path("script.py");
    std::ofstream(file) << script;
    std::string cmd = "/usr/bin/python3 " + file + " " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "python script failed:\n" << script;
  }

  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
};

std::string bytes_of(const array& a) {
  array c = contiguous(a);
  c.eval();
  return std::string(c.data<char>(), c.nbytes());
}

// Values 0, 1, 2, ... (exact in every dtype for the sizes used here).
array iota(const Shape& shape, Dtype dtype) {
  size_t n = 1;
  for (auto d : shape) n *= size_t(d);
  return astype(reshape(arange(double(n), float32), shape), dtype);
}

void expect_same(const array& got, const array& want) {
  EXPECT_EQ(got.dtype(), want.dtype());
  EXPECT_EQ(got.shape(), want.shape());
  EXPECT_EQ(bytes_of(got), bytes_of(want));
}

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_file(const std::string& p, const std::string& data) { std::ofstream(p, std::ios::binary) << data; }

using tessera::testing::error_of;

const std::vector<Shape> kShapes = {{}, {0}, {7}, {2, 3}, {2, 0, 3}, {3, 4, 5}};

}  // namespace

// ---------------------------------------------------------------- .npy

TEST_F(IoTest, NpyRoundTripEveryDtypeAndShape) {
  for (Dtype dt : kAllDtypes) {
    for (auto& shape : kShapes) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " ndim " + std::to_string(shape.size()));
      array a = iota(shape, dt);
      save(path("a.npy"), a);
      expect_same(load(path("a.npy")), a);
    }
  }
  EXPECT_EQ(files(), std::vector<std::string>{"a.npy"});
}

TEST_F(IoTest, NpyAppendsExtensionAndWritesAlignedHeader) {
  save(path("noext"), iota({2, 2}, int32));
  ASSERT_TRUE(fs::exists(path("noext.npy")));
  std::string data = read_file(path("noext.npy"));
  ASSERT_GE(data.size(), size_t(10));
  EXPECT_EQ(data.substr(0, 6), "\x93NUMPY");
  size_t header_len = size_t((unsigned char)data[8]) | size_t((unsigned char)data[9]) << 8;
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(data[10 + header_len - 1], '\n');
  EXPECT_NE(data.find("'shape': (2, 2)"), std::string::npos);
}

TEST_F(IoTest, NpyTransposedAndStridedViews) {
  array a = iota({3, 4, 5}, float32);
  array t = transpose(a);  // column-contiguous: written in Fortran order without a copy
  save(path("t.npy"), t);
  EXPECT_NE(read_file(path("t.npy")).find("'fortran_order': True"), std::string::npos);
  expect_same(load(path("t.npy")), t);

  array s = slice(a, {0, 1, 0}, {3, 4, 5}, {2, 2, 3});  // neither C nor Fortran order: copied
  save(path("s.npy"), s);
  expect_same(load(path("s.npy")), s);

  array b = broadcast_to(iota({1, 4}, int16), {3, 4});
  save(path("b.npy"), b);
  expect_same(load(path("b.npy")), b);
}

TEST_F(IoTest, NpyReadsNumPyFiles) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  run_python(R"(
import sys, numpy as np
from numpy.lib import format as fmt
d = sys.argv[1]
types = {'bool': '?', 'uint8': 'u1', 'uint16': '<u2', 'uint32': '<u4', 'uint64': '<u8', 'int8': 'i1',
         'int16': '<i2', 'int32': '<i4', 'int64': '<i8', 'float16': '<f2', 'float32': '<f4',
         'float64': '<f8', 'complex64': '<c8'}
for name, t in types.items():
    np.save(f'{d}/{name}.npy', np.arange(24).reshape(2, 3, 4).astype(t))
    np.save(f'{d}/{name}_be.npy', np.arange(24).reshape(2, 3, 4).astype(np.dtype(t).newbyteorder('>')))
np.save(f'{d}/scalar.npy', np.array(7, dtype=np.int32))
np.save(f'{d}/empty.npy', np.zeros((0, 3), dtype=np.float32))
np.save(f'{d}/fortran.npy', np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)))
for v in [(1, 0), (2, 0), (3, 0)]:
    with open(f'{d}/v{v[0]}.npy', 'wb') as f:
        fmt.write_array(f, np.arange(24, dtype=np.int64).reshape(4, 6), version=v)
)");
  for (Dtype dt : kAllDtypes) {
    if (dt == bfloat16) continue;
    SCOPED_TRACE(dtype_name(dt));
    array want = iota({2, 3, 4}, dt);
    expect_same(load(path(std::string(dtype_name(dt)) + ".npy")), want);
    expect_same(load(path(std::string(dtype_name(dt)) + "_be.npy")), want);
  }
  expect_same(load(path("scalar.npy")), array(7, int32));
  expect_same(load(path("empty.npy")), zeros({0, 3}, float32));
  array f = load(path("fortran.npy"));
  expect_same(f, iota({2, 3, 4}, float32));
  EXPECT_TRUE(f.flags().col_contiguous);  // a transposed view of the file's data, not a copy
  for (const char* v : {"v1.npy", "v2.npy", "v3.npy"}) expect_same(load(path(v)), iota({4, 6}, int64));
}

TEST_F(IoTest, NpyNumPyReadsOurFiles) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  save(path("f32.npy"), iota({2, 3}, float32));
  save(path("c64.npy"), iota({5}, complex64));
  save(path("u16.npy"), iota({}, uint16));
  save(path("fortran.npy"), transpose(iota({3, 4}, int64)));
  save(path("bool.npy"), iota({4}, bool_));
  save(path("bf16.npy"), iota({3}, bfloat16));
  savez(path("plain.npz"), {{"x", iota({2, 3}, float32)}, {"y", transpose(iota({3, 4}, int64))}});
  savez(path("packed.npz"), {{"x", iota({200, 3}, float32)}, {"empty", zeros({0}, int8)}}, /*compressed=*/true);
  run_python(R"(
import sys, numpy as np, zipfile
d = sys.argv[1]
assert (np.load(f'{d}/f32.npy') == np.arange(6, dtype=np.float32).reshape(2, 3)).all()
c = np.load(f'{d}/c64.npy'); assert c.dtype == np.complex64 and (c == np.arange(5)).all()
u = np.load(f'{d}/u16.npy'); assert u.shape == () and u.dtype == np.uint16 and u == 0
f = np.load(f'{d}/fortran.npy'); assert f.flags.f_contiguous and (f == np.arange(12).reshape(3, 4).T).all()
assert (np.load(f'{d}/bool.npy') == np.array([False, True, True, True])).all()
b = np.load(f'{d}/bf16.npy'); assert b.dtype == np.dtype('V2') and b.shape == (3,)
z = np.load(f'{d}/plain.npz')
assert sorted(z.files) == ['x', 'y'] and (z['y'] == np.arange(12).reshape(3, 4).T).all()
z = np.load(f'{d}/packed.npz')
assert (z['x'] == np.arange(600, dtype=np.float32).reshape(200, 3)).all() and z['empty'].shape == (0,)
with zipfile.ZipFile(f'{d}/packed.npz') as zf:
    assert zf.testzip() is None
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
with zipfile.ZipFile(f'{d}/plain.npz') as zf:
    assert zf.testzip() is None
    assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
)");
}

TEST_F(IoTest, NpyRejectsOtherExtensions) {
  for (const char* name : {"a.npz", "a.safetensors", "a.gguf", "a"}) {
    std::string msg = error_of([&] { load(path(name)); });
    EXPECT_NE(msg.find("[load]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
  EXPECT_THROW(load(path("a.npz")), std::invalid_argument);
  std::string missing = error_of([&] { load(path("missing.npy")); });
  EXPECT_NE(missing.find("missing.npy"), std::string::npos) << missing;
}

TEST_F(IoTest, NpyDamagedFilesNameFileAndOffset) {
  save(path("good.npy"), iota({4, 4}, float32));
  std::string good = read_file(path("good.npy"));
  // Every truncation fails with the file name and an offset.
  for (size_t n = 0; n < good.size(); ++n) {
    write_file(path("cut.npy"), good.substr(0, n));
    std::string msg = error_of([&] { load(path("cut.npy")); });
    ASSERT_NE(msg.find("cut.npy"), std::string::npos) << n << ": " << msg;
    ASSERT_NE(msg.find("byte offset"), std::string::npos) << n << ": " << msg;
  }
  auto corrupt = [&](const std::string& from, const std::string& to) {
    std::string bad = good;
    auto at = bad.find(from);
    EXPECT_NE(at, std::string::npos);
    bad.replace(at, from.size(), to);
    write_file(path("bad.npy"), bad);
    return error_of([&] { load(path("bad.npy")); });
  };
  EXPECT_NE(corrupt("'<f4'", "'<f9'").find("unsupported dtype '<f9'"), std::string::npos);
  EXPECT_NE(corrupt("(4, 4)", "(4, 9)").find("truncated data"), std::string::npos);
  EXPECT_NE(corrupt("(4, 4)", "(4,-4)").find("negative"), std::string::npos);
  EXPECT_NE(corrupt("'shape'", "'shope'").find("unexpected key"), std::string::npos);
  EXPECT_NE(corrupt("False", "Nope!").find("unsupported value"), std::string::npos);
  EXPECT_NE(corrupt("(4, 4)", "(99999999999, 4)").find("2^31"), std::string::npos);
  EXPECT_NE(corrupt("NUMPY", "NUMPZ").find("bad magic"), std::string::npos);
  std::string v9 = good;
  v9[6] = 9;
  write_file(path("v9.npy"), v9);
  EXPECT_NE(error_of([&] { load(path("v9.npy")); }).find("version 9.0"), std::string::npos);
  EXPECT_THROW(load(path("v9.npy")), std::runtime_error);
}

// ---------------------------------------------------------------- .npz

TEST_F(IoTest, NpzRoundTrip) {
  for (bool compressed : {false, true}) {
    std::unordered_map<std::string, array> in;
    for (Dtype dt : kAllDtypes) in.emplace(dtype_name(dt), iota({3, 5}, dt));
    in.emplace("scalar", array(3.5f));
    in.emplace("empty", zeros({2, 0}, int32));
    in.emplace("fortran", transpose(iota({3, 4}, float64)));
    in.emplace("nested/näme", iota({2}, uint8));
    savez(path("a.npz"), in, compressed);
    auto out = loadz(path("a.npz"));
    ASSERT_EQ(out.size(), in.size());
    for (auto& [k, v] : in) {
      SCOPED_TRACE(k);
      ASSERT_TRUE(out.count(k));
      expect_same(out.at(k), v);
    }
  }
  savez(path("none"), {});
  EXPECT_TRUE(loadz(path("none.npz")).empty());
  EXPECT_EQ(files(), (std::vector<std::string>{"a.npz", "none.npz"}));
}

// More than 65535 members need the ZIP64 end records; NumPy (Python's zipfile) must agree.
TEST_F(IoTest, NpzManyMembersUseZip64EndRecords) {
  constexpr int kCount = 66000;
  std::unordered_map<std::string, array> in;
  array one = iota({1}, int16);
  for (int i = 0; i < kCount; ++i) in.emplace("a" + std::to_string(i), one);
  savez(path("many.npz"), in);
  auto out = loadz(path("many.npz"));
  ASSERT_EQ(out.size(), size_t(kCount));
  expect_same(out.at("a65999"), one);
  std::string data = read_file(path("many.npz"));
  EXPECT_NE(data.find(std::string("PK\x06\x06", 4)), std::string::npos);  // zip64 end record
  if (!have_numpy()) return;
  run_python(R"(
import sys, numpy as np
z = np.load(sys.argv[1] + '/many.npz')
assert len(z.files) == 66000 and z['a65999'].tolist() == [0]
)");
}

TEST_F(IoTest, NpzReadsNumPyArchives) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  run_python(R"(
import sys, numpy as np, zipfile
d = sys.argv[1]
a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
f = np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4))
np.savez(f'{d}/plain.npz', a=a, f=f, s=np.array(5, dtype=np.uint8))
np.savez_compressed(f'{d}/packed.npz', a=a, f=f, big=np.zeros(100000, dtype=np.float64))
# A non-array member is skipped, as NumPy's NpzFile would not return it as an array.
with zipfile.ZipFile(f'{d}/extra.npz', 'w', zipfile.ZIP_DEFLATED) as zf:
    zf.writestr('notes.txt', 'hello')
    with zf.open('x.npy', 'w', force_zip64=True) as m:
        np.lib.format.write_array(m, np.arange(5, dtype=np.int16))
)");
  for (const char* name : {"plain.npz", "packed.npz"}) {
    SCOPED_TRACE(name);
    auto z = loadz(path(name));
    expect_same(z.at("a"), iota({2, 3, 4}, float32));
    expect_same(z.at("f"), iota({3, 4}, int64));
  }
  expect_same(loadz(path("plain.npz")).at("s"), array(5, uint8));
  expect_same(loadz(path("packed.npz")).at("big"), zeros({100000}, float64));
  auto extra = loadz(path("extra.npz"));
  ASSERT_EQ(extra.size(), 1u);
  expect_same(extra.at("x"), iota({5}, int16));
}

TEST_F(IoTest, NpzDamagedArchivesNameFileAndOffset) {
  for (bool compressed : {false, true}) {
    SCOPED_TRACE(compressed ? "deflated" : "stored");
    savez(path("good.npz"), {{"w", iota({16, 16}, float32)}, {"b", iota({16}, int64)}}, compressed);
    std::string good = read_file(path("good.npz"));
    for (size_t n = 0; n < good.size(); n += 7) {
      write_file(path("cut.npz"), good.substr(0, n));
      std::string msg = error_of([&] { loadz(path("cut.npz")); });
      ASSERT_NE(msg.find("cut.npz"), std::string::npos) << n << ": " << msg;
      ASSERT_NE(msg.find("byte offset"), std::string::npos) << n << ": " << msg;
    }
    // Flip one byte inside the first member's array data: the CRC (or inflate) catches it.
    std::string bad = good;
    bad[200] ^= 0x55;
    write_file(path("bad.npz"), bad);
    std::string msg = error_of([&] { loadz(path("bad.npz")); });
    EXPECT_NE(msg.find("bad.npz"), std::string::npos) << msg;
    if (!compressed) {
      EXPECT_NE(msg.find("CRC-32 mismatch"), std::string::npos) << msg;
    }
    EXPECT_THROW(loadz(path("bad.npz")), std::runtime_error);
  }
  write_file(path("junk.npz"), std::string(100, 'x'));
  EXPECT_NE(error_of([&] { loadz(path("junk.npz")); }).find("not a zip archive"), std::string::npos);
}

// ---------------------------------------------------------------- safetensors

TEST_F(IoTest, SafetensorsRoundTrip) {
  std::unordered_map<std::string, array> in;
  for (Dtype dt : kAllDtypes) in.emplace(std::string("t_") + dtype_name(dt), iota({3, 5}, dt));
  in.emplace("scalar", array(2.5f));
  in.emplace("empty", zeros({0, 4}, float16));
  in.emplace("transposed", transpose(iota({3, 4}, int32)));
  save_safetensors(path("m"), in, {{"format", "pt"}, {"note", "hello"}});
  auto [out, meta] = load_safetensors(path("m.safetensors"));
  ASSERT_EQ(out.size(), in.size());
  for (auto& [k, v] : in) {
    SCOPED_TRACE(k);
    expect_same(out.at(k), v);
  }
  EXPECT_EQ(meta.size(), 2u);
  EXPECT_EQ(meta.at("note"), "hello");

  std::string data = read_file(path("m.safetensors"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | (unsigned char)data[i];
  EXPECT_EQ((8 + n) % 8, 0u);
  std::string header = data.substr(8, n);
  EXPECT_LT(header.find("\"empty\""), header.find("\"scalar\""));  // sorted names
  EXPECT_THROW(save_safetensors(path("x"), {{"__metadata__", array(1)}}), std::invalid_argument);
  EXPECT_EQ(files(), std::vector<std::string>{"m.safetensors"});
}

TEST_F(IoTest, SafetensorsZeroCopyFromPython) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  run_python(R"(
import sys, json, struct, numpy as np
d = sys.argv[1]
w = np.arange(1 << 20, dtype=np.float32)
b = np.arange(6, dtype=np.float16).reshape(2, 3)
odd = np.arange(3, dtype=np.int32)
header = {'w': {'dtype': 'F32', 'shape': [1 << 20], 'data_offsets': [0, w.nbytes]},
          'b': {'dtype': 'F16', 'shape': [2, 3], 'data_offsets': [w.nbytes, w.nbytes + 12]},
          'odd': {'dtype': 'I32', 'shape': [3], 'data_offsets': [w.nbytes + 13, w.nbytes + 25]},
          '__metadata__': {'format': 'np'}}
h = json.dumps(header).encode()
h += b' ' * (-len(h) % 8)
with open(f'{d}/model.safetensors', 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + w.tobytes() + b.tobytes() + b'\0' + odd.tobytes())
)");
  size_t before = get_active_memory();
  std::string file = path("model.safetensors");
  auto mapped = [&] {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
      if (line.find(file) != std::string::npos) return true;
    }
    return false;
  };
  {
    auto [arrays, meta] = load_safetensors(file);
    EXPECT_EQ(meta.at("format"), "np");
    array w = arrays.at("w");
    EXPECT_LT(int64_t(get_active_memory()) - int64_t(before), int64_t(1) << 20);  // the 4 MiB tensor was not copied
    EXPECT_TRUE(mapped());
    expect_same(w, arange(double(1 << 20), float32));
    expect_same(arrays.at("b"), iota({2, 3}, float16));
    expect_same(arrays.at("odd"), iota({3}, int32));  // misaligned in the file: copied
    arrays.clear();
    EXPECT_TRUE(mapped());  // `w` still holds the mapping
    // In-place updates of a mapped array stay private to the process.
    array w2 = add(w, array(1.0f));
    w = array(0);
    w2.eval();
  }
  EXPECT_FALSE(mapped());  // released with the last array
  auto again = load_safetensors(file).first;
  expect_same(again.at("w"), arange(double(1 << 20), float32));
}

TEST_F(IoTest, SafetensorsDamagedFilesNameFileAndOffset) {
  save_safetensors(path("good.safetensors"), {{"w", iota({8, 8}, float32)}, {"b", iota({8}, float16)}});
  std::string good = read_file(path("good.safetensors"));
  for (size_t n = 0; n < good.size(); n += 5) {
    write_file(path("cut.safetensors"), good.substr(0, n));
    std::string msg = error_of([&] { load_safetensors(path("cut.safetensors")); });
    ASSERT_NE(msg.find("[load_safetensors]"), std::string::npos) << n << ": " << msg;
    ASSERT_NE(msg.find("cut.safetensors"), std::string::npos) << n << ": " << msg;
    ASSERT_NE(msg.find("byte offset"), std::string::npos) << n << ": " << msg;
  }
  auto with_header = [&](const std::string& json, size_t data_bytes = 64) {
    std::string h = json;
    std::string f(8, '\0');
    for (int i = 0; i < 8; ++i) f[i] = char((uint64_t(h.size()) >> (8 * i)) & 0xFF);
    write_file(path("h.safetensors"), f + h + std::string(data_bytes, '\0'));
    return error_of([&] { load_safetensors(path("h.safetensors")); });
  };
  EXPECT_NE(with_header("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(with_header("{\"a\": ").find("invalid JSON"), std::string::npos);
  EXPECT_NE(with_header(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                           "w": {"dtype": "F32", "shape": [4], "data_offsets": [16, 32]}})")
                .find("duplicate key 'w'"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"w": {"dtype": "F32", "shape": [1024], "data_offsets": [100, 4196]}})")
                .find("tensor 'w' data range [100, 4196) exceeds"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"w": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]}})").find("need 20 bytes"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}})")
                .find("unsupported dtype 'F8_E4M3'"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                           "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}})")
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 4]}})").find("shape"),
            std::string::npos);
  EXPECT_NE(with_header(R"({"__metadata__": {"k": 1}})").find("not a string"), std::string::npos);
  EXPECT_NE(with_header(std::string(100, '[') + std::string(100, ']')).find("deeper"), std::string::npos);
  // A header length larger than the file or than the limit.
  std::string huge = good;
  huge[5] = 0x10;
  write_file(path("huge.safetensors"), huge);
  std::string msg = error_of([&] { load_safetensors(path("huge.safetensors")); });
  EXPECT_NE(msg.find("exceeds the limit"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset 0"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- atomic saves

TEST_F(IoTest, AtomicSaveFailureKeepsOldFile) {
  array small = iota({4}, float32);
  array big = iota({1 << 18}, float32);  // 1 MiB
  save(path("a.npy"), small);
  savez(path("a.npz"), {{"x", small}});
  save_safetensors(path("a.safetensors"), {{"x", small}});
  const std::vector<std::string> before = files();
  std::string npy = read_file(path("a.npy")), npz = read_file(path("a.npz")), st = read_file(path("a.safetensors"));

  // Make writes fail partway: a file size limit of 64 KiB (EFBIG instead of SIGXFSZ).
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 64 << 10;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  std::string e1 = error_of([&] { save(path("a.npy"), big); });
  std::string e2 = error_of([&] { savez(path("a.npz"), {{"x", big}}); });
  std::string e3 = error_of([&] { save_safetensors(path("a.safetensors"), {{"x", big}}); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_NE(e1.find("[save]"), std::string::npos) << e1;
  EXPECT_NE(e2.find("[savez]"), std::string::npos) << e2;
  EXPECT_NE(e3.find("[save_safetensors]"), std::string::npos) << e3;
  EXPECT_EQ(files(), before);  // no temporary files left behind
  EXPECT_EQ(read_file(path("a.npy")), npy);
  EXPECT_EQ(read_file(path("a.npz")), npz);
  EXPECT_EQ(read_file(path("a.safetensors")), st);

  // And a successful save replaces the file completely.
  save(path("a.npy"), big);
  expect_same(load(path("a.npy")), big);
  EXPECT_EQ(files(), before);
  EXPECT_THROW(save(path("no-such-dir/a.npy"), small), std::runtime_error);
}
