#include "lm/convert/gguf_arch.h"

#include <cmath>

#include "tessera/ops.h"

namespace tessera::lm::convert {

namespace {

// Export looks rows up by model_type, import by general.architecture; the first match wins, so
// Mistral exports as "llama" (llama.cpp's converter does the same) and a file that says
// "mistral" imports as Mistral.
constexpr GgufArch kArchs[] = {
    {"llama", "llama", "LlamaForCausalLM", true},
    {"mistral", "llama", "MistralForCausalLM", true},
    {"qwen2", "qwen2", "Qwen2ForCausalLM", false},
    {"qwen3", "qwen3", "Qwen3ForCausalLM", false},
    {"mistral", "mistral", "MistralForCausalLM", true},
};

array swap_halves(const array& w, int heads, bool to_interleaved) {
  const int rows = w.shape(0);
  const int rest = w.ndim() == 1 ? 1 : int(w.size() / size_t(rows));
  const int half = rows / heads / 2;
  const Shape from = to_interleaved ? Shape{heads, 2, half, rest} : Shape{heads, half, 2, rest};
  return reshape(swapaxes(reshape(w, from), 1, 2), w.shape());
}

std::vector<double> periods(float base, int dims) {
  std::vector<double> p(size_t(dims / 2));
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::pow(double(base), double(2 * i) / double(dims));
  return p;
}

std::vector<float> factors_for(const Llama3Rope& r, float base, int dims) {
  const double low_wavelen = r.original_context / r.low_freq_factor;
  const double high_wavelen = r.original_context / r.high_freq_factor;
  std::vector<float> out;
  for (double p : periods(base, dims)) {
    const double wavelen = 2.0 * M_PI * p;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(float(r.factor));
    } else {
      const double smooth = (r.original_context / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
      out.push_back(float(1.0 / ((1.0 - smooth) / r.factor + smooth)));
    }
  }
  return out;
}

bool close(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(a[i] - b[i]) <= 1e-4 * std::fabs(b[i]))) return false;
  }
  return true;
}

}  // namespace

const GgufArch* gguf_arch_for_hf(const std::string& model_type) {
  for (auto& a : kArchs) {
    if (model_type == a.hf_type) return &a;
  }
  return nullptr;
}

const GgufArch* gguf_arch_for_gguf(const std::string& architecture) {
  for (auto& a : kArchs) {
    if (architecture == a.gguf) return &a;
  }
  return nullptr;
}

std::string gguf_arch_names() { return "llama, mistral, qwen2, qwen3"; }

array rope_rows_to_interleaved(const array& w, int heads) { return swap_halves(w, heads, true); }
array rope_rows_to_halves(const array& w, int heads) { return swap_halves(w, heads, false); }

std::vector<float> llama3_rope_factors(const ModelConfig& c) {
  return factors_for({c.rope_factor, c.rope_low_freq_factor, c.rope_high_freq_factor, c.rope_original_context},
                     c.rope_theta, c.rope_dims);
}

std::optional<Llama3Rope> llama3_rope_from_factors(const std::vector<float>& f, float base, int dims) {
  if (f.empty() || f.size() != size_t(dims / 2)) return std::nullopt;
  double big = 0;
  for (float x : f) big = std::max(big, double(x));
  if (!(big > 1.0)) return std::nullopt;
  // Meta's released values first (Llama 3.1 and 3.2 differ only in the factor).
  Llama3Rope guess{big, 1.0, 4.0, 8192};
  if (close(factors_for(guess, base, dims), f)) return guess;
  // Otherwise fit: between the bands 1/f = (1 - s)/F + s with s linear in 1/wavelength. Only the
  // band edges original_context / low and original_context / high matter, so low is taken as 1.
  const std::vector<double> p = periods(base, dims);
  int first = -1, last = -1;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] > 1.0f + 1e-6f && f[i] < float(big) * (1 - 1e-6f)) {
      if (first < 0) first = int(i);
      last = int(i);
    }
  }
  if (first < 0 || first == last) return std::nullopt;
  auto s_of = [&](int i) { return (1.0 / f[size_t(i)] - 1.0 / big) / (1.0 - 1.0 / big); };
  auto x_of = [&](int i) { return 1.0 / (2.0 * M_PI * p[size_t(i)]); };
  const double slope = (s_of(last) - s_of(first)) / (x_of(last) - x_of(first));
  const double intercept = s_of(first) - slope * x_of(first);
  if (!(intercept < 0) || !(slope > 0)) return std::nullopt;
  Llama3Rope fit{big, 1.0, 1.0 - 1.0 / intercept, 0};
  fit.original_context = int(std::lround(slope * (fit.high_freq_factor - 1.0)));
  if (fit.original_context <= 0 || !close(factors_for(fit, base, dims), f)) return std::nullopt;
  return fit;
}

}  // namespace tessera::lm::convert
