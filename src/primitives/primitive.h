// The semantic definition of an operation: its parameters, its decomposition into other
// primitives (used where a backend has no kernel), and, with the transforms, its derivative
// and batching rules. Semantics never depend on the device.
#pragma once

#include <ostream>
#include <utility>
#include <vector>

#include "primitives/primitive_list.h"
#include "tessera/array.h"

namespace tessera {

class Primitive {
 public:
  explicit Primitive(Stream stream) : stream_(stream) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  const Stream& stream() const { return stream_; }
  virtual PrimitiveKind kind() const = 0;
  // Name used in errors and graph dumps, e.g. "Unary(exp)".
  virtual const char* name() const { return primitive_kind_name(kind()); }
  virtual void print(std::ostream& os) const { os << name(); }

  // Expresses the outputs through other primitives. Returns {} when there is none.
  virtual std::vector<array> decompose(const std::vector<array>& inputs) const {
    (void)inputs;
    return {};
  }

  // Reverse-mode rule: cotangents of the inputs listed in `argnums` (in that order), given one
  // cotangent per output. The default differentiates the decomposition.
  virtual std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>& outputs) const;
  // Forward-mode rule: one tangent per output, given the tangents of the inputs in `argnums`.
  // The default differentiates the decomposition.
  virtual std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums) const;
  // Batching rule: axes[i] is the batch axis of inputs[i], or -1 where inputs[i] is not batched.
  // Returns the batched outputs and each one's batch axis. The default batches the decomposition.
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes) const;

  // Same kind and parameters (for common-subexpression elimination).
  virtual bool is_equivalent(const Primitive& other) const {
    (void)other;
    return false;
  }

 private:
  Stream stream_;
};

}  // namespace tessera
