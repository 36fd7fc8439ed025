#include "testing/op_registry.h"

#include <stdexcept>

namespace tessera::testing {

std::map<std::string, OpFn>& op_registry() {
  static std::map<std::string, OpFn> r;
  return r;
}

OpRegistrar::OpRegistrar(const std::string& name, OpFn fn) {
  if (!op_registry().emplace(name, std::move(fn)).second) throw std::logic_error("duplicate test op " + name);
}

std::vector<int> int_list(const Json& j) {
  std::vector<int> v;
  if (j.is_number()) v.push_back(j.get<int>());
  else
    for (auto& x : j) v.push_back(x.get<int>());
  return v;
}

Shape shape_of(const Json& j) {
  Shape s;
  for (auto& x : j) s.push_back(x.get<int>());
  return s;
}

}  // namespace tessera::testing
