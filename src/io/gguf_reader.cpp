// GGUF reader: parses the header, metadata and tensor infos of a memory-mapped file with every
// read bounds-checked, then builds arrays over the mapping on request.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <unordered_map>

#include "io/file_io.h"
#include "core/thread_pool.h"
#include "io/gguf_quant.h"
#include "tessera/gguf.h"
#include "tessera/ops.h"

namespace tessera::gguf {

// Lets the parser fill a Value's storage directly (the public constructors copy).
struct ValueAccess {
  static Value scalar(ValueType t, uint64_t bits) {
    Value v;
    v.type_ = t;
    v.bits_ = bits;
    return v;
  }
  static Value string(std::string s) { return Value(std::move(s)); }
  static Value numeric_array(ValueType elem, uint64_t count, const uint8_t* p, size_t nbytes) {
    Value v;
    v.type_ = ValueType::array;
    v.elem_ = elem;
    v.count_ = count;
    v.raw_.assign(p, p + nbytes);
    return v;
  }
  static Value string_array(std::vector<std::string> s) { return Value(std::move(s)); }
  static Value nested_array(std::vector<Value> items) {
    Value v;
    v.type_ = ValueType::array;
    v.elem_ = ValueType::array;
    v.count_ = items.size();
    v.items_ = std::move(items);
    return v;
  }
};

namespace {

constexpr const char* kOp = "gguf";
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 4;
// Values per task when blocks are decoded in parallel.
constexpr int64_t kGrainValues = 1 << 16;

std::mutex& log_mutex() {
  static std::mutex m;
  return m;
}
LogFn& log_fn() {
  static LogFn fn;
  return fn;
}

bool known_value_type(uint32_t t) { return t <= uint32_t(ValueType::float64); }

// Sequential little-endian reads over the mapped bytes; every read checks the bounds first.
class Cursor {
 public:
  Cursor(const std::string& file, const uint8_t* data, uint64_t size) : file_(file), data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  [[noreturn]] void fail(uint64_t at, const std::string& what) const { io::fail_at(kOp, file_, at, what); }

  void need(uint64_t n, const char* what) const {
    if (n > remaining()) {
      fail(pos_, std::string("truncated file: ") + what + " needs " + std::to_string(n) + " bytes but only " +
                     std::to_string(remaining()) + " remain (file size " + std::to_string(size_) + ")");
    }
  }
  uint64_t read_uint(size_t w, const char* what) {
    need(w, what);
    uint64_t v = 0;
    for (size_t k = 0; k < w; ++k) v |= uint64_t(data_[pos_ + k]) << (8 * k);
    pos_ += w;
    return v;
  }
  uint32_t u32(const char* what) { return uint32_t(read_uint(4, what)); }
  uint64_t u64(const char* what) { return read_uint(8, what); }
  std::string string(const char* what) {
    uint64_t at = pos_;
    uint64_t n = u64(what);
    if (n > remaining()) {
      fail(at, std::string(what) + ": string length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(remaining()) + " bytes remain)");
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), size_t(n));
    pos_ += n;
    return s;
  }
  const uint8_t* bytes(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

 private:
  const std::string& file_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

Value read_value(Cursor& c, uint32_t type, uint64_t type_at, const std::string& key, int depth) {
  if (!known_value_type(type)) {
    c.fail(type_at, "metadata '" + key + "': unknown value type " + std::to_string(type));
  }
  ValueType t = ValueType(type);
  if (size_t w = value_type_width(t)) {
    uint64_t at = c.pos();
    uint64_t bits = c.read_uint(w, "a metadata value");
    if (t == ValueType::bool_ && bits > 1) {
      c.fail(at, "metadata '" + key + "': bool value " + std::to_string(bits) + " is neither 0 nor 1");
    }
    return ValueAccess::scalar(t, bits);
  }
  if (t == ValueType::string) return ValueAccess::string(c.string("a metadata string"));
  // Array: element type, count, elements. The count is checked against the bytes left before
  // anything is reserved, using the smallest size an element can have.
  uint64_t elem_at = c.pos();
  uint32_t et = c.u32("an array element type");
  if (!known_value_type(et)) c.fail(elem_at, "metadata '" + key + "': unknown array element type " + std::to_string(et));
  uint64_t count_at = c.pos();
  uint64_t count = c.u64("an array length");
  ValueType e = ValueType(et);
  uint64_t min_elem = value_type_width(e) ? value_type_width(e) : (e == ValueType::string ? 8 : 12);
  if (count > c.remaining() / min_elem) {
    c.fail(count_at, "metadata '" + key + "': array of " + std::to_string(count) + " " + value_type_name(e) +
                         " elements needs at least " + std::to_string(min_elem) + " bytes each but only " +
                         std::to_string(c.remaining()) + " bytes remain");
  }
  if (size_t w = value_type_width(e)) {
    const uint8_t* p = c.bytes(count * w, "array elements");
    if (e == ValueType::bool_) {
      for (uint64_t i = 0; i < count; ++i) {
        if (p[i] > 1) c.fail(c.pos() - count + i, "metadata '" + key + "': bool array element is neither 0 nor 1");
      }
    }
    return ValueAccess::numeric_array(e, count, p, size_t(count * w));
  }
  if (e == ValueType::string) {
    std::vector<std::string> s;
    s.reserve(size_t(count));
    for (uint64_t i = 0; i < count; ++i) s.push_back(c.string("an array string"));
    return ValueAccess::string_array(std::move(s));
  }
  if (depth + 1 >= kMaxArrayDepth) {
    c.fail(elem_at, "metadata '" + key + "': arrays nest deeper than " + std::to_string(kMaxArrayDepth) + " levels");
  }
  std::vector<Value> items;
  items.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    items.push_back(read_value(c, uint32_t(ValueType::array), elem_at, key, depth + 1));
  }
  return ValueAccess::nested_array(std::move(items));
}

Dtype plain_dtype(TensorType t, bool* ok) {
  *ok = true;
  switch (t) {
    case TensorType::f32: return float32;
    case TensorType::f16: return float16;
    case TensorType::bf16: return bfloat16;
    case TensorType::f64: return float64;
    case TensorType::i8: return int8;
    case TensorType::i16: return int16;
    case TensorType::i32: return int32;
    case TensorType::i64: return int64;
    default:
      *ok = false;
      return float32;
  }
}

}  // namespace

// ------------------------------------------------------------------ type tables

std::string tensor_type_name(TensorType t) {
  switch (t) {
    case TensorType::f32: return "F32";
    case TensorType::f16: return "F16";
    case TensorType::q4_0: return "Q4_0";
    case TensorType::q4_1: return "Q4_1";
    case TensorType::q5_0: return "Q5_0";
    case TensorType::q5_1: return "Q5_1";
    case TensorType::q8_0: return "Q8_0";
    case TensorType::q8_1: return "Q8_1";
    case TensorType::q2_k: return "Q2_K";
    case TensorType::q3_k: return "Q3_K";
    case TensorType::q4_k: return "Q4_K";
    case TensorType::q5_k: return "Q5_K";
    case TensorType::q6_k: return "Q6_K";
    case TensorType::q8_k: return "Q8_K";
    case TensorType::iq2_xxs: return "IQ2_XXS";
    case TensorType::iq2_xs: return "IQ2_XS";
    case TensorType::iq3_xxs: return "IQ3_XXS";
    case TensorType::iq1_s: return "IQ1_S";
    case TensorType::iq4_nl: return "IQ4_NL";
    case TensorType::iq3_s: return "IQ3_S";
    case TensorType::iq2_s: return "IQ2_S";
    case TensorType::iq4_xs: return "IQ4_XS";
    case TensorType::i8: return "I8";
    case TensorType::i16: return "I16";
    case TensorType::i32: return "I32";
    case TensorType::i64: return "I64";
    case TensorType::f64: return "F64";
    case TensorType::iq1_m: return "IQ1_M";
    case TensorType::bf16: return "BF16";
    case TensorType::tq1_0: return "TQ1_0";
    case TensorType::tq2_0: return "TQ2_0";
  }
  return "type " + std::to_string(uint32_t(t));
}

std::pair<uint32_t, uint32_t> block_layout(TensorType t) {
  // {elements, bytes} per block (ggml's type traits).
  switch (t) {
    case TensorType::f32: return {1, 4};
    case TensorType::f16: return {1, 2};
    case TensorType::bf16: return {1, 2};
    case TensorType::f64: return {1, 8};
    case TensorType::i8: return {1, 1};
    case TensorType::i16: return {1, 2};
    case TensorType::i32: return {1, 4};
    case TensorType::i64: return {1, 8};
    case TensorType::q4_0: return {32, 18};
    case TensorType::q4_1: return {32, 20};
    case TensorType::q5_0: return {32, 22};
    case TensorType::q5_1: return {32, 24};
    case TensorType::q8_0: return {32, 34};
    case TensorType::q8_1: return {32, 36};
    case TensorType::q2_k: return {256, 84};
    case TensorType::q3_k: return {256, 110};
    case TensorType::q4_k: return {256, 144};
    case TensorType::q5_k: return {256, 176};
    case TensorType::q6_k: return {256, 210};
    case TensorType::q8_k: return {256, 292};
    case TensorType::iq2_xxs: return {256, 66};
    case TensorType::iq2_xs: return {256, 74};
    case TensorType::iq3_xxs: return {256, 98};
    case TensorType::iq1_s: return {256, 50};
    case TensorType::iq4_nl: return {32, 18};
    case TensorType::iq3_s: return {256, 110};
    case TensorType::iq2_s: return {256, 82};
    case TensorType::iq4_xs: return {256, 136};
    case TensorType::iq1_m: return {256, 56};
    case TensorType::tq1_0: return {256, 54};
    case TensorType::tq2_0: return {256, 66};
  }
  return {0, 0};
}

Shape TensorInfo::shape() const {
  Shape s;
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) s.push_back(ShapeElem(*it));
  return s;
}

uint64_t TensorInfo::num_elements() const {
  uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

void set_log_handler(LogFn fn) {
  std::lock_guard<std::mutex> lock(log_mutex());
  log_fn() = std::move(fn);
}

void log(const std::string& line) {
  std::lock_guard<std::mutex> lock(log_mutex());
  if (log_fn()) {
    log_fn()(line);
    return;
  }
  const char* quiet = std::getenv("TESSERA_QUIET");
  if (!quiet || !*quiet || std::string(quiet) == "0") std::cerr << line << "\n";
}

// ------------------------------------------------------------------ parsing

struct Reader::Impl {
  std::string path;
  std::shared_ptr<io::Mapping> map;
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;
  std::vector<std::pair<std::string, Value>> metadata;
  std::unordered_map<std::string, size_t> meta_index;
  std::vector<TensorInfo> tensors;
  std::unordered_map<std::string, size_t> tensor_index;
};

Reader::Reader(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  impl->map = std::make_shared<io::Mapping>(kOp, path);
  const uint8_t* data = reinterpret_cast<const uint8_t*>(impl->map->data());
  uint64_t size = impl->map->size();
  Cursor c(path, data, size);

  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {
    c.fail(0, size < 4 ? "file of " + std::to_string(size) + " bytes is too small for the GGUF magic"
                       : "not a GGUF file (the magic is not \"GGUF\")");
  }
  c.bytes(4, "the magic");
  uint64_t at = c.pos();
  impl->version = c.u32("the version");
  if (impl->version == 1) {
    c.fail(at, "GGUF version 1 (32-bit counts) is not supported; convert the file to version 3");
  }
  if ((impl->version & 0xffff) == 0 && impl->version != 0) {
    c.fail(at, "the version field reads " + std::to_string(impl->version) +
                   ": this looks like a big-endian GGUF file, which is not supported");
  }
  if (impl->version != 2 && impl->version != 3) {
    c.fail(at, "unsupported GGUF version " + std::to_string(impl->version) + " (versions 2 and 3 are supported)");
  }
  at = c.pos();
  uint64_t n_tensors = c.u64("the tensor count");
  uint64_t n_kv = c.u64("the metadata count");
  // The smallest tensor info is 24 bytes (empty name, no dims); a key/value pair at least 13.
  if (n_tensors > c.remaining() / 24) {
    c.fail(at, "tensor count " + std::to_string(n_tensors) + " cannot fit in the " + std::to_string(c.remaining()) +
                   " bytes that follow the header");
  }
  if (n_kv > c.remaining() / 13) {
    c.fail(at + 8, "metadata count " + std::to_string(n_kv) + " cannot fit in the " + std::to_string(c.remaining()) +
                       " bytes that follow the header");
  }

  impl->metadata.reserve(size_t(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    uint64_t key_at = c.pos();
    std::string key = c.string("a metadata key");
    if (impl->meta_index.count(key)) c.fail(key_at, "duplicate metadata key '" + key + "'");
    uint64_t type_at = c.pos();
    uint32_t type = c.u32("a metadata value type");
    Value v = read_value(c, type, type_at, key, 0);
    if (key == "general.alignment") {
      uint64_t a = 0;
      bool ok = v.is_integer();
      if (ok) {
        try {
          a = v.to_uint();
        } catch (const std::invalid_argument&) {
          ok = false;
        }
      }
      if (!ok || a == 0 || (a & (a - 1)) != 0 || a > (uint64_t(1) << 30)) {
        c.fail(type_at, "general.alignment must be a power of two in [1, 2^30], got " + v.to_string());
      }
      impl->alignment = a;
    }
    impl->meta_index.emplace(key, impl->metadata.size());
    impl->metadata.emplace_back(std::move(key), std::move(v));
  }

  impl->tensors.reserve(size_t(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.info_offset = c.pos();
    t.name = c.string("a tensor name");
    if (impl->tensor_index.count(t.name)) c.fail(t.info_offset, "duplicate tensor name '" + t.name + "'");
    uint64_t nd_at = c.pos();
    uint32_t nd = c.u32("a tensor's dimension count");
    if (nd > kMaxDims) {
      c.fail(nd_at, "tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions (at most " +
                        std::to_string(kMaxDims) + " are allowed)");
    }
    uint64_t elems = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t dim_at = c.pos();
      uint64_t dim = c.u64("a tensor dimension");
      if (dim > uint64_t(INT32_MAX)) {
        c.fail(dim_at, "tensor '" + t.name + "' dimension " + std::to_string(d) + " is " +
                           std::to_string(int64_t(dim)) + " (must be in [0, 2^31 - 1])");
      }
      if (io::mul_overflows(elems, dim, &elems)) c.fail(dim_at, "tensor '" + t.name + "' element count overflows");
      t.dims.push_back(dim);
    }
    uint64_t type_at = c.pos();
    t.type = TensorType(c.u32("a tensor type"));
    auto [blk, blk_bytes] = block_layout(t.type);
    if (blk == 0) c.fail(type_at, "tensor '" + t.name + "' has unknown ggml type " + std::to_string(uint32_t(t.type)));
    uint64_t row = t.dims.empty() ? 1 : t.dims[0];
    if (row % blk != 0) {
      std::string shape;
      for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it) shape += (shape.empty() ? "" : ", ") + std::to_string(*it);
      c.fail(type_at, "tensor '" + t.name + "' of type " + tensor_type_name(t.type) + " has shape [" + shape +
                          "]: its rows of " + std::to_string(row) + " values are not a multiple of the type's block size " +
                          std::to_string(blk));
    }
    if (io::mul_overflows(elems / blk, blk_bytes, &t.nbytes)) c.fail(type_at, "tensor '" + t.name + "' byte size overflows");
    uint64_t off_at = c.pos();
    t.offset = c.u64("a tensor offset");
    if (t.offset % impl->alignment != 0) {
      c.fail(off_at, "tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                         std::to_string(impl->alignment));
    }
    impl->tensor_index.emplace(t.name, impl->tensors.size());
    impl->tensors.push_back(std::move(t));
  }

  uint64_t end_infos = c.pos();
  impl->data_offset = (end_infos + impl->alignment - 1) / impl->alignment * impl->alignment;
  // Data ranges: inside the file and not overlapping (aliasing tensors would let an in-place op
  // on one change the other).
  for (auto& t : impl->tensors) {
    uint64_t begin, end;
    if (io::add_overflows(impl->data_offset, t.offset, &begin) || io::add_overflows(begin, t.nbytes, &end) ||
        end > size) {
      c.fail(t.info_offset, "tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", " +
                                std::to_string(t.offset + t.nbytes) + ") of the data section at " +
                                std::to_string(impl->data_offset) + " runs past the end of the file (" +
                                std::to_string(size) + " bytes)");
    }
    t.file_offset = begin;
  }
  std::vector<const TensorInfo*> by_offset;
  for (auto& t : impl->tensors) {
    if (t.nbytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->nbytes) {
      c.fail(by_offset[i]->info_offset,
             "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap in the data section");
    }
  }
  impl_ = std::move(impl);
}

const std::string& Reader::path() const { return impl_->path; }
uint32_t Reader::version() const { return impl_->version; }
uint64_t Reader::alignment() const { return impl_->alignment; }
uint64_t Reader::data_offset() const { return impl_->data_offset; }
uint64_t Reader::file_size() const { return impl_->map->size(); }
const std::vector<std::pair<std::string, Value>>& Reader::metadata() const { return impl_->metadata; }
const std::vector<TensorInfo>& Reader::tensors() const { return impl_->tensors; }

const Value* Reader::find(std::string_view key) const {
  auto it = impl_->meta_index.find(std::string(key));
  return it == impl_->meta_index.end() ? nullptr : &impl_->metadata[it->second].second;
}

const Value& Reader::at(std::string_view key) const {
  if (const Value* v = find(key)) return *v;
  throw std::invalid_argument("[gguf] " + impl_->path + ": missing metadata key '" + std::string(key) + "'");
}

namespace {

template <typename T, typename Get>
T get_typed(const Reader& r, std::string_view key, const std::optional<T>& fallback, Get get) {
  const Value* v = r.find(key);
  if (!v) {
    if (fallback) return *fallback;
    throw std::invalid_argument("[gguf] " + r.path() + ": missing metadata key '" + std::string(key) + "'");
  }
  try {
    return get(*v);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("[gguf] " + r.path() + ": metadata '" + std::string(key) + "': " + e.what());
  }
}

}  // namespace

int64_t Reader::get_int(std::string_view key, std::optional<int64_t> fallback) const {
  return get_typed<int64_t>(*this, key, fallback, [](const Value& v) { return v.to_int(); });
}
double Reader::get_float(std::string_view key, std::optional<double> fallback) const {
  return get_typed<double>(*this, key, fallback, [](const Value& v) { return v.to_double(); });
}
bool Reader::get_bool(std::string_view key, std::optional<bool> fallback) const {
  return get_typed<bool>(*this, key, fallback, [](const Value& v) { return v.to_bool(); });
}
std::string Reader::get_string(std::string_view key, std::optional<std::string> fallback) const {
  return get_typed<std::string>(*this, key, fallback, [](const Value& v) { return v.str(); });
}

const TensorInfo* Reader::find_tensor(std::string_view name) const {
  auto it = impl_->tensor_index.find(std::string(name));
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

const TensorInfo& Reader::tensor(std::string_view name) const {
  if (const TensorInfo* t = find_tensor(name)) return *t;
  throw std::invalid_argument("[gguf] " + impl_->path + ": no tensor named '" + std::string(name) + "'");
}

const uint8_t* Reader::raw_data(const TensorInfo& t) const {
  return reinterpret_cast<const uint8_t*>(impl_->map->data()) + t.file_offset;
}

// ------------------------------------------------------------------ tensors

array Reader::load(std::string_view name, Dtype dequant_dtype) const {
  const TensorInfo& t = tensor(name);
  Shape shape = t.shape();
  bool plain;
  Dtype dt = plain_dtype(t.type, &plain);
  const uint8_t* src = raw_data(t);
  if (plain) {
    if (reinterpret_cast<uintptr_t>(src) % size_of(dt) == 0) {
      auto map = impl_->map;
      return array(const_cast<uint8_t*>(src), shape, dt, [map](void*) {});
    }
    array a(allocator::malloc(size_t(t.nbytes)), shape, dt);
    if (t.nbytes > 0) std::memcpy(a.data<uint8_t>(), src, size_t(t.nbytes));
    return a;
  }
  if (!detail::is_supported_quant(t.type)) {
    throw std::invalid_argument("[gguf] " + impl_->path + ": tensor '" + t.name + "' has type " +
                                tensor_type_name(t.type) +
                                ", which Tessera cannot load yet (supported: F32, F16, BF16, F64, I8-I64, Q4_0, Q4_1, "
                                "Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K)");
  }
  if (dequant_dtype != float32 && dequant_dtype != float16 && dequant_dtype != bfloat16) {
    throw std::invalid_argument("[gguf] load: dequantized tensors can be float32, float16 or bfloat16, not " +
                                std::string(dtype_name(dequant_dtype)));
  }
  // The element count is bounded by the tensor's bytes, which the parser checked against the
  // file size: at most 256 / 84 values per byte (Q2_K), so the allocation is too.
  array out(allocator::malloc(size_t(t.num_elements() * 4)), shape, float32);
  // Plain locals, not a structured binding: clang 14's lambdas cannot capture those.
  const int64_t block = block_layout(t.type).first, block_bytes = block_layout(t.type).second;
  float* dst = out.data<float>();
  parallel_for(int64_t(t.num_elements() / block), kGrainValues / block, [&](int64_t a, int64_t b) {
    detail::dequantize_blocks(t.type, src + a * block_bytes, dst + a * block, b - a);
  });
  if (dequant_dtype != float32) {
    out = astype(out, dequant_dtype);
    out.eval();
  }
  return out;
}

std::optional<QuantizedTensor> Reader::load_quantized(std::string_view name) const {
  const TensorInfo& t = tensor(name);
  const detail::AffineForm f = detail::affine_form(t.type);
  if (f.bits == 0 || t.dims.size() != 2) return std::nullopt;
  // Rows are whole blocks (checked when the file was parsed), so the packed row is whole words
  // and whole groups.
  const int64_t rows = int64_t(t.dims[1]), cols = int64_t(t.dims[0]);
  const int64_t block = block_layout(t.type).first;
  const int64_t n_blocks = rows * (cols / block);
  const int64_t wcols = cols * f.bits / 32, groups = cols / f.group_size;
  array wq(allocator::malloc(size_t(rows * wcols * 4)), {int(rows), int(wcols)}, uint32);
  array scales(allocator::malloc(size_t(rows * groups * 4)), {int(rows), int(groups)}, float32);
  array biases(allocator::malloc(size_t(rows * groups * 4)), {int(rows), int(groups)}, float32);
  const uint8_t* src = raw_data(t);
  const int64_t block_bytes = block_layout(t.type).second;
  const int64_t block_words = block * f.bits / 32, block_groups = block / f.group_size;
  uint32_t* w = wq.data<uint32_t>();
  float* sc = scales.data<float>();
  float* bi = biases.data<float>();
  parallel_for(n_blocks, kGrainValues / block, [&](int64_t a, int64_t b) {
    detail::to_affine(t.type, src + a * block_bytes, w + a * block_words, sc + a * block_groups, bi + a * block_groups,
                      b - a);
  });
  // Types whose scales and biases are float16 in the file (Q4_0, Q4_1, Q8_0: d and -8d, d and m,
  // d and -128d) come out exactly representable in float16: stored so, they take half the bytes
  // the decoding products read beside the codes. K-quants' products of two scales usually are not.
  auto exact_in_half = [](const float* v, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
      if (float(float16_t(v[i])) != v[i]) return false;
    return true;
  };
  const int64_t n_scales = rows * groups;
  if (exact_in_half(sc, n_scales) && exact_in_half(bi, n_scales)) {
    scales = astype(scales, float16);
    biases = astype(biases, float16);
    eval(scales, biases);
  }
  return QuantizedTensor{wq, scales, biases, f.group_size, f.bits};
}

}  // namespace tessera::gguf
