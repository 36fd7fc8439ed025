// CPU kernels registered in register.cpp.
#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

void cpu_matmul(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_addmm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);

}  // namespace tessera
