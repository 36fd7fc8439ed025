#include "backend/cpu/avx512_helpers.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

namespace tessera::avx512 {

namespace {

bool leaf7_bit(unsigned subleaf, int reg, unsigned bit) {
  unsigned r[4] = {0, 0, 0, 0};
  if (!__builtin_cpu_supports("avx512bw") || !__get_cpuid_count(7, subleaf, &r[0], &r[1], &r[2], &r[3])) return false;
  return (r[reg] & (1u << bit)) != 0;
}

}  // namespace

bool has_bf16() {
  static const bool yes = leaf7_bit(1, 0, 5);  // EAX
  return yes;
}

bool has_vnni() {
  static const bool yes = leaf7_bit(0, 2, 11);  // ECX
  return yes;
}

}  // namespace tessera::avx512
#endif
