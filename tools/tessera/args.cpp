#include "args.h"

#include <cctype>
#include <sstream>
#include <stdexcept>

namespace tessera::cli {

void Args::option(const std::string& name, const std::string& meta, const std::string& help,
                  const std::string& default_text) {
  order_.push_back(name);
  specs_[name] = {meta, help, default_text, true, false};
}

void Args::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = {"", help, "", false, false};
}

void Args::toggle(const std::string& name, const std::string& help, const std::string& default_text) {
  order_.push_back(name);
  specs_[name] = {"", help, default_text, false, true};
}

namespace {

std::optional<bool> parse_bool(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (s == "true" || s == "t" || s == "yes" || s == "y" || s == "1" || s == "on") return true;
  if (s == "false" || s == "f" || s == "no" || s == "n" || s == "0" || s == "off") return false;
  return std::nullopt;
}

}  // namespace

void Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) throw std::invalid_argument("unknown option '--" + name + "' (see " + command_ + " --help)");
    if (it->second.optional_bool) {
      if (inline_value && !parse_bool(value))
        throw std::invalid_argument("option '--" + name + "' expects true or false, got '" + value + "'");
      if (!inline_value) {
        value = "true";
        if (i + 1 < argv.size() && parse_bool(argv[i + 1])) value = argv[++i];
      }
    } else if (it->second.takes_value && !inline_value) {
      if (i + 1 >= argv.size()) throw std::invalid_argument("option '--" + name + "' needs a value");
      value = argv[++i];
    } else if (!it->second.takes_value && inline_value) {
      throw std::invalid_argument("option '--" + name + "' takes no value");
    }
    values_[name] = value;
    repeated_[name].push_back(value);
  }
}

std::string Args::help() const {
  std::ostringstream os;
  os << "usage: " << command_ << " [options]\n\n" << summary_ << "\n\noptions:\n";
  for (auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.takes_value ? " " + s.meta : s.optional_bool ? " [BOOL]" : "");
    os << left;
    os << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << s.help;
    if (!s.default_text.empty()) os << " (default: " << s.default_text << ")";
    os << "\n";
  }
  os << "  --help" << std::string(22, ' ') << "show this help\n";
  return os.str();
}

std::string Args::str(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

namespace {

template <typename T, typename F>
T convert(const std::string& name, const std::string& text, F f, const char* what) {
  try {
    size_t used = 0;
    T v = f(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing characters");
    return v;
  } catch (const std::exception&) {
    throw std::invalid_argument("option '--" + name + "' expects " + what + ", got '" + text + "'");
  }
}

}  // namespace

int Args::integer(const std::string& name, int fallback) const {
  if (!has(name)) return fallback;
  return convert<int>(name, str(name), [](const std::string& s, size_t* u) { return std::stoi(s, u); }, "an integer");
}

double Args::number(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  return convert<double>(name, str(name), [](const std::string& s, size_t* u) { return std::stod(s, u); }, "a number");
}

uint64_t Args::uint(const std::string& name, uint64_t fallback) const {
  if (!has(name)) return fallback;
  const std::string& s = str(name);
  if (!s.empty() && s[0] == '-') throw std::invalid_argument("option '--" + name + "' expects a non-negative integer");
  return convert<uint64_t>(name, s, [](const std::string& t, size_t* u) { return std::stoull(t, u); },
                           "a non-negative integer");
}

bool Args::boolean(const std::string& name, bool fallback) const {
  if (!has(name)) return fallback;
  if (auto b = parse_bool(str(name))) return *b;
  throw std::invalid_argument("option '--" + name + "' expects true or false, got '" + str(name) + "'");
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = repeated_.find(name);
  return it == repeated_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace tessera::cli
