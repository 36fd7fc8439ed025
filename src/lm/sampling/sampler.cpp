// Host-side sampling over one row of logits. The logits are already on the host after the step's
// eval, and one row is small (vocab floats), so a few passes here cost less than the graph nodes
// a lazy sampler would add to every step.
#include "tessera/lm/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::lm {

namespace {

// Uniforms drawn per refill: one eval per this many sampled tokens.
constexpr int kUniformBatch = 256;

}  // namespace

Sampler::Sampler(SamplingOptions o) : opt_(std::move(o)) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("[Sampler] " + what); };
  if (!(opt_.temperature >= 0)) bad("temperature must be >= 0");
  if (opt_.top_k < 0) bad("top_k must be >= 0");
  if (!(opt_.top_p > 0 && opt_.top_p <= 1)) bad("top_p must be in (0, 1]");
  if (!(opt_.min_p >= 0 && opt_.min_p <= 1)) bad("min_p must be in [0, 1]");
  if (!(opt_.repetition_penalty > 0)) bad("repetition_penalty must be > 0");
  if (opt_.penalty_window < 0) bad("penalty_window must be >= 0");
  if (opt_.temperature > 0) key_ = random::key(opt_.seed);
}

float Sampler::next_uniform() {
  if (next_ >= uniforms_.size()) {
    auto [k, sub] = random::split(*key_);
    key_ = k;
    array u = random::uniform(Shape{kUniformBatch}, float32, sub);
    u.eval();
    uniforms_.assign(u.data<float>(), u.data<float>() + kUniformBatch);
    next_ = 0;
  }
  return uniforms_[next_++];
}

Sample Sampler::sample(const array& logits, std::span<const int> history, bool want_logprob) {
  if (logits.ndim() == 0) throw std::invalid_argument("[Sampler] logits must have at least one axis");
  const int vocab = logits.shape(-1);
  array row = logits;
  if (logits.size() != size_t(vocab)) row = reshape(logits, {-1, vocab});
  if (row.ndim() == 2) row = reshape(slice(row, Shape{row.shape(0) - 1, 0}, Shape{row.shape(0), vocab}), {vocab});
  row = contiguous(astype(row, float32));
  row.eval();
  return sample(row.data<float>(), vocab, history, want_logprob);
}

Sample Sampler::sample(const float* logits, int vocab, std::span<const int> history, bool want_logprob) {
  if (vocab <= 0) throw std::invalid_argument("[Sampler] empty logits");
  work_.assign(logits, logits + vocab);
  float* l = work_.data();
  for (auto& [id, bias] : opt_.logit_bias) {
    if (id >= 0 && id < vocab) l[id] += bias;
  }

  bool penalize = opt_.repetition_penalty != 1.0f || opt_.presence_penalty != 0.0f || opt_.frequency_penalty != 0.0f;
  if (penalize && opt_.penalty_window > 0 && !history.empty()) {
    size_t n = std::min<size_t>(history.size(), size_t(opt_.penalty_window));
    auto recent = history.subspan(history.size() - n);
    counts_.assign(size_t(vocab), 0);
    for (int id : recent) {
      if (id >= 0 && id < vocab) counts_[id]++;
    }
    for (int id : recent) {
      if (id < 0 || id >= vocab || counts_[id] == 0) continue;
      float& x = l[id];
      x = x > 0 ? x / opt_.repetition_penalty : x * opt_.repetition_penalty;
      x -= opt_.presence_penalty + opt_.frequency_penalty * float(counts_[id]);
      counts_[id] = 0;  // once per distinct token
    }
  }

  auto logprob_of = [&](int id) {
    if (!want_logprob) return std::numeric_limits<float>::quiet_NaN();
    float m = *std::max_element(l, l + vocab);
    double s = 0;
    for (int i = 0; i < vocab; ++i) s += std::exp(double(l[i] - m));
    return float(double(l[id] - m) - std::log(s));
  };

  if (opt_.temperature == 0.0f) {
    int best = int(std::max_element(l, l + vocab) - l);  // first maximum: lowest id on ties
    return {best, logprob_of(best)};
  }

  // Candidates: by decreasing logit (ties: lower id first) when top-k or top-p needs the order,
  // else in id order (no sort over the whole vocabulary); then cut by top-k, top-p and min-p.
  order_.resize(size_t(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  auto by_logit = [&](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
  int n = vocab;
  if (opt_.top_k > 0 && opt_.top_k < vocab) {
    n = opt_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), by_logit);
  } else if (opt_.top_p < 1.0f) {
    std::sort(order_.begin(), order_.end(), by_logit);
  }
  float lmax = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; ++i) lmax = std::max(lmax, l[order_[i]]);
  if (!std::isfinite(lmax)) {
    // Every logit is -inf (or NaN): there is no distribution to sample; take the first.
    return {order_[0], logprob_of(order_[0])};
  }
  if (opt_.min_p > 0.0f) {
    // Tokens with p < min_p * p_max drop out; the order of the rest is kept.
    const double floor_logit = double(lmax) + std::log(double(opt_.min_p));
    int kept = 0;
    for (int i = 0; i < n; ++i) {
      if (double(l[order_[i]]) >= floor_logit) order_[kept++] = order_[i];
    }
    n = std::max(1, kept);
  }
  if (opt_.top_p < 1.0f) {
    double total = 0;
    for (int i = 0; i < n; ++i) total += std::exp(double(l[order_[i]] - lmax));
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      cum += std::exp(double(l[order_[i]] - lmax)) / total;
      if (cum >= double(opt_.top_p)) {
        n = i + 1;
        break;
      }
    }
  }

  // Sample at the temperature among the n kept candidates.
  const double inv_t = 1.0 / double(opt_.temperature);
  double total = 0;
  for (int i = 0; i < n; ++i) total += std::exp((double(l[order_[i]]) - lmax) * inv_t);
  double target = double(next_uniform()) * total, cum = 0;
  int chosen = order_[n - 1];
  for (int i = 0; i < n; ++i) {
    cum += std::exp((double(l[order_[i]]) - lmax) * inv_t);
    if (target < cum) {
      chosen = order_[i];
      break;
    }
  }
  return {chosen, logprob_of(chosen)};
}

}  // namespace tessera::lm
