// A per-thread, 64-byte aligned scratch buffer that only grows (oneDNN's user scratchpads).
// The pointer stays valid until the same thread asks for a larger one.
#pragma once

#include <cstddef>

namespace tessera {

void* thread_scratch(size_t bytes);

}  // namespace tessera
