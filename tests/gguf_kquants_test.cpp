// GGUF k-quant tensors (Q2_K-Q6_K, Q8_K): decoding against an independent NumPy implementation
// (tests/reference/gguf_kquants.py), the exact conversion to the affine layout, quantized_matmul
// on the converted weights, Tessera's encoder read back by the NumPy decoder, a real model
// (stories260K, zero-padded to rows of 256) with k-quant tensors, and corrupt sizes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/gguf.h"
#include "tessera/io.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/model.h"
#include "tessera/tessera.h"
#include "testing/errors.h"

namespace fs = std::filesystem;
using namespace tessera;
using tessera::gguf::TensorType;
using tessera::gguf::Value;

namespace {

struct KType {
  const char* name;
  TensorType type;
  int bits, group_size;  // the affine layout load_quantized gives (0: dequantized only)
};
constexpr KType kTypes[] = {
    {"q2_k", TensorType::q2_k, 2, 16}, {"q3_k", TensorType::q3_k, 4, 16}, {"q4_k", TensorType::q4_k, 4, 32},
    {"q5_k", TensorType::q5_k, 5, 32}, {"q6_k", TensorType::q6_k, 8, 16}, {"q8_k", TensorType::q8_k, 0, 0},
};

// Deterministic standard-normal-ish values (a sum of uniforms), self-contained.
array test_data(int rows, int cols, uint64_t seed) {
  std::vector<float> v(size_t(rows) * cols);
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (auto& x : v) {
    float t = 0;
    for (int k = 0; k < 4; ++k) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      t += float(s >> 40) * (1.0f / float(1 << 24)) - 0.5f;
    }
    x = t * 1.7f;
  }
  return array(v.begin(), Shape{rows, cols}, float32);
}

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("tessera-kquants-" + tag + "-" + std::to_string(getpid()));
  fs::create_directories(p);
  return p;
}

// Equal as numbers, element by element (ggml's d * sc * (q - 32) gives -0 where the affine form
// scale * q + bias gives +0; nothing else differs).
bool exactly_equal(const array& a, const array& b, std::string* why) {
  array x = contiguous(astype(a, float32)), y = contiguous(astype(b, float32));
  eval(x, y);
  if (x.shape() != y.shape()) {
    *why = "shapes differ";
    return false;
  }
  const float* p = x.data<float>();
  const float* q = y.data<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(p[i] == q[i])) {
      *why = "element " + std::to_string(i) + ": " + std::to_string(p[i]) + " vs " + std::to_string(q[i]);
      return false;
    }
  }
  return true;
}

// Tessera's writer output and the NumPy script's files, made once per test run.
struct Reference {
  fs::path dir;
  std::string skip;
  std::unordered_map<std::string, array> ref;
  array cpp_source = zeros({1});
  Reference() {
    dir = temp_dir("ref");
    cpp_source = test_data(16, 512, 7);
    std::vector<gguf::WriteTensor> ts;
    for (auto& k : kTypes) {
      if (k.type != TensorType::q8_k) ts.push_back({k.name, cpp_source, k.type});
    }
    gguf::save((dir / "cpp.gguf").string(), {}, ts);
    std::string cmd = std::string("/usr/bin/python3 ") + TESSERA_SOURCE_DIR + "/tests/reference/gguf_kquants.py " +
                      dir.string();
    int status = std::system(cmd.c_str());
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 77) {
      skip = "NumPy (at /usr/bin/python3) is not installed";
      return;
    }
    if (status != 0) throw std::runtime_error("tests/reference/gguf_kquants.py failed: " + cmd);
    ref = loadz((dir / "ref.npz").string());
  }
  ~Reference() { fs::remove_all(dir); }
  const array& operator[](const std::string& k) const {
    auto it = ref.find(k);
    if (it == ref.end()) throw std::out_of_range("no reference array " + k);
    return it->second;
  }
};

const Reference& reference() {
  static Reference r;
  return r;
}

#define REQUIRE_REFERENCE()                                         \
  const Reference& R = reference();                                 \
  if (!R.skip.empty()) GTEST_SKIP() << R.skip;

TEST(GgufKQuants, DecodeMatchesTheIndependentDecoder) {
  REQUIRE_REFERENCE();
  gguf::Reader r((R.dir / "py.gguf").string());
  for (auto& k : kTypes) {
    for (std::string name : {std::string(k.name), "rand_" + std::string(k.name)}) {
      EXPECT_EQ(r.tensor(name).type, k.type) << name;
      array got = r.load(name);
      EXPECT_EQ(got.dtype(), float32);
      std::string why;
      EXPECT_TRUE(exactly_equal(got, R["py_" + name], &why)) << name << ": " << why;
    }
  }
  // The quantized data is near the data it came from (a sanity check of the script's encoder).
  array x = R["x"];
  for (auto& k : kTypes) {
    float err = max(abs(subtract(r.load(k.name), x))).item<float>();
    EXPECT_LT(err, 4.0f) << k.name;
  }
  // Other dtypes round the float32 values.
  array h = r.load("q4_k", bfloat16);
  EXPECT_EQ(h.dtype(), bfloat16);
  EXPECT_TRUE(array_equal(h, astype(r.load("q4_k"), bfloat16), false).item<bool>());
}

TEST(GgufKQuants, WriterBlocksDecodeIndependently) {
  REQUIRE_REFERENCE();
  gguf::Reader r((R.dir / "cpp.gguf").string());
  const array& x = R.cpp_source;
  // Relative RMS error bounds of round-to-nearest on normal data (measured, with margin).
  const std::unordered_map<std::string, float> bound = {
      {"q2_k", 0.45f}, {"q3_k", 0.25f}, {"q4_k", 0.12f}, {"q5_k", 0.06f}, {"q6_k", 0.03f}};
  float rms = std::sqrt(mean(square(x)).item<float>());
  for (auto& k : kTypes) {
    if (k.type == TensorType::q8_k) {
      EXPECT_EQ(r.find_tensor(k.name), nullptr);
      continue;
    }
    array got = r.load(k.name);
    std::string why;
    EXPECT_TRUE(exactly_equal(got, R[std::string("cpp_") + k.name], &why)) << k.name << ": " << why;
    float err = std::sqrt(mean(square(subtract(got, x))).item<float>()) / rms;
    EXPECT_LT(err, bound.at(k.name)) << k.name;
  }
}

TEST(GgufKQuants, AffineConversionIsExact) {
  REQUIRE_REFERENCE();
  for (const char* file : {"py.gguf", "cpp.gguf"}) {
    gguf::Reader r((R.dir / file).string());
    for (auto& k : kTypes) {
      for (std::string name : {std::string(k.name), "rand_" + std::string(k.name)}) {
        if (!r.find_tensor(name)) continue;
        auto q = r.load_quantized(name);
        if (k.bits == 0) {
          EXPECT_FALSE(q.has_value()) << name;
          continue;
        }
        ASSERT_TRUE(q.has_value()) << name;
        EXPECT_EQ(q->bits, k.bits) << name;
        EXPECT_EQ(q->group_size, k.group_size) << name;
        const Shape shape = r.tensor(name).shape();
        EXPECT_EQ(q->wq.shape(), (Shape{shape[0], shape[1] * k.bits / 32})) << name;
        EXPECT_EQ(q->scales.shape(), (Shape{shape[0], shape[1] / k.group_size})) << name;
        std::string why;
        EXPECT_TRUE(exactly_equal(dequantize(q->wq, q->scales, q->biases, q->group_size, q->bits), r.load(name), &why))
            << file << " " << name << ": " << why;
      }
    }
  }
}

TEST(GgufKQuants, QuantizedMatmulMatchesTheDequantizedWeights) {
  REQUIRE_REFERENCE();
  gguf::Reader r((R.dir / "py.gguf").string());
  for (auto& k : kTypes) {
    if (k.bits == 0) continue;
    for (std::string name : {std::string(k.name), "rand_" + std::string(k.name)}) {
      auto q = r.load_quantized(name);
      ASSERT_TRUE(q.has_value());
      array w = r.load(name);
      // M = 1 and 3 take the matrix-vector kernels, M = 17 the dequantized tiles; transposed
      // and not.
      for (int M : {1, 3, 17}) {
        array x = test_data(M, w.shape(1), 11 + M);
        array want = matmul(x, transpose(w));
        array got = quantized_matmul(x, q->wq, q->scales, q->biases, true, q->group_size, q->bits);
        float scale = max(abs(want)).item<float>();
        EXPECT_TRUE(allclose(got, want, 1e-4, 1e-5 * scale).item<bool>())
            << name << " M=" << M << ": max error " << max(abs(subtract(got, want))).item<float>() << " of " << scale;
        array xt = test_data(M, w.shape(0), 13 + M);
        array want_n = matmul(xt, w);
        array got_n = quantized_matmul(xt, q->wq, q->scales, q->biases, false, q->group_size, q->bits);
        float scale_n = max(abs(want_n)).item<float>();
        EXPECT_TRUE(allclose(got_n, want_n, 1e-4, 1e-5 * scale_n).item<bool>()) << name << " (not transposed) M=" << M;
      }
    }
  }
}

// ------------------------------------------------------------------ errors

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

using tessera::testing::error_of;

void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int k = 0; k < 8; ++k) b[at + k] = uint8_t(v >> (8 * k));
}

TEST(GgufKQuants, CorruptSizesAreClearErrors) {
  fs::path dir = temp_dir("errors");
  // Writing: rows must be whole super-blocks.
  std::string e = error_of([&] {
    gguf::save((dir / "w.gguf").string(), {}, {{"blk.0.ffn_down.weight", zeros({4, 100}), TensorType::q4_k}});
  });
  EXPECT_NE(e.find("tensor 'blk.0.ffn_down.weight' has shape [4, 100]: Q4_K needs the last axis to be a multiple of 256"),
            std::string::npos)
      << e;
  e = error_of([&] { gguf::save((dir / "w.gguf").string(), {}, {{"a", zeros({256}), TensorType::q8_k}}); });
  EXPECT_NE(e.find("writing Q8_K is not supported"), std::string::npos) << e;

  // A file with one Q4_K tensor "w" of shape [2, 256]: its dims start after the header (24
  // bytes), the name (8 + 1) and the dimension count (4).
  const fs::path good = dir / "good.gguf";
  gguf::save(good.string(), {}, {{"w", test_data(2, 256, 3), TensorType::q4_k}});
  const std::vector<uint8_t> bytes = read_bytes(good);
  const size_t dims_at = 24 + 9 + 4, type_at = dims_at + 16;
  ASSERT_EQ(bytes[dims_at], 0) << "256 is 0x100";
  ASSERT_EQ(bytes[dims_at + 1], 1);
  ASSERT_EQ(bytes[type_at], uint8_t(TensorType::q4_k));
  EXPECT_NO_THROW(gguf::Reader(good.string()).load("w"));

  auto with = [&](const std::string& name, auto&& edit) {
    std::vector<uint8_t> b = bytes;
    edit(b);
    write_bytes(dir / name, b);
    return (dir / name).string();
  };
  // Rows that are not whole super-blocks.
  std::string p = with("rows.gguf", [&](auto& b) { put_u64(b, dims_at, 100); });
  e = error_of([&] { gguf::Reader r(p); });
  EXPECT_NE(e.find("tensor 'w' of type Q4_K has shape [2, 100]: its rows of 100 values are not a multiple of the "
                   "type's block size 256"),
            std::string::npos)
      << e;
  // More rows than the file holds (a huge count must not allocate).
  for (uint64_t rows : {uint64_t(3), uint64_t(INT32_MAX)}) {
    p = with("many.gguf", [&](auto& b) { put_u64(b, dims_at + 8, rows); });
    e = error_of([&] { gguf::Reader r(p); });
    EXPECT_NE(e.find("tensor 'w' data [0, " + std::to_string(rows * 144) + ")"), std::string::npos) << e;
    EXPECT_NE(e.find("runs past the end of the file"), std::string::npos) << e;
  }
  // A type with larger blocks (Q6_K: 210 bytes per 256 values instead of 144).
  p = with("type.gguf", [&](auto& b) { b[type_at] = uint8_t(TensorType::q6_k); });
  e = error_of([&] { gguf::Reader r(p); });
  EXPECT_NE(e.find("runs past the end of the file"), std::string::npos) << e;
  // A truncated file.
  p = with("short.gguf", [&](auto& b) { b.resize(b.size() - 100); });
  e = error_of([&] { gguf::Reader r(p); });
  EXPECT_NE(e.find("runs past the end of the file"), std::string::npos) << e;
  // A smaller k-quant type reads the same bytes as its own blocks: no error, and the values are
  // whatever those bytes say (finite here, as the scales decode to float16 values).
  p = with("q2.gguf", [&](auto& b) { b[type_at] = uint8_t(TensorType::q2_k); });
  gguf::Reader r2(p);
  EXPECT_EQ(r2.load("w").shape(), (Shape{2, 256}));
  EXPECT_TRUE(r2.load_quantized("w").has_value());
  fs::remove_all(dir);
}

// ------------------------------------------------------------------ a real model

fs::path stories_path() {
  return fs::path(TESSERA_SOURCE_DIR) / ".." / "shared" / "data" / "models" / "stories260K" / "stories260K.gguf";
}

// stories260K has rows of 64 and 172 values, too short for k-quants' 256. Zero-padding the hidden
// size and the FFN to 256 keeps the function: the residual stream's extra dimensions stay zero,
// RMSNorm's mean over 4x the dimensions is compensated by eps / 4 and halved norm weights
// (sqrt(s / 256 + eps / 4) = sqrt(s / 64 + eps) / 2), and the heads keep key_length 8.
std::string write_widened(const fs::path& out, const std::function<TensorType(const std::string&)>& type_of) {
  gguf::Reader r(stories_path().string());
  auto meta = r.metadata();
  for (auto& [k, v] : meta) {
    if (k == "llama.embedding_length" || k == "llama.feed_forward_length") v = Value(uint32_t(256));
    if (k == "llama.attention.layer_norm_rms_epsilon") v = Value(float(v.to_double() / 4));
  }
  meta.emplace_back("llama.attention.key_length", Value(uint32_t(8)));
  meta.emplace_back("llama.attention.value_length", Value(uint32_t(8)));
  std::vector<gguf::WriteTensor> ts;
  for (auto& t : r.tensors()) {
    array a = r.load(t.name);
    if (a.ndim() == 1) {
      a = multiply(pad(a, std::vector<std::pair<int, int>>{{0, 256 - a.shape(0)}}), array(0.5f));
    } else {
      const bool ffn_rows = t.name.find("ffn_gate") != std::string::npos || t.name.find("ffn_up") != std::string::npos;
      const bool hidden_rows = t.name.find("ffn_down") != std::string::npos || t.name.find("attn_output") != std::string::npos;
      const bool short_cols = t.name.find("attn_output") == std::string::npos;  // its columns are the heads' 64
      int rows = ffn_rows || hidden_rows ? 256 : a.shape(0);
      int cols = short_cols ? 256 : a.shape(1);
      a = pad(a, std::vector<std::pair<int, int>>{{0, rows - a.shape(0)}, {0, cols - a.shape(1)}});
    }
    a = contiguous(a);
    a.eval();
    ts.push_back({t.name, a, a.ndim() == 2 && a.shape(1) % 256 == 0 ? type_of(t.name) : TensorType::f32});
  }
  gguf::save(out.string(), meta, ts);
  return out.string();
}

lm::LoadedModel quiet_load(const std::string& path, std::vector<std::string>* log = nullptr, bool keep = true) {
  gguf::set_log_handler([log](const std::string& l) {
    if (log) log->push_back(l);
  });
  lm::LoadOptions o;
  o.keep_quantized = keep;
  auto m = lm::load_model(path, o);
  gguf::set_log_handler(nullptr);
  return m;
}

array prompt_logits(const lm::LoadedModel& m,
                    const std::string& prompt = "Once upon a time there was a little girl") {
  std::vector<int> ids = m.tokenizer->encode(prompt, true);
  array tokens(ids.begin(), Shape{1, int(ids.size())}, int32);
  lm::KVCache cache = m.model->make_cache();
  array l = m.model->forward(tokens, cache, false);
  l.eval();
  return l;
}

std::vector<int> greedy(const lm::LoadedModel& m, int n) {
  lm::GenerateOptions o;
  o.max_tokens = n;
  return lm::generate(*m.model, *m.tokenizer, "Once upon a time", o).tokens;
}

TEST(GgufKQuants, StoriesWithKQuantTensorsGenerates) {
  if (!fs::exists(stories_path())) GTEST_SKIP() << "stories260K is not available at " << stories_path();
  fs::path dir = temp_dir("stories");
  auto original = quiet_load(stories_path().string());
  const std::vector<int> want = greedy(original, 24);

  // The widened float model is the same function.
  auto wide = quiet_load(write_widened(dir / "wide.gguf", [](auto&) { return TensorType::f32; }));
  EXPECT_EQ(greedy(wide, 24), want);
  array ref = prompt_logits(wide);

  // Q4_K_M's mix: Q4_K for most projections, Q6_K for attn_v, ffn_down and the output (and the
  // embedding, which is dequantized at load).
  auto mix = [](const std::string& n) {
    bool six = n.find("attn_v") != std::string::npos || n.find("ffn_down") != std::string::npos ||
               n == "output.weight" || n == "token_embd.weight";
    return six ? TensorType::q6_k : TensorType::q4_k;
  };
  const std::string q4km = write_widened(dir / "q4km.gguf", mix);
  std::vector<std::string> log;
  auto quant = quiet_load(q4km, &log);
  std::string all;
  for (auto& l : log) all += l + "\n";
  EXPECT_NE(all.find("converted 20 Q4_K tensors to the affine layout (4-bit, group 32)"), std::string::npos) << all;
  // The token table (Q6_K here) stays quantized like every other matrix.
  EXPECT_NE(all.find("converted 12 Q6_K tensors to the affine layout (8-bit, group 16)"), std::string::npos) << all;
  EXPECT_EQ(all.find("dequantized"), std::string::npos) << all;

  // The quantized model computes what float32 weights equal to the dequantized k-quants give.
  auto dequantized = quiet_load(q4km, nullptr, /*keep=*/false);
  array lq = prompt_logits(quant), ld = prompt_logits(dequantized);
  float span = max(abs(ld)).item<float>();
  EXPECT_TRUE(allclose(lq, ld, 1e-4, 1e-4 * span).item<bool>())
      << "max error " << max(abs(subtract(lq, ld))).item<float>() << " of " << span;
  // A prompt of 32 tokens or more runs the quantized products with bfloat16 activations (the
  // CPU's bfloat16 matrix units): within bfloat16's rounding of the float32 result.
  const std::string long_prompt =
      "Once upon a time there was a little girl named Lily. She liked to play in the park with her friends "
      "and her dog. One day she found a big red ball under a tree.";
  array lq_long = prompt_logits(quant, long_prompt), ld_long = prompt_logits(dequantized, long_prompt);
  ASSERT_GE(lq_long.shape(1), 32);
  float span_long = max(abs(ld_long)).item<float>();
  float err_long = max(abs(subtract(lq_long, ld_long))).item<float>();
  EXPECT_LT(err_long, 0.03f * span_long) << "max error " << err_long << " of " << span_long;
  EXPECT_GT(err_long, 0.f) << "the long prompt should take the bfloat16 product";
  // And stays near the float model: the greedy text starts the same (both quantized models part
  // from it at token 17) and the logits are within the format's error (Tessera's encoder rounds
  // to nearest; llama.cpp's scale search does somewhat better).
  auto agree = [&](const std::vector<int>& got) {
    size_t n = 0;
    while (n < got.size() && n < want.size() && got[n] == want[n]) ++n;
    return n;
  };
  auto rel_error = [&](const array& l) {
    return std::sqrt(mean(square(subtract(l, ref))).item<float>() / mean(square(ref)).item<float>());
  };
  EXPECT_GE(agree(greedy(quant, 24)), 16u);
  EXPECT_LT(rel_error(lq), 0.1f);
  auto q6 = quiet_load(write_widened(dir / "q6.gguf", [](auto&) { return TensorType::q6_k; }));
  EXPECT_GE(agree(greedy(q6, 24)), 16u);
  EXPECT_LT(rel_error(prompt_logits(q6)), 0.03f);
  fs::remove_all(dir);
}

}  // namespace
