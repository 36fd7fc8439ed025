// NumPy's .npy format (numpy/lib/format.py describes it): the magic "\x93NUMPY", a major and
// minor version, a little-endian header length (2 bytes in 1.0, 4 bytes in 2.0 and 3.0), and an
// ASCII (UTF-8 in 3.0) Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}
// padded with spaces and a newline, followed by the raw elements.
#include "io/npy.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "tessera/io.h"
#include "tessera/ops.h"

namespace tessera::io {

namespace {

constexpr char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
// NumPy itself refuses headers over 10,000 bytes unless told otherwise; a valid header of any
// array Tessera can represent is far below this.
constexpr uint64_t kMaxHeaderLen = uint64_t(1) << 20;
constexpr size_t kMaxDims = 64;
constexpr size_t kAlign = 64;  // NumPy pads the preamble to a multiple of 64 bytes

uint32_t le32(const unsigned char* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

// A Python literal value as it appears in an npy header.
struct PyValue {
  enum class Kind { str, boolean, tuple, other } kind = Kind::other;
  std::string str;
  bool b = false;
  std::vector<uint64_t> ints;
};

// Parses the header dict; errors point at the offending byte of the file.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const ByteSource& src, uint64_t base) : s_(text), src_(src), base_(base) {}

  void parse(std::optional<std::string>* descr, std::optional<bool>* fortran, std::optional<std::vector<uint64_t>>* shape) {
    skip_ws();
    expect('{');
    skip_ws();
    while (peek() != '}') {
      size_t key_at = i_;
      if (peek() != '\'' && peek() != '"') fail(i_, "expected a quoted key in the header dict");
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      size_t value_at = i_;
      PyValue v = parse_value();
      if (key == "descr") {
        if (descr->has_value()) fail(key_at, "duplicate key 'descr'");
        if (v.kind != PyValue::Kind::str) fail(value_at, "'descr' is not a type string (structured dtypes are not supported)");
        *descr = v.str;
      } else if (key == "fortran_order") {
        if (fortran->has_value()) fail(key_at, "duplicate key 'fortran_order'");
        if (v.kind != PyValue::Kind::boolean) fail(value_at, "'fortran_order' is not True or False");
        *fortran = v.b;
      } else if (key == "shape") {
        if (shape->has_value()) fail(key_at, "duplicate key 'shape'");
        if (v.kind != PyValue::Kind::tuple) fail(value_at, "'shape' is not a tuple of integers");
        *shape = std::move(v.ints);
      } else {
        fail(key_at, "unexpected key '" + key + "' in the header");
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        skip_ws();
      } else if (peek() != '}') {
        fail(i_, "expected ',' or '}' in the header dict");
      }
    }
    ++i_;
    skip_ws();
    if (i_ != s_.size()) fail(i_, "unexpected text after the header dict");
    if (!descr->has_value()) fail(0, "header has no 'descr'");
    if (!fortran->has_value()) fail(0, "header has no 'fortran_order'");
    if (!shape->has_value()) fail(0, "header has no 'shape'");
  }

  [[noreturn]] void fail(size_t at, const std::string& what) const { src_.fail(base_ + at, what); }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(i_, std::string("expected '") + c + "' in the header");
    ++i_;
  }

  std::string parse_string() {
    char q = s_[i_++];
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') fail(i_, "escape sequences are not supported in header strings");
      ++i_;
    }
    if (i_ >= s_.size()) fail(start - 1, "unterminated string in the header");
    return s_.substr(start, i_++ - start);
  }

  bool match_word(const char* w) {
    size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }

  uint64_t parse_int() {
    size_t start = i_;
    if (peek() == '-') fail(i_, "negative dimension in 'shape'");
    uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + uint64_t(s_[i_] - '0');
      if (v > uint64_t(INT32_MAX)) fail(start, "dimension in 'shape' exceeds 2^31 - 1");
      ++i_;
    }
    if (i_ == start) fail(i_, "expected an integer in 'shape'");
    if (peek() == 'L') ++i_;  // Python 2 long literals
    return v;
  }

  PyValue parse_value() {
    PyValue v;
    char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::str;
      v.str = parse_string();
    } else if (match_word("True")) {
      v.kind = PyValue::Kind::boolean;
      v.b = true;
    } else if (match_word("False")) {
      v.kind = PyValue::Kind::boolean;
      v.b = false;
    } else if (c == '(') {
      ++i_;
      v.kind = PyValue::Kind::tuple;
      skip_ws();
      while (peek() != ')') {
        v.ints.push_back(parse_int());
        if (v.ints.size() > kMaxDims) fail(i_, "'shape' has more than " + std::to_string(kMaxDims) + " dimensions");
        skip_ws();
        if (peek() == ',') {
          ++i_;
          skip_ws();
        } else if (peek() != ')') {
          fail(i_, "expected ',' or ')' in 'shape'");
        }
      }
      ++i_;
    } else {
      fail(i_, "unsupported value in the header");
    }
    return v;
  }

  const std::string& s_;
  const ByteSource& src_;
  uint64_t base_;
  size_t i_ = 0;
};

std::string shape_literal(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Swaps the bytes of `n` units of `width` bytes in place.
void byteswap(char* p, size_t n, size_t width) {
  for (size_t i = 0; i < n; ++i, p += width) std::reverse(p, p + width);
}

void read_fully(ByteSource& src, void* dst, uint64_t n, const char* what) {
  uint64_t at = src.position();
  char* p = static_cast<char*>(dst);
  uint64_t done = 0;
  while (done < n) {
    size_t chunk = size_t(std::min<uint64_t>(n - done, uint64_t(1) << 30));
    size_t got = src.read(p + done, chunk);
    done += got;
    if (got < chunk) {
      src.fail(at, std::string("truncated ") + what + " (needs " + std::to_string(n) + " bytes, got " +
                       std::to_string(done) + ")");
    }
  }
}

}  // namespace

NpyPrepared prepare_npy(const array& a) {
  NpyPrepared p{dense_for_save(a, /*allow_col_major=*/true), {}};
  const array& d = p.data;
  // 1-d and smaller arrays are both row- and column-contiguous; NumPy calls them C order.
  bool fortran = !d.flags().row_contiguous;
  Shape shape = d.shape();
  std::string dict = "{'descr': '" + dtype_to_array_protocol(d.dtype()) + "', 'fortran_order': " +
                     (fortran ? "True" : "False") + ", 'shape': " + shape_literal(shape) + ", }";
  // Version 1.0 unless the header needs a 4-byte length.
  for (int version : {1, 2}) {
    size_t len_bytes = version == 1 ? 2 : 4;
    size_t fixed = sizeof(kMagic) + 2 + len_bytes;
    size_t total = fixed + dict.size() + 1;
    size_t padded = (total + kAlign - 1) / kAlign * kAlign;
    size_t header_len = padded - fixed;
    if (version == 1 && header_len > 0xFFFF) continue;
    std::string out(kMagic, sizeof(kMagic));
    out += char(version);
    out += char(0);
    for (size_t b = 0; b < len_bytes; ++b) out += char((header_len >> (8 * b)) & 0xFF);
    out += dict;
    out.append(padded - total, ' ');
    out += '\n';
    p.preamble = std::move(out);
    break;
  }
  return p;
}

void write_npy(ByteSink& sink, const NpyPrepared& p) {
  sink.write(p.preamble.data(), p.preamble.size());
  if (p.data.nbytes() > 0) sink.write(p.data.data<char>(), p.data.nbytes());
}

array read_npy(ByteSource& src) {
  unsigned char pre[8];
  if (src.read(pre, sizeof(pre)) != sizeof(pre)) src.fail(0, "truncated .npy preamble (needs 8 bytes)");
  if (std::memcmp(pre, kMagic, sizeof(kMagic)) != 0) src.fail(0, "not a .npy file (bad magic string)");
  int major = pre[6], minor = pre[7];
  uint64_t header_len = 0;
  if (major == 1) {
    unsigned char l[2];
    if (src.read(l, 2) != 2) src.fail(8, "truncated .npy header length");
    header_len = uint64_t(l[0]) | uint64_t(l[1]) << 8;
  } else if (major == 2 || major == 3) {
    unsigned char l[4];
    if (src.read(l, 4) != 4) src.fail(8, "truncated .npy header length");
    header_len = le32(l);
  } else {
    src.fail(6, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
  }
  uint64_t header_at = src.position();
  if (header_len > kMaxHeaderLen) {
    src.fail(8, "header length " + std::to_string(header_len) + " exceeds the limit of " + std::to_string(kMaxHeaderLen));
  }
  if (header_len > src.remaining()) {
    src.fail(8, "header length " + std::to_string(header_len) + " runs past the end of the data (" +
                    std::to_string(src.remaining()) + " bytes left)");
  }
  std::string text(size_t(header_len), '\0');
  read_fully(src, text.data(), header_len, ".npy header");

  HeaderParser parser(text, src, header_at);
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<uint64_t>> dims;
  parser.parse(&descr, &fortran, &dims);

  // NumPy writes '<' (little), '>' (big), '|' (byte order irrelevant) or '=' (native). Big-endian
  // data is converted to the native little-endian layout after reading.
  std::string type = *descr;
  bool big_endian = !type.empty() && type[0] == '>';
  if (big_endian) type[0] = '<';
  Dtype dtype = bool_;
  try {
    dtype = dtype_from_array_protocol(type);
  } catch (const std::invalid_argument&) {
    src.fail(header_at, "unsupported dtype '" + *descr +
                            "' (supported: bool, [u]int8-64, float16/32/64, complex64, and '<V2' read as bfloat16)");
  }

  Shape shape;
  uint64_t count = 1;
  for (uint64_t d : *dims) {
    shape.push_back(ShapeElem(d));
    if (mul_overflows(count, d, &count)) src.fail(header_at, "shape " + shape_literal(shape) + " overflows");
  }
  uint64_t nbytes;
  if (mul_overflows(count, size_of(dtype), &nbytes)) src.fail(header_at, "array byte size overflows");
  uint64_t data_at = src.position();
  if (nbytes > src.remaining()) {
    src.fail(data_at, "truncated data: shape " + shape_literal(shape) + " of " + dtype_name(dtype) + " needs " +
                          std::to_string(nbytes) + " bytes but only " + std::to_string(src.remaining()) + " remain");
  }

  // Fortran-ordered data is the C-ordered transpose; read it as such and return the transposed view.
  Shape stored = shape;
  if (*fortran) std::reverse(stored.begin(), stored.end());
  array out(allocator::malloc(size_t(nbytes)), stored, dtype);
  read_fully(src, out.data<char>(), nbytes, "array data");
  if (big_endian && size_of(dtype) > 1) {
    size_t width = dtype == complex64 ? 4 : size_of(dtype);
    byteswap(out.data<char>(), size_t(nbytes / width), width);
  }
  if (*fortran && out.ndim() > 1) {
    out = transpose(out);
    out.eval();
  }
  return out;
}

}  // namespace tessera::io

namespace tessera {

void save(const std::string& file, array a) {
  std::string path = io::ends_with(file, ".npy") ? file : file + ".npy";
  io::NpyPrepared p = io::prepare_npy(a);
  io::write_file_atomic("save", path, [&](io::FileWriter& w) { io::write_npy(w, p); });
}

array load(const std::string& file, StreamOrDevice s) {
  (void)s;  // loading happens on the host; the arrays are usable on any device
  if (io::ends_with(file, ".npz")) {
    throw std::invalid_argument("[load] " + file + ": .npz archives hold several arrays; use loadz.");
  }
  if (io::ends_with(file, ".safetensors")) {
    throw std::invalid_argument("[load] " + file + ": use load_safetensors for .safetensors files.");
  }
  if (!io::ends_with(file, ".npy")) {
    throw std::invalid_argument("[load] " + file + ": unsupported file extension; load reads .npy files.");
  }
  io::FileReader f("load", file);
  io::FileRegionSource src(f, 0, f.size());
  return io::read_npy(src);
}

}  // namespace tessera
