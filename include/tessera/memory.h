// Memory statistics and limits of the buffer allocator (follows MLX's memory.h). Sizes in bytes.
#pragma once

#include <cstddef>

namespace tessera {

size_t get_active_memory();
size_t get_peak_memory();
void reset_peak_memory();
size_t get_cache_memory();
// Returns the previous limit. Allocations past the limit first release cached buffers.
size_t set_memory_limit(size_t limit);
size_t get_memory_limit();
size_t set_cache_limit(size_t limit);
size_t set_wired_limit(size_t limit);
void clear_cache();

}  // namespace tessera
