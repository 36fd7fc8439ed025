#include "backend/backend.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera {

Backend& backend_for(const Device& d) {
  static Backend* cpu = [] {
    auto* b = new Backend("cpu");
    register_cpu_kernels(*b);
    return b;
  }();
  static Backend* reference = [] {
    auto* b = new Backend("reference");
    register_reference_kernels(*b);
    return b;
  }();
  switch (d.type) {
    case Device::cpu:
      return *cpu;
    case Device::reference:
      return *reference;
    default:
      throw std::invalid_argument("[eval] No backend for the GPU in this build of Tessera.");
  }
}

void run_decomposition(const Primitive& p, const std::vector<array>& in, std::vector<array>& out) {
  std::vector<array> composite = p.decompose(in);
  eval(composite);
  for (size_t i = 0; i < out.size(); ++i) out[i].copy_shared_buffer(composite[i]);
}

}  // namespace tessera
