// libFuzzer target for tessera::load_safetensors (memory-mapped, JSON header).
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::temp_path(".safetensors");
  if (!fuzz::write_input(path, data, size)) return 0;
  try {
    auto [arrays, metadata] = tessera::load_safetensors(path);
    for (auto& [name, a] : arrays) fuzz::touch(a);
    for (auto& [k, v] : metadata) (void)(k.size() + v.size());
  } catch (const std::exception&) {
  }
  return 0;
}
