// libFuzzer target for tessera::load (.npy).
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::temp_path(".npy");
  if (!fuzz::write_input(path, data, size)) return 0;
  try {
    fuzz::touch(tessera::load(path));
  } catch (const std::exception&) {
  }
  return 0;
}
