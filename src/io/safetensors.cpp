// safetensors (huggingface/safetensors, docs/ "format"): an 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}, then the tensor bytes, offsets counted from the end of the
// header. Loading maps the file and builds arrays over the mapping; nothing is copied unless a
// tensor is misaligned for its type.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/file_io.h"
#include "tessera/io.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

using json = nlohmann::json;

constexpr const char* kLoad = "load_safetensors";
constexpr const char* kSave = "save_safetensors";
constexpr uint64_t kMaxHeaderLen = uint64_t(100) << 20;
constexpr int kMaxJsonDepth = 64;
constexpr const char* kMetadataKey = "__metadata__";

struct StDtype {
  const char* name;
  Dtype dtype;
};
constexpr StDtype kDtypes[] = {
    {"BOOL", bool_},  {"U8", uint8},     {"I8", int8},       {"U16", uint16},   {"I16", int16},
    {"U32", uint32},  {"I32", int32},    {"U64", uint64},    {"I64", int64},    {"F16", float16},
    {"BF16", bfloat16}, {"F32", float32}, {"F64", float64}, {"C64", complex64},
};

const char* to_st_name(Dtype d) {
  for (auto& e : kDtypes) {
    if (e.dtype == d) return e.name;
  }
  throw std::invalid_argument(std::string("[") + kSave + "] Unsupported dtype " + dtype_name(d) + ".");
}

bool from_st_name(const std::string& s, Dtype* d) {
  for (auto& e : kDtypes) {
    if (s == e.name) {
      *d = e.dtype;
      return true;
    }
  }
  return false;
}

// Rejects deeply nested JSON before parsing it: a valid header is three levels deep.
void check_depth(const std::string& file, const char* text, size_t n) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) io::fail_at(kLoad, file, 8 + i, "JSON header nests deeper than 64 levels");
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

struct DuplicateKey {
  std::string key;
};

json parse_header(const std::string& file, const char* text, size_t n) {
  check_depth(file, text, n);
  std::vector<std::unordered_set<std::string>> open_objects;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second) {
          throw DuplicateKey{parsed.get<std::string>()};
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text, text + n, callback);
  } catch (const DuplicateKey& d) {
    io::fail_at(kLoad, file, 8, "duplicate key '" + d.key + "' in the JSON header");
  } catch (const json::parse_error& e) {
    uint64_t at = 8 + (e.byte > 0 ? e.byte - 1 : 0);
    io::fail_at(kLoad, file, at, std::string("invalid JSON header (") + e.what() + ")");
  } catch (const json::exception& e) {
    io::fail_at(kLoad, file, 8, std::string("invalid JSON header (") + e.what() + ")");
  }
}

struct TensorInfo {
  std::string name;
  Dtype dtype = float32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

TensorInfo parse_tensor(const std::string& file, const std::string& name, const json& v, uint64_t buffer_len,
                        uint64_t buffer_at) {
  auto bad = [&](const std::string& what) { io::fail_at(kLoad, file, 8, "tensor '" + name + "': " + what); };
  if (!v.is_object()) bad("entry is not a JSON object");
  TensorInfo t;
  t.name = name;
  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) bad("missing or non-string 'dtype'");
  if (!from_st_name(dt->get<std::string>(), &t.dtype)) bad("unsupported dtype '" + dt->get<std::string>() + "'");
  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) bad("missing or non-array 'shape'");
  uint64_t count = 1;
  for (auto& d : *sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT32_MAX)) {
      bad("shape entries must be integers in [0, 2^31 - 1]");
    }
    t.shape.push_back(ShapeElem(d.get<uint64_t>()));
    if (io::mul_overflows(count, d.get<uint64_t>(), &count)) bad("shape overflows");
  }
  auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned()) {
    bad("'data_offsets' must be two non-negative integers");
  }
  t.begin = (*off)[0].get<uint64_t>();
  t.end = (*off)[1].get<uint64_t>();
  if (t.begin > t.end) bad("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ") are reversed");
  if (t.end > buffer_len) {
    io::fail_at(kLoad, file, 8,
                "tensor '" + name + "' data range [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                    ") exceeds the " + std::to_string(buffer_len) + " data bytes after the header (file size " +
                    std::to_string(buffer_at + buffer_len) + ")");
  }
  uint64_t nbytes;
  if (io::mul_overflows(count, size_of(t.dtype), &nbytes)) bad("byte size of the shape overflows");
  if (nbytes != t.end - t.begin) {
    bad("shape and dtype need " + std::to_string(nbytes) + " bytes but data_offsets span " +
        std::to_string(t.end - t.begin));
  }
  return t;
}

}  // namespace

SafetensorsLoad load_safetensors(const std::string& file, StreamOrDevice s) {
  (void)s;
  auto map = std::make_shared<io::Mapping>(kLoad, file);
  uint64_t size = map->size();
  if (size < 8) io::fail_at(kLoad, file, 0, "file of " + std::to_string(size) + " bytes is too small for the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | uint64_t(static_cast<unsigned char>(map->data()[i]));
  if (n > kMaxHeaderLen) {
    io::fail_at(kLoad, file, 0, "header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderLen));
  }
  if (n > size - 8) {
    io::fail_at(kLoad, file, 0, "header length " + std::to_string(n) + " runs past the end of the file (" +
                                     std::to_string(size) + " bytes)");
  }
  json header = parse_header(file, map->data() + 8, size_t(n));
  if (!header.is_object()) io::fail_at(kLoad, file, 8, "header is not a JSON object");

  uint64_t buffer_at = 8 + n;
  uint64_t buffer_len = size - buffer_at;
  std::unordered_map<std::string, std::string> metadata;
  std::vector<TensorInfo> tensors;
  for (auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) io::fail_at(kLoad, file, 8, "'__metadata__' is not a JSON object");
      for (auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) io::fail_at(kLoad, file, 8, "metadata value for '" + mk + "' is not a string");
        metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    tensors.push_back(parse_tensor(file, key, value, buffer_len, buffer_at));
  }

  // Overlapping tensors would alias: an in-place op on one would change the other.
  std::vector<const TensorInfo*> by_offset;
  for (auto& t : tensors) {
    if (t.end > t.begin) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      io::fail_at(kLoad, file, 8,
                  "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap in the data section");
    }
  }

  std::unordered_map<std::string, array> arrays;
  for (auto& t : tensors) {
    char* ptr = map->data() + buffer_at + t.begin;
    size_t itemsize = size_of(t.dtype);
    if (reinterpret_cast<uintptr_t>(ptr) % itemsize == 0) {
      arrays.emplace(t.name, array(static_cast<void*>(ptr), t.shape, t.dtype, [map](void*) {}));
    } else {
      // Misaligned for its type (the format does not promise alignment): copy instead.
      array a(allocator::malloc(size_t(t.end - t.begin)), t.shape, t.dtype);
      if (t.end > t.begin) std::memcpy(a.data<char>(), ptr, size_t(t.end - t.begin));
      arrays.emplace(t.name, std::move(a));
    }
  }
  return {std::move(arrays), std::move(metadata)};
}

void save_safetensors(std::string file, std::unordered_map<std::string, array> arrays,
                      std::unordered_map<std::string, std::string> metadata) {
  if (!io::ends_with(file, ".safetensors")) file += ".safetensors";
  std::map<std::string, array> sorted(arrays.begin(), arrays.end());
  json header = json::object();
  uint64_t offset = 0;
  std::vector<array> all;
  for (auto& [name, a] : sorted) {
    if (name == kMetadataKey) {
      throw std::invalid_argument(std::string("[") + kSave + "] '__metadata__' is reserved and cannot name a tensor.");
    }
    json shape = json::array();
    for (auto d : a.shape()) shape.push_back(d);
    header[name] = {{"dtype", to_st_name(a.dtype())}, {"shape", shape}, {"data_offsets", {offset, offset + a.nbytes()}}};
    offset += a.nbytes();
    all.push_back(a);
  }
  if (!metadata.empty()) header[kMetadataKey] = std::map<std::string, std::string>(metadata.begin(), metadata.end());
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("[") + kSave + "] Tensor names and metadata must be valid UTF-8 (" + e.what() + ").");
  }
  // Pad with spaces so the data section starts 8-byte aligned.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  eval(all);
  all.clear();

  io::write_file_atomic(kSave, file, [&](io::FileWriter& w) {
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
    w.write(len, sizeof(len));
    w.write(text.data(), text.size());
    for (auto& [name, a] : sorted) {
      array d = io::dense_for_save(a, /*allow_col_major=*/false);
      if (d.nbytes() > 0) w.write(d.data<char>(), d.nbytes());
    }
  });
}

}  // namespace tessera
