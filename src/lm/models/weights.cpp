#include "lm/models/weights.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::lm {

namespace {

std::string shape_text(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

}  // namespace

const Weight& WeightStore::get(const std::string& name, const Shape& shape) {
  auto it = map_.find(name);
  if (it == map_.end()) {
    throw std::invalid_argument("[load_model] " + file_ + ": missing tensor '" + name + "' (expected shape " +
                                shape_text(shape) + ")");
  }
  if (it->second.shape != shape) {
    throw std::invalid_argument("[load_model] " + file_ + ": tensor '" + it->second.source + "' has shape " +
                                shape_text(it->second.shape) + ", expected " + shape_text(shape));
  }
  used_.insert(name);
  return it->second;
}

array WeightStore::dense(const std::string& name, const Shape& shape) {
  const Weight& w = get(name, shape);
  if (w.dense) return *w.dense;
  const QuantizedWeight& q = *w.quant;
  array d = dequantize(q.wq, q.scales, q.biases, q.group_size, q.bits);
  d.eval();
  return d;
}

std::vector<std::string> WeightStore::unused() const {
  std::vector<std::string> out;
  for (auto& [name, w] : map_) {
    if (!used_.count(name)) out.push_back(w.source);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tessera::lm
