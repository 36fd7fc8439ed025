// Transform rules of the matrix products. The batch dims of the primitives' inputs are already
// broadcast to one shape, so every rule works on equal batch shapes and leaves the reduction
// over broadcast dims to the Broadcast nodes the op built in front of them.
#include "primitives/linalg.h"

#include "tessera/ops.h"

namespace tessera {

namespace {

// The transposed view of the last two axes: the CPU GEMM reads it in place, no copy.
array mT(const array& a, const Stream& s) { return swapaxes(a, -1, -2, s); }

array scaled(const array& a, float f, const Stream& s) {
  return f == 1.f ? a : multiply(a, array(f, a.dtype()), s);
}

// Batched inputs get their batch axis in front; unbatched ones stay as they are and meet the
// batch through matmul's broadcasting of the leading dims.
array batch_front(const array& a, int axis, const Stream& s) { return axis <= 0 ? a : moveaxis(a, axis, 0, s); }

}  // namespace

// ------------------------------------------------------------------ Matmul

std::vector<array> Matmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const Stream& s = stream();
  const array& cot = cotangents[0];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) out.push_back(matmul(cot, mT(primals[1], s), s));
    else out.push_back(matmul(mT(primals[0], s), cot, s));
  }
  return out;
}

std::vector<array> Matmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) const {
  const Stream& s = stream();
  std::optional<array> t;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array term = argnums[k] == 0 ? matmul(tangents[k], primals[1], s) : matmul(primals[0], tangents[k], s);
    t = t ? add(*t, term, s) : term;
  }
  return {*t};
}

std::pair<std::vector<array>, std::vector<int>> Matmul::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes) const {
  const Stream& s = stream();
  array a = batch_front(inputs[0], axes[0], s), b = batch_front(inputs[1], axes[1], s);
  return {{matmul(a, b, s)}, {0}};
}

// ------------------------------------------------------------------ AddMM

std::vector<array> AddMM::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>& argnums, const std::vector<array>& outputs) const {
  (void)outputs;
  const Stream& s = stream();
  const array& cot = cotangents[0];
  std::vector<array> out;
  for (int arg : argnums) {
    if (arg == 0) out.push_back(scaled(matmul(cot, mT(primals[1], s), s), alpha_, s));
    else if (arg == 1) out.push_back(scaled(matmul(mT(primals[0], s), cot, s), alpha_, s));
    else out.push_back(scaled(cot, beta_, s));
  }
  return out;
}

std::vector<array> AddMM::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) const {
  const Stream& s = stream();
  // Accumulate through addmm itself so each product term costs one fused GEMM.
  std::optional<array> t;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 2) {
      array term = scaled(tangents[k], beta_, s);
      t = t ? add(*t, term, s) : term;
      continue;
    }
    const array& a = argnums[k] == 0 ? tangents[k] : primals[0];
    const array& b = argnums[k] == 1 ? tangents[k] : primals[1];
    t = t ? addmm(*t, a, b, alpha_, 1.f, s) : scaled(matmul(a, b, s), alpha_, s);
  }
  return {*t};
}

std::pair<std::vector<array>, std::vector<int>> AddMM::vmap(const std::vector<array>& inputs,
                                                            const std::vector<int>& axes) const {
  const Stream& s = stream();
  array a = batch_front(inputs[0], axes[0], s), b = batch_front(inputs[1], axes[1], s);
  array c = batch_front(inputs[2], axes[2], s);
  if (axes[0] < 0 && axes[1] < 0) {
    // Only c carries the batch: give the product a batch dim too (a broadcast view), since c
    // is broadcast to the product's shape and cannot be larger than it.
    int n = c.shape(0);
    Shape sh = a.shape();
    sh.insert(sh.begin(), n);
    a = broadcast_to(expand_dims(a, 0, s), sh, s);
  }
  return {{addmm(c, a, b, alpha_, beta_, s)}, {0}};
}

}  // namespace tessera
