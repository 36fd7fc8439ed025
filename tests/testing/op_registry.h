// Maps op names used in tests/reference/cases_*.py to calls of Tessera's API. Each family
// registers its entries from its own op_table_*.cpp file.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/tessera.h"

namespace tessera::testing {

using Json = nlohmann::json;
using OpFn = std::function<std::vector<array>(const std::vector<array>& in, const Json& params)>;

std::map<std::string, OpFn>& op_registry();

struct OpRegistrar {
  OpRegistrar(const std::string& name, OpFn fn);
};

// Helpers to read optional parameters.
std::vector<int> int_list(const Json& j);
Shape shape_of(const Json& j);

}  // namespace tessera::testing
