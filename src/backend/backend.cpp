#include "backend/backend.h"

#include <stdexcept>

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

}  // namespace tessera
