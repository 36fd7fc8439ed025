// The evaluator, memory management, views and error reporting.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "primitives/primitive.h"
#include "tessera/tessera.h"

using namespace tessera;

namespace {

TEST(Engine, MillionNodeChainEvaluatesWithoutRecursion) {
  array x = array(0.0f);
  for (int i = 0; i < 1000000; ++i) x = add(x, array(1.0f));
  EXPECT_FLOAT_EQ(x.item<float>(), 1000000.0f);
}

TEST(Engine, MillionNodeUnevaluatedChainDestroysWithoutRecursion) {
  array x = array(0.0f);
  for (int i = 0; i < 1000000; ++i) x = multiply(x, array(2.0f));
  SUCCEED();  // the destructor of x must not overflow the stack
}

TEST(Engine, IntermediatesAreReleasedDuringEval) {
  const int n = 1 << 20;  // 4 MiB per float32 array
  array x = ones({n});
  eval(x);
  clear_cache();
  reset_peak_memory();
  size_t base = get_active_memory();
  array y = x;
  for (int i = 0; i < 64; ++i) y = add(multiply(y, array(1.0001f)), array(0.5f));
  eval(y);
  size_t peak = get_peak_memory() - base;
  // A chain holds at most a few arrays alive at once, not 128 intermediates.
  EXPECT_LT(peak, size_t(6) * n * sizeof(float)) << "peak " << peak;
  EXPECT_GT(y.data<float>()[0], 1.0f);
}

TEST(Engine, AsyncEvalReturnsAndCompletes) {
  array a = reshape(sin(arange(512.0f * 512.0f)), {512, 512});
  array b = matmul(a, a);
  async_eval(b);
  array c = sum(b);
  EXPECT_TRUE(std::isfinite(c.item<float>()));
  EXPECT_TRUE(b.is_evaluated());
}

TEST(Engine, ViewsShareBuffers) {
  array a = reshape(arange(24.0f), {4, 6});
  eval(a);
  const char* base = static_cast<const char*>(a.raw_data());
  auto inside = [&](const array& v) {
    const char* p = static_cast<const char*>(v.raw_data());
    return p >= base && p < base + a.nbytes();
  };
  array t = transpose(a);
  array s = slice(a, {1, 2}, {3, 6}, {1, 2});
  array r = reshape(a, {2, 12});
  array bc = broadcast_to(reshape(a, {1, 4, 6}), {3, 4, 6});
  eval(t, s, r, bc);
  EXPECT_TRUE(inside(t));
  EXPECT_TRUE(inside(s));
  EXPECT_TRUE(inside(r));
  EXPECT_TRUE(inside(bc));
  EXPECT_EQ(t.strides(), (Strides{1, 6}));
  EXPECT_FALSE(t.flags().row_contiguous);
  EXPECT_TRUE(t.flags().col_contiguous);
  EXPECT_FLOAT_EQ(s.data<float>()[0], 8.0f);
  EXPECT_EQ(bc.strides()[0], 0);
}

TEST(Engine, ReshapeOfTransposedCopiesCorrectly) {
  array a = transpose(reshape(arange(6.0f), {2, 3}));
  array r = reshape(a, {6});
  std::vector<float> want = {0, 3, 1, 4, 2, 5};
  eval(r);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(r.data<float>()[i], want[i]);
}

TEST(Engine, DonationReusesATemporaryBuffer) {
  array x = add(ones({1 << 16}), array(1.0f));
  eval(x);
  const void* p = x.raw_data();
  array y = multiply(x, array(3.0f));
  // Once the graph holds the only reference, the multiply may write into x's buffer.
  x = array(0.0f);
  eval(y);
  EXPECT_EQ(y.raw_data(), p);
  EXPECT_FLOAT_EQ(y.data<float>()[7], 6.0f);
}

class NoKernel : public Primitive {
 public:
  using Primitive::Primitive;
  PrimitiveKind kind() const override { return PrimitiveKind::Custom; }
  const char* name() const override { return "no_kernel_op"; }
};

TEST(Engine, MissingKernelErrorNamesOpDeviceAndDtype) {
  array in = ones({3});
  array out({3}, float32, std::make_shared<NoKernel>(default_stream(Device::cpu)), {in});
  try {
    out.eval();
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("no_kernel_op"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cpu"), std::string::npos) << msg;
    EXPECT_NE(msg.find("float32"), std::string::npos) << msg;
  }
}

TEST(Engine, ItemRequiresOneElement) {
  EXPECT_THROW(ones({2}).item<float>(), std::invalid_argument);
  EXPECT_EQ(array(7).item<int>(), 7);
  EXPECT_EQ(array(true).item<bool>(), true);
}

TEST(Engine, ResultsDoNotDependOnThreadCount) {
  array x = reshape(cos(arange(700000.0f)), {1000, 700});
  array y1 = sum(exp(x), 1);
  eval(y1);
  int prev = get_num_threads();
  set_num_threads(1);
  array y2 = sum(exp(x), 1);
  eval(y2);
  set_num_threads(prev);
  EXPECT_TRUE(array_equal(y1, y2).item<bool>());
  EXPECT_THROW(set_num_threads(0), std::invalid_argument);
}

// An array adopting a buffer takes ownership even when its shape is rejected: the buffer goes
// back to its deleter. (A Fortran-order .npy header whose dimensions overflow before its zero
// dimension is reached leaked one this way.)
TEST(Engine, RejectedShapeReleasesTheAdoptedBuffer) {
  const size_t before = get_active_memory();
  EXPECT_THROW(array(allocator::malloc(256), Shape{6, 4, 4, 2120120, 2200200, 0, 5553, 2, 302}, float32),
               std::invalid_argument);
  EXPECT_EQ(get_active_memory(), before);
  bool freed = false;
  EXPECT_THROW(array(allocator::malloc(64), Shape{-1, 4}, float32,
                     [&freed](allocator::Buffer b) {
                       freed = true;
                       allocator::free(b);
                     }),
               std::invalid_argument);
  EXPECT_TRUE(freed);
}

TEST(Engine, BufferCacheAndLimits) {
  clear_cache();
  EXPECT_EQ(get_cache_memory(), 0u);
  { array a = ones({1 << 18}); eval(a); }
  EXPECT_GT(get_cache_memory(), 0u);
  size_t prev = set_cache_limit(0);
  EXPECT_EQ(get_cache_memory(), 0u);
  set_cache_limit(prev);
  size_t prev_limit = set_memory_limit(size_t(1) << 40);
  EXPECT_EQ(set_memory_limit(prev_limit), size_t(1) << 40);
}

TEST(Engine, ConstructorsAndDtypes) {
  array a({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(a.dtype(), int32);
  EXPECT_EQ(a.shape(), (Shape{2, 2}));
  array b({1.5f, 2.5f});
  EXPECT_EQ(b.dtype(), float32);
  std::vector<double> v = {1, 2, 3};
  array c(v.begin(), {3});
  EXPECT_EQ(c.dtype(), float64);
  array h(1.5f, bfloat16);
  EXPECT_EQ(h.item<float>(), 1.5f);
  EXPECT_EQ(promote_types(uint64, int8), float32);
  EXPECT_EQ(promote_types(float16, bfloat16), float32);
  EXPECT_EQ(promote_types(int32, float16), float16);
  EXPECT_EQ((array(1) + array(2.0f)).dtype(), float32);
  bool freed = false;
  {
    float* raw = new float[4]{1, 2, 3, 4};
    array ext(raw, {4}, float32, [&freed](void* p) {
      delete[] static_cast<float*>(p);
      freed = true;
    });
    EXPECT_FLOAT_EQ(sum(ext).item<float>(), 10.0f);
  }
  EXPECT_TRUE(freed);
  EXPECT_THROW(array({1, 2, 3}, {2, 2}), std::invalid_argument);
}

TEST(Engine, HalfConversionsRoundToNearestEven) {
  // 1 + 2^-11 is halfway between two float16 values; ties go to even (1.0).
  EXPECT_EQ(float(float16_t(1.0f + 1.0f / 2048)), 1.0f);
  EXPECT_EQ(float(float16_t(65520.0f)), std::numeric_limits<float>::infinity());
  EXPECT_EQ(float(float16_t(5.96046448e-08f)), 5.96046448e-08f);
  EXPECT_EQ(float(bfloat16_t(1.0f + 1.0f / 256)), 1.0f);
  EXPECT_TRUE(std::isnan(float(bfloat16_t(std::numeric_limits<float>::quiet_NaN()))));
}

// float16 <-> bfloat16 casts take the vector kernels through float32: every bit pattern must
// round like the scalar conversion (round to nearest even from the exact value; NaN stays NaN).
TEST(Engine, HalfToBfloat16CastsMatchTheScalarConversionForEveryValue) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
  for (bool from_bf16 : {false, true}) {
    const Dtype src = from_bf16 ? bfloat16 : float16, dst = from_bf16 ? float16 : bfloat16;
    array x(all.begin(), {65536}, uint16);
    array y = astype(view(x, src), dst);
    eval(y);
    const auto* got = static_cast<const uint16_t*>(y.raw_data());
    int wrong = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      const float v = from_bf16 ? float(bfloat16_t::from_bits(all[i])) : float(float16_t::from_bits(all[i]));
      const uint16_t want = from_bf16 ? float16_t(v).bits : bfloat16_t(v).bits;
      const float back = from_bf16 ? float(float16_t::from_bits(got[i])) : float(bfloat16_t::from_bits(got[i]));
      if (std::isnan(v) ? !std::isnan(back) : got[i] != want) {
        if (++wrong <= 3) ADD_FAILURE() << (from_bf16 ? "bfloat16 " : "float16 ") << std::hex << all[i] << " -> " << got[i]
                                        << ", want " << want;
      }
    }
    EXPECT_EQ(wrong, 0);
  }
}

TEST(Engine, PrintsLikeMlx) {
  std::ostringstream os;
  os << reshape(arange(4), {2, 2});
  EXPECT_EQ(os.str(), "array([[0, 1],\n       [2, 3]], dtype=int32)");
}

}  // namespace
