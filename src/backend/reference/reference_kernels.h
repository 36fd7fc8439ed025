#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

void reference_matmul(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void reference_addmm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);

}  // namespace tessera
