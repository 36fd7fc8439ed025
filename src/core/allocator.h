// The CPU buffer allocator: a size-bucketed cache of freed buffers, so large outputs reuse warm,
// already-faulted pages instead of fresh mmaps, with active/peak/cache statistics and limits.
#pragma once

#include <cstddef>

#include "tessera/array.h"

namespace tessera::allocator {

// Usable size of a buffer returned by malloc (its size class).
size_t allocation_size(size_t requested);

}  // namespace tessera::allocator
