// Fused operations (follows MLX's fast.h). Each has a composite fallback built from plain ops,
// used for gradients and on backends without a fused kernel.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "tessera/array.h"
#include "tessera/ops.h"

namespace tessera::fast {

array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s = {});
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s = {});

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, int offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});
array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});

// queries [B, Hq, Lq, D], keys/values [B, Hkv, Lk, D] with Hq a multiple of Hkv (grouped-query).
// mask_mode: "" (none, or the array mask_arr), "causal" or "array". Boolean masks keep `true`
// positions; other masks are added to the scores. `sinks`: per-head logits of an extra virtual key.
array scaled_dot_product_attention(const array& queries, const array& keys, const array& values, const float scale,
                                   const std::string& mask_mode = "", const std::optional<array>& mask_arr = {},
                                   const std::optional<array>& sinks = {}, StreamOrDevice s = {});

}  // namespace tessera::fast
