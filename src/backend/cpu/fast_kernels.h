// Fused CPU kernels for softmax, rms_norm, layer_norm, rope and attention (float types,
// accumulating in float32). Registered on the CPU backend only; the reference backend runs the
// primitives' decompositions.
#pragma once

#include <vector>

#include "tessera/array.h"

namespace tessera {

class Primitive;

void cpu_softmax(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
// logsumexp over the last axis (LogSumExp); 16-bit rows in float32.
void cpu_logsumexp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_rms_norm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
// Both gradients of rms_norm (RMSNormVjp); 16-bit inputs compute in float32.
void cpu_rms_norm_vjp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_layer_norm(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_rope(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_sdpa(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
// attention_vjp_kernel.cpp
void cpu_sdpa_vjp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
// attention_weights_kernel.cpp
void cpu_attention_weights(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);
void cpu_attention_weights_vjp(const Primitive& p, const std::vector<array>& in, std::vector<array>& out);

}  // namespace tessera
