// libFuzzer target for tessera::loadz (.npz: zip archives, stored and deflated).
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::temp_path(".npz");
  if (!fuzz::write_input(path, data, size)) return 0;
  try {
    for (auto& [name, a] : tessera::loadz(path)) fuzz::touch(a);
  } catch (const std::exception&) {
  }
  return 0;
}
