// The CPU kernels of attention's weights (AttentionWeights) and of their gradient
// (AttentionWeightsVjp) against the same nodes on the reference backend, which runs their
// composites: every float type, causal and not, queries that see no key at all (Lq > Lk, causal),
// and a transposed (non-contiguous) input.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/eval_stats.h"
#include "primitives/fast.h"
#include "tessera/tessera.h"

namespace tessera {
namespace {

array weights_node(const array& scores, float scale, bool causal, Dtype out, Device d) {
  return array(scores.shape(), out, std::make_shared<AttentionWeights>(default_stream(d), scale, causal, out), {scores});
}

array weights_vjp_node(const array& w, const array& g, float scale, Dtype out, Device d) {
  return array(w.shape(), out, std::make_shared<AttentionWeightsVjp>(default_stream(d), scale, out), {w, g});
}

void expect_match(const array& got, const array& want, Dtype dt, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  array g = astype(got, float32), w = astype(want, float32);
  // Both round once from float32; sums over a row may differ in their last bits.
  const float tol = dt == bfloat16 ? 1e-2f : dt == float16 ? 2e-3f : 2e-6f;
  EXPECT_TRUE(array_equal(isnan(g), isnan(w)).item<bool>()) << what << ": NaN rows differ";
  array err = where(isnan(w), array(0.0f), abs(subtract(g, w)));
  array bound = add(multiply(abs(where(isnan(w), array(0.0f), w)), array(tol)), array(tol));
  EXPECT_TRUE(all(less_equal(err, bound)).item<bool>()) << what << ": max error " << max(err).item<float>();
}

TEST(AttentionWeights, KernelsMatchTheirComposites) {
  struct Case {
    Shape shape;  // [..., Lq, Lk]
    bool causal, transposed;
  };
  const Case cases[] = {
      {{2, 3, 5, 37}, true, false},   // causal over a longer key range, a vector tail
      {{1, 2, 9, 4}, true, false},    // Lq > Lk: the first five queries see no key (NaN rows)
      {{2, 17, 33}, false, false},    // plain softmax rows
      {{3, 24, 24}, true, true},      // scores arrive transposed
  };
  for (const Case& c : cases) {
    for (Dtype dt : {float32, bfloat16, float16}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (c.causal ? " causal" : "") + (c.transposed ? " transposed" : ""));
      array scores = astype(multiply(random::normal(c.shape, float32, random::key(7)), array(3.0f)), dt);
      if (c.transposed) scores = swapaxes(scores, -1, -2);
      const uint64_t fwd = kernel_run_count(Device::cpu, PrimitiveKind::AttentionWeights);
      const uint64_t bwd = kernel_run_count(Device::cpu, PrimitiveKind::AttentionWeightsVjp);
      array w = weights_node(scores, 0.37f, c.causal, dt, Device::cpu);
      array w_ref = weights_node(scores, 0.37f, c.causal, dt, Device::reference);
      eval(w, w_ref);
      expect_match(w, w_ref, dt, "weights");
      array g = astype(random::normal(w.shape(), float32, random::key(8)), dt);
      array dx = weights_vjp_node(w, g, 0.37f, dt, Device::cpu);
      array dx_ref = weights_vjp_node(w, g, 0.37f, dt, Device::reference);
      eval(dx, dx_ref);
      expect_match(dx, dx_ref, dt, "scores' gradient");
      EXPECT_EQ(kernel_run_count(Device::cpu, PrimitiveKind::AttentionWeights) - fwd, 1u);
      EXPECT_EQ(kernel_run_count(Device::cpu, PrimitiveKind::AttentionWeightsVjp) - bwd, 1u);
      // Hidden keys get weight exactly 0 (and so no gradient).
      if (c.causal && !c.transposed && c.shape.back() > c.shape[c.shape.size() - 2]) {
        const int Lq = c.shape[c.shape.size() - 2], Lk = c.shape.back();
        array first_query_hidden = slice(w, {0, 0, 0, Lk - Lq + 1}, {1, 1, 1, Lk});
        EXPECT_TRUE(all(equal(astype(first_query_hidden, float32), array(0.0f))).item<bool>());
      }
    }
  }
}

}  // namespace
}  // namespace tessera
