#include "lm/layers/attention.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/fast.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

array floats(const std::vector<float>& v) { return array(v.begin(), Shape{int(v.size())}, float32); }

std::vector<float> host_floats(array a) {
  a = contiguous(astype(a, float32));
  a.eval();
  return std::vector<float>(a.data<float>(), a.data<float>() + a.size());
}

// base^(2i / dims), the period of frequency i.
std::vector<double> base_periods(float base, int dims) {
  std::vector<double> p(size_t(dims / 2));
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::pow(double(base), double(2 * i) / double(dims));
  return p;
}

// Llama 3.1's rule (transformers' _compute_llama3_parameters), on periods rather than inverse
// frequencies: long wavelengths are stretched by `factor`, short ones kept, the band between
// interpolated by where original_context / wavelength falls between the two factors.
std::vector<float> llama3_periods(const ModelConfig& c, float base) {
  const double factor = c.rope_factor, lo = c.rope_low_freq_factor, hi = c.rope_high_freq_factor;
  const double ctx = c.rope_original_context;
  const double low_wavelen = ctx / lo, high_wavelen = ctx / hi;
  std::vector<float> out;
  for (double p : base_periods(base, c.rope_dims)) {
    const double inv = 1.0 / p, wavelen = 2.0 * M_PI * p;
    double adjusted = wavelen > low_wavelen ? inv / factor : inv;
    if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
      const double smooth = (ctx / wavelen - lo) / (hi - lo);
      adjusted = (1.0 - smooth) * adjusted / factor + smooth * adjusted;
    }
    out.push_back(float(1.0 / adjusted));
  }
  return out;
}

std::vector<float> scaled_periods(float base, int dims, const std::vector<float>& factors) {
  std::vector<float> out;
  auto p = base_periods(base, dims);
  for (size_t i = 0; i < p.size(); ++i) out.push_back(float(p[i] * double(factors[i])));
  return out;
}

// Factors a GGUF file stores as a tensor (one per frequency), if it has it.
std::optional<std::vector<float>> tensor_factors(WeightStore& w, const std::string& name, int n) {
  if (!w.has(name)) return std::nullopt;
  return host_floats(w.dense(name, {n}));
}

// Which keys of `kv` query i (at position offset + i) may attend: causal, and within `window`
// (0: none) unless the key is one of the view's leading sinks. bool [L, n].
array attend_mask(int L, int offset, const KVView& kv, int window) {
  const int n = kv.size();
  array qi = reshape(arange(offset, offset + L), {L, 1});
  array j = arange(0, n);
  array kj = reshape(kv.sinks > 0 ? where(less(j, array(kv.sinks, int32)), j, add(j, array(kv.first - kv.sinks, int32)))
                                  : add(j, array(kv.first, int32)),
                     {1, n});
  array m = less_equal(kj, qi);
  if (window > 0) {
    array near = greater(kj, subtract(qi, array(window, int32)));
    if (kv.sinks > 0) near = logical_or(near, reshape(less(j, array(kv.sinks, int32)), {1, n}));
    m = logical_and(m, near);
  }
  return m;
}

}  // namespace

AttentionOptions attention_options(const ModelConfig& c, int layer, WeightStore& w) {
  AttentionOptions o;
  o.heads = c.num_heads;
  o.kv_heads = c.num_kv_heads;
  o.head_dim = c.head_dim;
  o.scale = c.query_scale > 0 ? c.query_scale : 1.0f / std::sqrt(float(c.head_dim));
  o.softcap = c.attn_logit_softcap;
  const bool sliding = c.sliding_window > 0 && size_t(layer) < c.sliding_layers.size() && c.sliding_layers[layer];
  o.window = sliding ? c.sliding_window : 0;

  Rope& r = o.rope;
  r.dims = c.rope_dims;
  r.traditional = c.rope_traditional;
  const int h = c.rope_dims / 2;
  if (sliding && c.rope_local_theta > 0) {
    // Gemma 3's local layers: their own base, no scaling.
    r.freqs = floats(scaled_periods(c.rope_local_theta, r.dims, std::vector<float>(size_t(h), 1.0f)));
    return o;
  }
  r.scale = c.rope_scale;
  if (c.rope_type == "llama3") {
    r.freqs = floats(llama3_periods(c, c.rope_theta));
  } else if (c.rope_type == "longrope") {
    auto shorts = c.rope_short_factors, longs = c.rope_long_factors;
    if (shorts.empty()) {
      auto s = tensor_factors(w, "rope_factors_short.weight", h), l = tensor_factors(w, "rope_factors_long.weight", h);
      if (!s || !l) {
        throw std::invalid_argument("[load_model] " + w.file() +
                                    ": LongRoPE needs short and long factors (config rope_scaling.short_factor / "
                                    "long_factor, or tensors rope_factors_short / rope_factors_long)");
      }
      shorts = *s;
      longs = *l;
    }
    r.freqs = floats(scaled_periods(c.rope_theta, r.dims, shorts));
    r.long_freqs = floats(scaled_periods(c.rope_theta, r.dims, longs));
    r.long_after = c.rope_original_context;
    r.mscale = c.rope_attention_factor;
  } else if (auto f = tensor_factors(w, "rope_freqs.weight", h)) {
    // GGUF's Llama 3.1 files: the rule's per-frequency period multipliers, precomputed.
    r.freqs = floats(scaled_periods(c.rope_theta, r.dims, *f));
  } else {
    // Plain rope, computed in float as llama2.c does (its golden outputs are matched bit for bit).
    std::vector<float> periods(static_cast<size_t>(h));
    for (size_t i = 0; i < periods.size(); ++i) periods[i] = std::pow(c.rope_theta, float(2 * i) / float(r.dims));
    r.freqs = floats(periods);
  }
  return o;
}

Attention::Attention(AttentionOptions options, Linear qkv, Linear o, std::optional<RMSNorm> q_norm,
                     std::optional<RMSNorm> k_norm)
    : opt_(std::move(options)), qkv_(std::move(qkv)), o_(std::move(o)) {
  const int D = opt_.head_dim, Hq = opt_.heads, Hkv = opt_.kv_heads;
  if (qkv_.out_features() != (Hq + 2 * Hkv) * D) {
    throw std::invalid_argument("[Attention] the fused q/k/v projection has " + std::to_string(qkv_.out_features()) +
                                " outputs, expected (" + std::to_string(Hq) + " + 2 * " + std::to_string(Hkv) +
                                ") heads * " + std::to_string(D));
  }
  if (q_norm.has_value() != k_norm.has_value()) throw std::invalid_argument("[Attention] q_norm without k_norm");
  if (q_norm) {
    // One weight row per head, so queries and keys are normalized in one pass and rotate together.
    array qw = broadcast_to(reshape(astype(q_norm->weight(), float32), {1, D}), {Hq, D});
    array kw = broadcast_to(reshape(astype(k_norm->weight(), float32), {1, D}), {Hkv, D});
    array w = concatenate({qw, kw}, 0);
    w.eval();
    qk_norm_weight_ = w;
    qk_norm_eps_ = q_norm->eps();
    if (k_norm->eps() != qk_norm_eps_) throw std::invalid_argument("[Attention] q_norm and k_norm differ in eps");
  }
  if (opt_.rope.mscale != 1.0f) {
    std::vector<float> m(size_t(D), 1.0f);
    for (int i = 0; i < opt_.rope.dims; ++i) m[size_t(i)] = opt_.rope.mscale;
    rope_mscale_ = floats(m);
  }
}

array Attention::explicit_attention(const array& q, const KVView& kv, const std::optional<array>& mask) const {
  const int B = q.shape(0), Hq = q.shape(1), L = q.shape(2), D = q.shape(3);
  const int Hkv = kv.keys.shape(1), Lk = kv.size(), rep = Hq / Hkv;
  // Query head h reads key head h / rep: grouping the queries by key head makes that a batched
  // product without repeating the keys.
  array qg = reshape(q, {B, Hkv, rep * L, D});
  const bool packed = kv.bits > 0;
  array s = packed ? quantized_matmul(qg, kv.keys, *kv.key_scales, kv.key_biases, true, kv.group_size, kv.bits)
                   : matmul(qg, swapaxes(kv.keys, -1, -2));
  s = multiply(s, array(opt_.scale));
  if (opt_.softcap > 0) s = multiply(tanh(multiply(s, array(1.0f / opt_.softcap))), array(opt_.softcap));
  if (mask) {
    s = reshape(s, {B, Hkv, rep, L, Lk});
    s = where(*mask, s, array(-std::numeric_limits<float>::infinity()));
    s = reshape(s, {B, Hkv, rep * L, Lk});
  }
  array p = softmax(s, -1, true);
  array o = packed ? quantized_matmul(p, kv.values, *kv.value_scales, kv.value_biases, false, kv.group_size, kv.bits)
                   : matmul(p, kv.values);
  return reshape(o, {B, Hq, L, o.shape(3)});
}

array Attention::operator()(const array& x, int B, int L, KVCache& cache, int layer, int offset) const {
  const int D = opt_.head_dim, Hq = opt_.heads, Hkv = opt_.kv_heads;
  array qkv = qkv_(x);  // [B * L, (Hq + 2 Hkv) D]
  // Columns [begin, begin + n D) as heads [B, n, L, D]. With one token per sequence a reshape
  // of the slice does it (a view when B = 1); longer inputs need the transpose.
  auto as_heads = [&](const array& part, int n) {
    if (L == 1) return reshape(part, {B, n, 1, D});
    return transpose(reshape(part, {B, L, n, D}), {0, 2, 1, 3});
  };
  auto columns = [&](int begin, int n) { return slice(qkv, Shape{0, begin * D}, Shape{B * L, (begin + n) * D}); };
  array qk = columns(0, Hq + Hkv);
  if (qk_norm_weight_) {
    qk = reshape(qk, {B * L, Hq + Hkv, D});
    qk = reshape(multiply(fast::rms_norm(qk, std::nullopt, qk_norm_eps_), *qk_norm_weight_), {B * L, (Hq + Hkv) * D});
  }
  // Queries and keys rotate together: one rope over their Hq + Hkv heads.
  const Rope& r = opt_.rope;
  const array& freqs = r.long_freqs && offset + L > r.long_after ? *r.long_freqs : r.freqs;
  // In a static step the position is an array, so the same graph serves every token.
  const std::optional<array>& position = cache.static_position();
  qk = position ? fast::rope(as_heads(qk, Hq + Hkv), r.dims, r.traditional, std::nullopt, r.scale, *position, freqs)
                : fast::rope(as_heads(qk, Hq + Hkv), r.dims, r.traditional, std::nullopt, r.scale, offset, freqs);
  if (rope_mscale_) qk = multiply(qk, *rope_mscale_);
  array q = slice(qk, Shape{0, 0, 0, 0}, Shape{B, Hq, L, D});
  array k = slice(qk, Shape{0, Hq, 0, 0}, Shape{B, Hq + Hkv, L, D});
  array v = as_heads(columns(Hq + Hkv, Hkv), Hkv);
  KVView kv = cache.update(layer, k, v);

  // The tighter of the layer's window and the span a rotating cache keeps.
  const int window = opt_.window == 0 || (kv.window > 0 && kv.window < opt_.window) ? kv.window : opt_.window;
  if (kv.visible && window > 0) {
    throw std::logic_error("[Attention] static decode steps do not support sliding windows");
  }
  if (!kv.visible && kv.ordered && kv.sinks == 0 && window > 0) {
    // Keys no query of this call can see (before the earliest query's window) are left out.
    const int drop = std::max(0, offset - window + 1 - kv.first);
    if (drop > 0) {
      auto tail = [&](const array& a) {
        return slice(a, Shape{0, 0, drop, 0}, Shape{a.shape(0), a.shape(1), a.shape(2), a.shape(3)});
      };
      kv.keys = tail(kv.keys);
      kv.values = tail(kv.values);
      for (auto* a : {&kv.key_scales, &kv.key_biases, &kv.value_scales, &kv.value_biases}) {
        if (*a) *a = tail(**a);
      }
      kv.first += drop;
    }
  }
  // Does any query miss a key it was given? One query over an unordered view sees all of it; so
  // does one query over ordered keys that all fall inside its window (or are sinks).
  const int n = kv.size();
  const bool one_sees_all = L == 1 && (!kv.ordered || window == 0 || kv.sinks == n || kv.first > offset - window);
  const bool ends_at_last_query = kv.first + (n - kv.sinks) == offset + L;
  std::optional<array> mask;
  bool causal = false;
  if (kv.visible) {
    mask = kv.visible;  // the whole buffer, of which the positions written so far are visible
  } else if (!one_sees_all) {
    if (window == 0 && kv.sinks == 0 && ends_at_last_query) causal = true;
    else mask = attend_mask(L, offset, kv, window);
  }
  array out = [&] {
    if (opt_.softcap > 0 || kv.bits > 0) {
      if (causal) mask = attend_mask(L, offset, kv, 0);
      return explicit_attention(q, kv, mask);
    }
    if (mask) return fast::scaled_dot_product_attention(q, kv.keys, kv.values, opt_.scale, "array", *mask);
    return fast::scaled_dot_product_attention(q, kv.keys, kv.values, opt_.scale, causal ? "causal" : "");
  }();
  out = L == 1 ? reshape(out, {B, Hq * D}) : reshape(transpose(out, {0, 2, 1, 3}), {B * L, Hq * D});
  return o_(out);
}

}  // namespace tessera::lm
