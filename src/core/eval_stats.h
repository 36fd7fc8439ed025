// Counts of kernels run per backend and primitive kind. The test suite uses them to check that
// every kernel a backend registers was exercised against the reference.
#pragma once

#include <cstdint>

#include "primitives/primitive_list.h"
#include "tessera/device.h"

namespace tessera {

// How many times `kind` ran through a backend kernel (not a decomposition) on `device` type.
uint64_t kernel_run_count(Device::DeviceType device, PrimitiveKind kind);

}  // namespace tessera
