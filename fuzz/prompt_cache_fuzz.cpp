// libFuzzer target for tessera::lm::load_prompt_cache (safetensors plus a JSON layout in its
// metadata); a cache that loads is then extended by one position in every layer, so a layout
// the loader accepted must also be one the cache can write into.
#include "fuzz_common.h"
#include "tessera/lm/prompt_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::temp_path(".safetensors");
  if (!fuzz::write_input(path, data, size)) return 0;
  try {
    tessera::lm::PromptCacheFile f = tessera::lm::load_prompt_cache(path);
    for (auto& a : f.cache.state()) fuzz::touch(a);
    (void)tessera::lm::prompt_cache_tokens(f);
    for (int i = 0; i < f.cache.num_layers(); ++i) {
      tessera::lm::KVCache::LayerState s = f.cache.layer_state(i);
      if (s.arrays.empty()) continue;
      // One new position shaped like the layer's keys and values (dense: their own head size;
      // packed: the head size the words and scales stand for).
      const tessera::array& k = s.arrays[0];
      const tessera::array& v = s.arrays[s.quantized ? 3 : 1];
      const int bits = f.cache.options().bits;
      const int dk = s.quantized ? int(int64_t(k.shape(3)) * 32 / bits) : k.shape(3);
      const int dv = s.quantized ? int(int64_t(v.shape(3)) * 32 / bits) : v.shape(3);
      // The next step of room: bounded here so that a large (valid) step stays under the RSS limit.
      const int64_t room = int64_t(k.shape(2)) + f.cache.options().step;
      if (int64_t(k.shape(0)) * k.shape(1) * (dk + dv) * room > (int64_t(1) << 24)) continue;
      auto view = f.cache.update(i, tessera::zeros({k.shape(0), k.shape(1), 1, dk}),
                                 tessera::zeros({k.shape(0), k.shape(1), 1, dv}));
      tessera::eval(view.keys, view.values);
      fuzz::touch(view.keys);
      fuzz::touch(view.values);
    }
  } catch (const std::exception&) {
  }
  return 0;
}
