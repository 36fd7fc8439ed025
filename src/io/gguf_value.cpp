// gguf::Value: typed metadata values and their conversions.
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "tessera/gguf.h"
#include "tessera/half_types.h"

namespace tessera::gguf {

namespace {

[[noreturn]] void wrong_kind(const Value& v, const char* wanted) {
  std::string have = value_type_name(v.type());
  if (v.is_array()) have += " of " + std::string(value_type_name(v.element_type()));
  throw std::invalid_argument(std::string("[gguf] expected ") + wanted + " but the value is " + have);
}

bool integer_type(ValueType t) {
  switch (t) {
    case ValueType::uint8:
    case ValueType::int8:
    case ValueType::uint16:
    case ValueType::int16:
    case ValueType::uint32:
    case ValueType::int32:
    case ValueType::uint64:
    case ValueType::int64:
      return true;
    default:
      return false;
  }
}

bool signed_type(ValueType t) {
  return t == ValueType::int8 || t == ValueType::int16 || t == ValueType::int32 || t == ValueType::int64;
}


// The element at `p` of numeric type `t`, as (is_float, signed value, unsigned value, double).
struct Num {
  bool is_float = false;
  bool negative = false;
  uint64_t u = 0;  // magnitude bits for integers
  int64_t i = 0;
  double f = 0;
};

Num read_num(ValueType t, const uint8_t* p) {
  uint64_t bits = 0;
  size_t w = value_type_width(t);
  for (size_t k = 0; k < w; ++k) bits |= uint64_t(p[k]) << (8 * k);
  Num n;
  if (t == ValueType::float32) {
    uint32_t b = uint32_t(bits);
    float f;
    std::memcpy(&f, &b, 4);
    n.is_float = true;
    n.f = f;
    return n;
  }
  if (t == ValueType::float64) {
    std::memcpy(&n.f, &bits, 8);
    n.is_float = true;
    return n;
  }
  if (signed_type(t)) {
    int shift = int(64 - 8 * w);
    int64_t v = int64_t(bits << shift) >> shift;  // sign-extend
    n.i = v;
    n.negative = v < 0;
    n.u = uint64_t(v);
    n.f = double(v);
  } else {
    n.u = bits;
    n.i = int64_t(bits);
    n.f = double(bits);
  }
  return n;
}

}  // namespace

size_t value_type_width(ValueType t) {
  switch (t) {
    case ValueType::uint8:
    case ValueType::int8:
    case ValueType::bool_:
      return 1;
    case ValueType::uint16:
    case ValueType::int16:
      return 2;
    case ValueType::uint32:
    case ValueType::int32:
    case ValueType::float32:
      return 4;
    case ValueType::uint64:
    case ValueType::int64:
    case ValueType::float64:
      return 8;
    case ValueType::string:
    case ValueType::array:
      break;
  }
  return 0;
}

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::uint8: return "uint8";
    case ValueType::int8: return "int8";
    case ValueType::uint16: return "uint16";
    case ValueType::int16: return "int16";
    case ValueType::uint32: return "uint32";
    case ValueType::int32: return "int32";
    case ValueType::float32: return "float32";
    case ValueType::bool_: return "bool";
    case ValueType::string: return "string";
    case ValueType::array: return "array";
    case ValueType::uint64: return "uint64";
    case ValueType::int64: return "int64";
    case ValueType::float64: return "float64";
  }
  return "unknown";
}

Value::Value(std::vector<std::string> v) : type_(ValueType::array), elem_(ValueType::string), count_(v.size()) {
  strings_ = std::move(v);
}

Value Value::array_of(std::vector<Value> items) {
  Value v;
  v.type_ = ValueType::array;
  v.elem_ = ValueType::array;
  v.bits_ = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    if (items[i].type() != ValueType::array)
      throw std::invalid_argument("[gguf] Value::array_of: every item must be an array");
  }
  if (!items.empty() && items[0].type() != ValueType::array)
    throw std::invalid_argument("[gguf] Value::array_of: every item must be an array");
  v.count_ = items.size();
  v.items_ = std::move(items);
  return v;
}

void Value::set_scalar(const void* p, size_t n) {
  bits_ = 0;
  if (type_ == ValueType::bool_) {
    bits_ = *static_cast<const bool*>(p) ? 1 : 0;
    return;
  }
  std::memcpy(&bits_, p, n);  // little-endian host
}

bool Value::is_integer() const { return integer_type(type_); }
bool Value::is_number() const { return integer_type(type_) || type_ == ValueType::float32 || type_ == ValueType::float64; }

int64_t Value::to_int() const {
  if (type_ == ValueType::bool_) return int64_t(bits_ & 1);
  if (!is_integer()) wrong_kind(*this, "an integer");
  uint8_t buf[8];
  std::memcpy(buf, &bits_, 8);
  Num n = read_num(type_, buf);
  if (type_ == ValueType::uint64 && n.u > uint64_t(std::numeric_limits<int64_t>::max()))
    throw std::invalid_argument("[gguf] uint64 value " + std::to_string(n.u) + " does not fit in int64");
  return n.i;
}

uint64_t Value::to_uint() const {
  if (type_ == ValueType::bool_) return bits_ & 1;
  if (!is_integer()) wrong_kind(*this, "an integer");
  uint8_t buf[8];
  std::memcpy(buf, &bits_, 8);
  Num n = read_num(type_, buf);
  if (n.negative) throw std::invalid_argument("[gguf] expected a non-negative integer, got " + std::to_string(n.i));
  return n.u;
}

double Value::to_double() const {
  if (!is_number()) wrong_kind(*this, "a number");
  uint8_t buf[8];
  std::memcpy(buf, &bits_, 8);
  return read_num(type_, buf).f;
}

bool Value::to_bool() const {
  if (type_ == ValueType::bool_) return bits_ & 1;
  if (is_integer()) {
    uint64_t u = to_uint();
    if (u <= 1) return u == 1;
  }
  wrong_kind(*this, "a bool");
}

const std::string& Value::str() const {
  if (type_ != ValueType::string) wrong_kind(*this, "a string");
  return str_;
}

const std::vector<std::string>& Value::strings() const {
  if (type_ != ValueType::array || elem_ != ValueType::string) wrong_kind(*this, "an array of strings");
  return strings_;
}

std::vector<int64_t> Value::ints() const {
  if (type_ != ValueType::array || !(integer_type(elem_) || elem_ == ValueType::bool_))
    wrong_kind(*this, "an array of integers");
  std::vector<int64_t> out(count_);
  size_t w = value_type_width(elem_);
  for (uint64_t i = 0; i < count_; ++i) {
    Num n = read_num(elem_ == ValueType::bool_ ? ValueType::uint8 : elem_, raw_.data() + i * w);
    if (elem_ == ValueType::uint64 && n.u > uint64_t(std::numeric_limits<int64_t>::max()))
      throw std::invalid_argument("[gguf] uint64 array element " + std::to_string(n.u) + " does not fit in int64");
    out[i] = n.i;
  }
  return out;
}

std::vector<float> Value::floats() const {
  if (type_ != ValueType::array || !(integer_type(elem_) || elem_ == ValueType::float32 || elem_ == ValueType::float64))
    wrong_kind(*this, "an array of numbers");
  std::vector<float> out(count_);
  size_t w = value_type_width(elem_);
  if (elem_ == ValueType::float32) {
    if (count_ > 0) std::memcpy(out.data(), raw_.data(), count_ * 4);
    return out;
  }
  for (uint64_t i = 0; i < count_; ++i) out[i] = float(read_num(elem_, raw_.data() + i * w).f);
  return out;
}

const std::vector<Value>& Value::items() const {
  if (type_ != ValueType::array || elem_ != ValueType::array) wrong_kind(*this, "an array of arrays");
  return items_;
}

std::string Value::to_string(size_t max_items) const {
  std::ostringstream os;
  if (type_ == ValueType::string) return str_;
  if (type_ == ValueType::bool_) return (bits_ & 1) ? "true" : "false";
  if (type_ != ValueType::array) {
    uint8_t buf[8];
    std::memcpy(buf, &bits_, 8);
    Num n = read_num(type_, buf);
    if (n.is_float) os << n.f;
    else if (n.negative) os << n.i;
    else os << n.u;
    return os.str();
  }
  os << "[";
  uint64_t shown = std::min<uint64_t>(count_, max_items);
  for (uint64_t i = 0; i < shown; ++i) {
    if (i) os << ", ";
    if (elem_ == ValueType::string) {
      os << '"' << strings_[i] << '"';
    } else if (elem_ == ValueType::array) {
      os << items_[i].to_string(max_items);
    } else if (elem_ == ValueType::bool_) {
      os << (raw_[i] ? "true" : "false");
    } else {
      Num n = read_num(elem_, raw_.data() + i * value_type_width(elem_));
      if (n.is_float) os << n.f;
      else if (n.negative) os << n.i;
      else os << n.u;
    }
  }
  if (count_ > shown) os << ", ... (" << count_ << " items)";
  os << "]";
  return os.str();
}

}  // namespace tessera::gguf
