// MLX C++ code ports by swapping the include and aliasing the namespace: this file is written
// the way MLX's own examples are (mx:: names, defaults, StreamOrDevice, keyword-free calls).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "tessera/tessera.h"

namespace mlx {
namespace core = ::tessera;
}
namespace mx = mlx::core;

namespace {

TEST(MlxCompat, TutorialStyleProgramCompilesAndRuns) {
  mx::array a = mx::array({1, 2, 3, 4}, {2, 2});
  mx::array b = mx::ones({2, 2}, mx::float32);
  auto c = mx::matmul(mx::astype(a, mx::float32), b) + 1.0f;
  mx::eval(c);
  EXPECT_EQ(c.shape(), mx::Shape({2, 2}));
  EXPECT_EQ(c.dtype(), mx::float32);
  EXPECT_FLOAT_EQ(mx::sum(c).item<float>(), 24.0f);

  auto key = mx::random::key(0);
  auto x = mx::random::normal({8, 16}, mx::float32, 0.0f, 1.0f, key);
  auto w = mx::ones({16});
  auto y = mx::fast::rms_norm(x, w, 1e-5f);
  auto p = mx::softmax(x, -1);
  auto q = mx::fast::scaled_dot_product_attention(mx::reshape(x, {1, 1, 8, 16}), mx::reshape(x, {1, 1, 8, 16}),
                                                  mx::reshape(x, {1, 1, 8, 16}), 0.25f, "causal");
  mx::eval({y, p, q});
  EXPECT_NEAR(mx::take(mx::sum(p, -1), 0).item<float>(), 1.0f, 1e-5f);
  EXPECT_TRUE(mx::issubdtype(y.dtype(), mx::floating));

  mx::StreamOrDevice s = mx::Device(mx::Device::cpu);
  auto z = mx::add(mx::arange(10, s), mx::array(1), s);
  EXPECT_EQ(z.dtype(), mx::int32);
  EXPECT_EQ(mx::max(z).item<int>(), 10);

  auto parts = mx::split(mx::arange(12), 3);
  EXPECT_EQ(parts.size(), 3u);
  auto wq = mx::quantize(mx::random::normal({32, 64}), 64, 4);
  auto out = mx::quantized_matmul(mx::ones({1, 64}), wq[0], wq[1], wq[2], true, 64, 4);
  EXPECT_EQ(out.shape(), mx::Shape({1, 32}));

  auto dir = std::filesystem::temp_directory_path() / "tessera_mlx_compat";
  std::filesystem::create_directories(dir);
  std::string file = (dir / "w.safetensors").string();
  mx::save_safetensors(file, {{"w", w}}, {{"format", "mlx"}});
  auto [loaded, meta] = mx::load_safetensors(file);
  EXPECT_EQ(meta.at("format"), "mlx");
  EXPECT_TRUE(mx::array_equal(loaded.at("w"), w).item<bool>());
  std::filesystem::remove_all(dir);

  EXPECT_GE(mx::get_peak_memory(), mx::get_active_memory());
}

}  // namespace
