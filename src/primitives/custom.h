// A function with user-supplied transform rules (custom_function, custom_vjp) or with the
// rematerializing default (checkpoint). It has no kernel: eval runs the function itself.
#pragma once

#include <optional>
#include <string>

#include "primitives/primitive.h"
#include "tessera/transforms.h"

namespace tessera {

class CustomTransforms : public Primitive {
 public:
  CustomTransforms(Stream s, const char* name, VectorFn fun, std::optional<CustomVjpFn> vjp,
                   std::optional<CustomJvpFn> jvp, std::optional<CustomVmapFn> vmap)
      : Primitive(s), name_(name), fun_(std::move(fun)), vjp_(std::move(vjp)), jvp_(std::move(jvp)),
        vmap_(std::move(vmap)) {}
  PrimitiveKind kind() const override { return PrimitiveKind::Custom; }
  const char* name() const override { return name_; }
  std::vector<array> decompose(const std::vector<array>& inputs) const override { return fun_(inputs); }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) const override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) const override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) const override;

 private:
  const char* name_;
  VectorFn fun_;
  std::optional<CustomVjpFn> vjp_;
  std::optional<CustomJvpFn> jvp_;
  std::optional<CustomVmapFn> vmap_;
};

}  // namespace tessera
