// A backend: a table of kernels keyed by primitive kind, and `supports(node)`. Backends fill
// kernels; they never edit primitives. Devices with their own memory (CUDA, Vulkan) add an
// allocator and streams behind the same table.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "primitives/primitive.h"
#include "tessera/array.h"

namespace tessera {

// Computes `outputs` (allocated by the kernel) from evaluated `inputs`.
using Kernel = void (*)(const Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);

class Backend {
 public:
  explicit Backend(std::string name) : name_(std::move(name)) { kernels_.fill(nullptr); }
  virtual ~Backend() = default;

  const std::string& name() const { return name_; }
  void register_kernel(PrimitiveKind k, Kernel fn) { kernels_[static_cast<int>(k)] = fn; }
  Kernel kernel(PrimitiveKind k) const { return kernels_[static_cast<int>(k)]; }

  // Whether this backend computes `node` itself (a kernel for its kind that accepts its
  // parameters and dtypes). Nodes it does not support are decomposed.
  virtual bool supports(const array& node) const { return kernel(node.primitive().kind()) != nullptr; }

 private:
  std::string name_;
  std::array<Kernel, num_primitive_kinds> kernels_;
};

Backend& backend_for(const Device& d);

// For kernels that leave some inputs (a dtype, a layout) to the primitive's composite: evaluates
// p.decompose(in) and gives each output the composite's buffer.
void run_decomposition(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);

// Registration lists of each backend (one function per backend, called once).
void register_cpu_kernels(Backend& b);
void register_reference_kernels(Backend& b);

}  // namespace tessera
