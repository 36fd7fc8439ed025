#include "kv_cache_flags.h"

namespace tessera::cli {

void add_kv_cache_flags(Args& args) {
  args.option("max-kv-size", "N",
              "bound the KV cache to N positions: past N the first 4 and the latest ones are kept and generation "
              "goes on",
              "unbounded (the model's context length ends generation)");
  args.option("kv-bits", "B", "store keys and values quantized to B bits (2, 3, 4, 5, 6 or 8)", "not quantized");
  args.option("kv-group-size", "G", "features per scale and bias of the quantized KV cache (32, 64 or 128)", "64");
  args.option("quantized-kv-start", "N", "quantize the KV cache once it holds more than N positions", "5000");
}

lm::KVCacheOptions kv_cache_options(const Args& args) {
  lm::KVCacheOptions o;
  o.max_size = args.integer("max-kv-size", 0);
  if (args.has("max-kv-size") && o.max_size <= 0) throw std::invalid_argument("--max-kv-size must be positive");
  o.rotate = o.max_size > 0;
  o.bits = args.integer("kv-bits", 0);
  o.group_size = args.integer("kv-group-size", 64);
  o.quantized_start = args.integer("quantized-kv-start", 5000);
  return o;
}

}  // namespace tessera::cli
