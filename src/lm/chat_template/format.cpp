// Python's printf-style formatting (`"%s: %d" % (a, b)` and the format filter).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "lm/chat_template/builtins.h"
#include "lm/chat_template/interpreter.h"
#include "lm/chat_template/source.h"
#include "lm/chat_template/text.h"

namespace tessera::lm::chat_template {

namespace {

constexpr int kMaxPrecision = 1000;

std::string with_snprintf(const std::string& spec, double d, size_t room) {
  std::vector<char> buf(room + 512);
  int n = std::snprintf(buf.data(), buf.size(), spec.c_str(), d);
  return std::string(buf.data(), size_t(std::max(n, 0)));
}

std::string with_snprintf(const std::string& spec, unsigned long long x, size_t room) {
  std::vector<char> buf(room + 64);
  int n = std::snprintf(buf.data(), buf.size(), spec.c_str(), x);
  return std::string(buf.data(), size_t(std::max(n, 0)));
}

std::string with_snprintf(const std::string& spec, long long x, size_t room) {
  std::vector<char> buf(room + 64);
  int n = std::snprintf(buf.data(), buf.size(), spec.c_str(), x);
  return std::string(buf.data(), size_t(std::max(n, 0)));
}

// Pads a finished conversion to `width` characters (str and repr conversions).
std::string pad_to(std::string s, int64_t width, bool left_align) {
  int64_t len = int64_t(char_count(s));
  if (width <= len) return s;
  std::string fill(size_t(width - len), ' ');
  return left_align ? s + fill : fill + s;
}

int64_t int_arg(const Value& v, char type) {
  if (v.is_int() || v.is_bool()) return v.to_int();
  if (v.is_float()) {
    double d = v.as_float();
    if (type != 'd' && type != 'i' && type != 'u') throw_runtime(std::string("%") + type + " format: an integer is required, not float");
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) throw_runtime("cannot convert float to an integer for %d");
    return int64_t(d);
  }
  throw_runtime(std::string("%") + type + " format: a number is required, not " + type_name(v));
}

}  // namespace

std::string percent_format(Interpreter& in, const std::string& fmt, const std::vector<Value>& args, bool mapping_like) {
  std::string out;
  size_t next = 0;
  const DictData* mapping = args.size() == 1 && args[0].is_dict() ? &args[0].dict() : nullptr;
  for (size_t i = 0; i < fmt.size();) {
    if (fmt[i] != '%') {
      out += fmt[i++];
      continue;
    }
    if (++i >= fmt.size()) throw_runtime("incomplete format");
    if (fmt[i] == '%') {
      out += '%';
      ++i;
      continue;
    }
    const Value* arg = nullptr;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos) throw_runtime("incomplete format key");
      if (!mapping) throw_runtime("format requires a mapping");
      std::string key = fmt.substr(i + 1, close - i - 1);
      arg = mapping->find(std::string_view(key));
      if (!arg) throw_runtime("format key '" + key + "' not found");
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && (fmt[i] == '-' || fmt[i] == '+' || fmt[i] == ' ' || fmt[i] == '0' || fmt[i] == '#'))
      flags += fmt[i++];
    int64_t width = 0, precision = -1;
    while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
      width = width * 10 + (fmt[i++] - '0');
      in.check_string_size(size_t(width));
    }
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      precision = 0;
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        precision = precision * 10 + (fmt[i++] - '0');
        if (precision > kMaxPrecision) throw_runtime("format precision too large");
      }
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) throw_runtime("incomplete format");
    char type = fmt[i++];
    if (!arg) {
      if (next >= args.size()) throw_runtime("not enough arguments for format string");
      arg = &args[next++];
    }
    bool left = flags.find('-') != std::string::npos;
    std::string piece;
    switch (type) {
      case 's':
      case 'r':
      case 'a': {
        std::string s = type == 's' ? in.str(*arg) : repr(*arg, in.value_depth());
        if (precision >= 0) {
          std::vector<size_t> off = char_offsets(s);
          if (size_t(precision) + 1 < off.size()) s.resize(off[size_t(precision)]);
        }
        piece = pad_to(std::move(s), width, left);
        break;
      }
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
        std::string spec = "%" + flags + (width ? std::to_string(width) : "") +
                           (precision >= 0 ? "." + std::to_string(precision) : "") + "ll" +
                           (type == 'i' || type == 'u' ? 'd' : type);
        int64_t x = int_arg(*arg, type);
        if ((type == 'x' || type == 'X' || type == 'o') && x < 0) {
          // Python prints the sign and the magnitude; C would print two's complement.
          std::string body = with_snprintf("%" + std::string(flags.find('#') != std::string::npos ? "#" : "") + "ll" + type,
                                           (unsigned long long)(-(x + 1)) + 1ULL, 0);
          piece = pad_to("-" + body, width, left);
        } else {
          piece = with_snprintf(spec, (long long)x, size_t(width + std::max<int64_t>(precision, 0)));
        }
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
        if (!arg->is_number()) throw_runtime(std::string("%") + type + " format: a real number is required, not " + type_name(*arg));
        std::string spec = "%" + flags + (width ? std::to_string(width) : "") +
                           (precision >= 0 ? "." + std::to_string(precision) : "") + type;
        double d = arg->to_double();
        size_t room = size_t(width) + size_t(std::max<int64_t>(precision, 6)) + (std::fabs(d) < 1e300 ? 310 : 320);
        piece = with_snprintf(spec, d, room);
        break;
      }
      case 'c': {
        std::string c;
        if (arg->is_string() && char_count(arg->str()) == 1) {
          c = arg->str();
        } else if (arg->is_int()) {
          int64_t cp = arg->as_int();
          if (cp < 0 || cp > 0x10FFFF) throw_runtime("%c arg not in range(0x110000)");
          utf8_append(c, uint32_t(cp));
        } else {
          throw_runtime("%c requires an int or a single character");
        }
        piece = pad_to(std::move(c), width, left);
        break;
      }
      default: throw_runtime(std::string("unsupported format character '") + type + "'");
    }
    out += piece;
    in.check_string_size(out.size());
  }
  if (!mapping && !mapping_like && next < args.size()) throw_runtime("not all arguments converted during string formatting");
  return out;
}

}  // namespace tessera::lm::chat_template
