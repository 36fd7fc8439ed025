// GGUF files (the llama.cpp / ggml model format, versions 2 and 3): typed metadata, tensor
// descriptions and tensor data, read through a memory mapping and written atomically.
//
// Layout (ggml docs/gguf.md): "GGUF", version, tensor count, metadata count, the metadata
// key/value pairs, the tensor infos (name, dims, ggml type, offset), padding to the alignment
// (metadata "general.alignment", default 32), then the tensor data. ggml lists dims fastest
// first; `TensorInfo::shape()` is the row-major shape (dims reversed), so a GGUF matrix with
// dims [in, out] is a [out, in] array, the layout Hugging Face linear weights have.
//
// Every read is bounds-checked and every count and size is checked against the file size before
// anything is allocated: malformed or truncated files raise std::runtime_error naming the file
// and the byte offset, e.g. "[gguf] m.gguf: tensor 'blk.0.attn_q.weight' data [1024, 5120) runs
// past the end of the file (4096 bytes) at byte offset 312". Asking for a key or tensor the file
// lacks, or for a value as the wrong type, raises std::invalid_argument naming the key.
//
// Tensors: F32, F16 and BF16 come back as arrays over the mapping, without a copy (they are
// copied only when misaligned for their type). I8/I16/I32/I64/F64 are read as arrays too.
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the k-quants Q2_K-Q6_K are dequantized at load by `load`
// (bit for bit ggml's float32 values), or converted exactly to the MLX affine layout (packed
// uint32 codes, float32 scales and biases per group) by `load_quantized`, which quantized_matmul
// runs without dequantizing. Q8_K (ggml's activation format) is dequantized only. Other
// quantized types (i-quants, ternary) are described in `tensors()` but raise an error naming
// the type when loaded.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::gguf {

// Metadata value types, numbered as in the file.
enum class ValueType : uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  bool_ = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};
const char* value_type_name(ValueType t);
// Bytes of one scalar of type t in the file; 0 for string and array.
size_t value_type_width(ValueType t);

// One metadata value: a scalar, a string, or an array of one element type (arrays may nest).
class Value {
 public:
  Value() : Value(uint8_t(0)) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  explicit Value(T v) : type_(scalar_type<T>()) {
    set_scalar(&v, sizeof(T));
  }
  explicit Value(std::string s) : type_(ValueType::string), str_(std::move(s)) {}
  explicit Value(const char* s) : Value(std::string(s)) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  explicit Value(const std::vector<T>& v) : type_(ValueType::array), elem_(scalar_type<T>()) {
    if constexpr (std::is_same_v<T, bool>) {
      for (bool b : v) raw_.push_back(b ? 1 : 0);
    } else {
      raw_.resize(v.size() * sizeof(T));
      if (!v.empty()) std::memcpy(raw_.data(), v.data(), raw_.size());
    }
    count_ = v.size();
  }
  explicit Value(std::vector<std::string> v);
  // An array of arrays (all of the same element type).
  static Value array_of(std::vector<Value> items);

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::array; }
  bool is_string() const { return type_ == ValueType::string; }
  bool is_integer() const;  // an integer type (not bool)
  bool is_number() const;   // integer or float
  // Arrays: the element type and the number of elements.
  ValueType element_type() const { return elem_; }
  uint64_t size() const { return count_; }

  // Scalars; std::invalid_argument when the value has another kind, or does not fit.
  int64_t to_int() const;      // integer types and bool
  uint64_t to_uint() const;    // integer types that are >= 0
  double to_double() const;    // any number
  bool to_bool() const;        // bool, or an integer 0/1
  const std::string& str() const;
  // Arrays.
  const std::vector<std::string>& strings() const;  // array of strings
  std::vector<int64_t> ints() const;                // array of integers or bools
  std::vector<float> floats() const;                // array of numbers
  const std::vector<Value>& items() const;          // array of arrays
  // Raw little-endian elements of a numeric array (size() * width bytes).
  const std::vector<uint8_t>& raw() const { return raw_; }

  // Short printable form; arrays show their first `max_items` elements.
  std::string to_string(size_t max_items = 8) const;

  template <typename T>
  static constexpr ValueType scalar_type() {
    if constexpr (std::is_same_v<T, bool>) return ValueType::bool_;
    else if constexpr (std::is_same_v<T, float>) return ValueType::float32;
    else if constexpr (std::is_same_v<T, double>) return ValueType::float64;
    else if constexpr (std::is_signed_v<T> && sizeof(T) == 1) return ValueType::int8;
    else if constexpr (std::is_signed_v<T> && sizeof(T) == 2) return ValueType::int16;
    else if constexpr (std::is_signed_v<T> && sizeof(T) == 4) return ValueType::int32;
    else if constexpr (std::is_signed_v<T> && sizeof(T) == 8) return ValueType::int64;
    else if constexpr (sizeof(T) == 1) return ValueType::uint8;
    else if constexpr (sizeof(T) == 2) return ValueType::uint16;
    else if constexpr (sizeof(T) == 4) return ValueType::uint32;
    else return ValueType::uint64;
  }

 private:
  friend struct ValueAccess;
  void set_scalar(const void* p, size_t n);
  ValueType type_;
  ValueType elem_ = ValueType::uint8;
  uint64_t count_ = 0;
  uint64_t bits_ = 0;  // scalar bits, little-endian in the low bytes
  std::string str_;
  std::vector<uint8_t> raw_;          // numeric and bool arrays
  std::vector<std::string> strings_;  // string arrays
  std::vector<Value> items_;          // arrays of arrays
};

// ggml tensor types, numbered as in the file (gaps are types ggml removed).
enum class TensorType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
};
// "F32", "Q4_0", ...; "type 31" for numbers ggml does not define.
std::string tensor_type_name(TensorType t);
// Elements per block and bytes per block; {0, 0} for an unknown type.
std::pair<uint32_t, uint32_t> block_layout(TensorType t);

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::f32;
  std::vector<uint64_t> dims;  // ggml order: dims[0] varies fastest
  uint64_t offset = 0;         // from the start of the data section
  uint64_t file_offset = 0;    // from the start of the file
  uint64_t nbytes = 0;
  uint64_t info_offset = 0;    // where the tensor's description starts in the file
  // Row-major shape: the dims reversed.
  Shape shape() const;
  uint64_t num_elements() const;
};

// An affine-quantized matrix in the layout of tessera::quantize (MLX's): w ≈ scales * q + biases
// per group of `group_size` along the last axis, q packed little-endian into uint32 words.
struct QuantizedTensor {
  array wq, scales, biases;
  int group_size = 32;
  int bits = 4;
};

// Receives the loader's informational lines (e.g. which tensors were dequantized at load).
// The default handler writes them to stderr unless TESSERA_QUIET is set.
using LogFn = std::function<void(const std::string&)>;
void set_log_handler(LogFn fn);
void log(const std::string& line);

class Reader {
 public:
  // Maps `path` and parses the header, metadata and tensor infos (not the tensor data).
  explicit Reader(const std::string& path);

  const std::string& path() const;
  uint32_t version() const;
  uint64_t alignment() const;
  uint64_t data_offset() const;  // start of the tensor data section
  uint64_t file_size() const;

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const;
  const Value* find(std::string_view key) const;
  // The value of `key`; std::invalid_argument "[gguf] file: missing metadata key 'k'" when absent.
  const Value& at(std::string_view key) const;
  int64_t get_int(std::string_view key, std::optional<int64_t> fallback = std::nullopt) const;
  double get_float(std::string_view key, std::optional<double> fallback = std::nullopt) const;
  bool get_bool(std::string_view key, std::optional<bool> fallback = std::nullopt) const;
  std::string get_string(std::string_view key, std::optional<std::string> fallback = std::nullopt) const;

  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // std::invalid_argument when absent

  // The tensor as a dense array with the row-major shape. Float types keep their dtype (zero
  // copy); quantized types are dequantized to `dequant_dtype` (float32, float16 or bfloat16).
  array load(std::string_view name, Dtype dequant_dtype = float32) const;
  // Quantized types converted exactly to the affine layout with float32 scales and biases (the
  // file's float16 scales, times a k-quant's sub-block scale, are exact in float32):
  //   Q4_0, Q4_1, Q4_K: 4 bits, group 32     Q5_0, Q5_1, Q5_K: 5 bits, group 32
  //   Q8_0: 8 bits, group 32                 Q2_K: 2 bits, group 16
  //   Q3_K: 4 bits, group 16 (3-bit codes)   Q6_K: 8 bits, group 16 (6-bit codes)
  // std::nullopt for other types and for tensors that are not 2-D.
  std::optional<QuantizedTensor> load_quantized(std::string_view name) const;
  // The bytes of a tensor's data as they are in the file (a view of the mapping).
  const uint8_t* raw_data(const TensorInfo& t) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// A tensor to write: `data` converted to `type`, which may be F32, F16, BF16, Q8_0, Q4_0 (the
// last axis a multiple of 32; rounded as ggml's reference quantizers do) or Q2_K-Q6_K (the last
// axis a multiple of 256; each sub-block's range rounded to nearest, without the scale search
// of llama.cpp's quantizers, so the error is somewhat larger than theirs).
struct WriteTensor {
  std::string name;
  array data;
  TensorType type = TensorType::f32;
};

// Writes a GGUF version 3 file atomically (a temporary file renamed over `path`). Tensor data is
// padded to `alignment` (written as "general.alignment" when it is not 32). Names must be unique.
void save(const std::string& path, const std::vector<std::pair<std::string, Value>>& metadata,
          const std::vector<WriteTensor>& tensors, uint32_t alignment = 32);

}  // namespace tessera::gguf
