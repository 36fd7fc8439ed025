// CPU convolution kernel (registered in register.cpp).
#pragma once

#include <vector>

#include "primitives/primitive.h"

namespace tessera {

void cpu_conv(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);

}  // namespace tessera
