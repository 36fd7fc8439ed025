#include "lm/models/weights.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "ops/op_utils.h"
#include "tessera/ops.h"

namespace tessera::lm {

const Weight& WeightStore::get(const std::string& name, const Shape& shape) {
  auto it = map_.find(name);
  if (it == map_.end()) {
    throw std::invalid_argument("[load_model] " + file_ + ": missing tensor '" + name + "' (expected shape " +
                                shape_list(shape) + ")");
  }
  if (it->second.shape != shape) {
    throw std::invalid_argument("[load_model] " + file_ + ": tensor '" + it->second.source + "' has shape " +
                                shape_list(it->second.shape) + ", expected " + shape_list(shape));
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
