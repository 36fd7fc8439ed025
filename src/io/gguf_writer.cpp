// GGUF writer (version 3): metadata, tensor infos, padding, tensor data; written through the
// atomic temp-file-and-rename path every Tessera save uses.
#include <cstring>
#include <unordered_set>
#include <vector>

#include "io/file_io.h"
#include "io/gguf_quant.h"
#include "tessera/gguf.h"
#include "tessera/ops.h"

namespace tessera::gguf {

namespace {

constexpr const char* kOp = "gguf save";

class Buf {
 public:
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void str(const std::string& s) {
    u64(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void raw(const void* p, size_t n) {
    if (n == 0) return;
    size_t at = bytes_.size();
    bytes_.resize(at + n);
    std::memcpy(bytes_.data() + at, p, n);
  }
  void put(uint64_t v, size_t w) {
    for (size_t k = 0; k < w; ++k) bytes_.push_back(uint8_t(v >> (8 * k)));
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};


void write_value(Buf& b, const Value& v) {
  switch (v.type()) {
    case ValueType::string:
      b.str(v.str());
      return;
    case ValueType::array: {
      b.u32(uint32_t(v.element_type()));
      b.u64(v.size());
      if (v.element_type() == ValueType::string) {
        for (auto& s : v.strings()) b.str(s);
      } else if (v.element_type() == ValueType::array) {
        // Each item is an array value: its own element type, count and elements.
        for (auto& item : v.items()) write_value(b, item);
      } else {
        b.raw(v.raw().data(), v.raw().size());
      }
      return;
    }
    case ValueType::float32: {
      float f = float(v.to_double());
      uint32_t u;
      std::memcpy(&u, &f, 4);
      b.u32(u);
      return;
    }
    case ValueType::float64: {
      double f = v.to_double();
      uint64_t u;
      std::memcpy(&u, &f, 8);
      b.u64(u);
      return;
    }
    case ValueType::bool_:
      b.put(v.to_bool() ? 1 : 0, 1);
      return;
    default:
      // Integers: the two's-complement bits of the value, truncated to the type's width.
      b.put(v.type() == ValueType::uint64 ? v.to_uint() : uint64_t(v.to_int()), value_type_width(v.type()));
      return;
  }
}

void write_kv(Buf& b, const std::string& key, const Value& v) {
  b.str(key);
  b.u32(uint32_t(v.type()));
  write_value(b, v);
}

std::string shape_string(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// The tensor's bytes in the file's representation.
std::vector<uint8_t> encode(const WriteTensor& t) {
  array a = t.data;
  switch (t.type) {
    case TensorType::f32:
    case TensorType::f16:
    case TensorType::bf16: {
      Dtype d = t.type == TensorType::f32 ? float32 : t.type == TensorType::f16 ? float16 : bfloat16;
      array c = io::dense_for_save(astype(a, d), /*allow_col_major=*/false);
      std::vector<uint8_t> out(c.nbytes());
      if (!out.empty()) std::memcpy(out.data(), c.data<uint8_t>(), out.size());
      return out;
    }
    default: {
      if (!detail::can_quantize(t.type)) {
        throw std::invalid_argument("[gguf save] tensor '" + t.name + "': writing " + tensor_type_name(t.type) +
                                    " is not supported (F32, F16, BF16, Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K "
                                    "are)");
      }
      const int block = int(block_layout(t.type).first);
      if (a.ndim() == 0 || a.shape(-1) % block != 0) {
        throw std::invalid_argument("[gguf save] tensor '" + t.name + "' has shape " + shape_string(a.shape()) + ": " +
                                    tensor_type_name(t.type) + " needs the last axis to be a multiple of " +
                                    std::to_string(block));
      }
      array c = io::dense_for_save(astype(a, float32), false);
      int64_t n_blocks = int64_t(c.size() / block);
      std::vector<uint8_t> out(size_t(n_blocks) * block_layout(t.type).second);
      detail::quantize_blocks(t.type, c.data<float>(), out.data(), n_blocks);
      return out;
    }
  }
}

}  // namespace

void save(const std::string& path, const std::vector<std::pair<std::string, Value>>& metadata,
          const std::vector<WriteTensor>& tensors, uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw std::invalid_argument("[gguf save] alignment must be a power of two, got " + std::to_string(alignment));
  }
  std::vector<std::pair<std::string, Value>> meta = metadata;
  bool has_alignment = false;
  std::unordered_set<std::string> keys;
  for (auto& [k, v] : meta) {
    if (!keys.insert(k).second) throw std::invalid_argument("[gguf save] duplicate metadata key '" + k + "'");
    if (k == "general.alignment") {
      if (!v.is_integer() || v.to_uint() != alignment) {
        throw std::invalid_argument("[gguf save] metadata general.alignment (" + v.to_string() +
                                    ") disagrees with the alignment argument " + std::to_string(alignment));
      }
      has_alignment = true;
    }
  }
  if (!has_alignment && alignment != 32) meta.emplace_back("general.alignment", Value(uint32_t(alignment)));

  std::unordered_set<std::string> names;
  for (auto& t : tensors) {
    if (!names.insert(t.name).second) throw std::invalid_argument("[gguf save] duplicate tensor name '" + t.name + "'");
    if (t.data.ndim() > 4) {
      throw std::invalid_argument("[gguf save] tensor '" + t.name + "' has " + std::to_string(t.data.ndim()) +
                                  " dimensions; GGUF allows at most 4");
    }
  }

  std::vector<std::vector<uint8_t>> data;
  data.reserve(tensors.size());
  for (auto& t : tensors) data.push_back(encode(t));

  Buf head;
  head.raw("GGUF", 4);
  head.u32(3);
  head.u64(tensors.size());
  head.u64(meta.size());
  for (auto& [k, v] : meta) write_kv(head, k, v);
  uint64_t offset = 0;
  std::vector<uint64_t> offsets;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto& t = tensors[i];
    head.str(t.name);
    head.u32(uint32_t(t.data.ndim()));
    for (int d = int(t.data.ndim()) - 1; d >= 0; --d) head.u64(uint64_t(t.data.shape(d)));
    head.u32(uint32_t(t.type));
    head.u64(offset);
    offsets.push_back(offset);
    offset += (data[i].size() + alignment - 1) / alignment * alignment;
  }

  io::write_file_atomic(kOp, path, [&](io::FileWriter& w) {
    w.write(head.bytes().data(), head.bytes().size());
    std::vector<uint8_t> zeros(alignment, 0);
    uint64_t pad = (alignment - head.bytes().size() % alignment) % alignment;
    w.write(zeros.data(), size_t(pad));
    for (size_t i = 0; i < data.size(); ++i) {
      if (!data[i].empty()) w.write(data[i].data(), data[i].size());
      uint64_t p = (alignment - data[i].size() % alignment) % alignment;
      if (i + 1 < data.size()) w.write(zeros.data(), size_t(p));
    }
  });
}

}  // namespace tessera::gguf
