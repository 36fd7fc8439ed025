// A fixed pool of worker threads for splitting large kernels. Small work stays on the caller:
// waking threads costs a few microseconds, more than a small op takes.
#pragma once

#include <cstdint>

#include "core/function_ref.h"

namespace tessera {

// Calls fn(begin, end) over [0, n) split into at most num_threads contiguous chunks of at
// least `grain` items. Returns when all chunks are done; exceptions propagate to the caller.
using RangeFn = FunctionRef<void(int64_t begin, int64_t end)>;
void parallel_for(int64_t n, int64_t grain, RangeFn fn);

// While one lives, idle workers (and a caller waiting for them) poll for up to `microseconds`
// before they block. A decode step runs hundreds of small parallel products back to back, and
// on a virtual machine waking a blocked thread costs tens of microseconds each time; outside such
// phases threads block at once, so they never take a core another process needs. While scopes
// overlap (nested, or on several threads) the latest one's budget holds until the last ends.
class SpinWaitScope {
 public:
  explicit SpinWaitScope(int microseconds);
  ~SpinWaitScope();
  SpinWaitScope(const SpinWaitScope&) = delete;
  SpinWaitScope& operator=(const SpinWaitScope&) = delete;
};

// Elements per chunk below which elementwise kernels do not split.
inline constexpr int64_t kElementwiseGrain = 1 << 15;

// Bytes of a matrix a thread streams per chunk of a matrix-vector product before a split pays:
// waking a sleeping worker costs tens of microseconds on a virtual machine, the time one core
// takes to stream a few hundred KiB.
inline constexpr int64_t kStreamGrainBytes = int64_t(1) << 16;

}  // namespace tessera
