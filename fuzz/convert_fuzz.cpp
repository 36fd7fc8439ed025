// libFuzzer target for `tessera convert` on hostile GGUF files: the file goes to a Hugging Face
// directory (config.json from its metadata, tensors renamed and permuted, tokenizer.json rebuilt
// from its vocabulary), and whatever comes out goes back to GGUF. Conversion errors are expected;
// crashes, leaks and out-of-bounds reads are not.
#include <filesystem>

#include "fuzz_common.h"
#include "tessera/gguf.h"
#include "tessera/lm/convert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    tessera::gguf::set_log_handler([](const std::string&) {});
    return true;
  }();
  (void)quiet;
  const std::string& path = fuzz::temp_path(".gguf");
  if (!fuzz::write_input(path, data, size)) return 0;
  const std::string dir = path + ".hf", back = path + ".back.gguf";
  try {
    tessera::lm::HfConvertOptions to_hf;
    to_hf.overwrite = true;
    tessera::lm::convert_gguf_to_hf(path, dir, to_hf);
    tessera::lm::GgufConvertOptions to_gguf;
    to_gguf.overwrite = true;
    to_gguf.outtype = tessera::gguf::TensorType::q8_0;
    tessera::lm::convert_hf_to_gguf(dir, back, to_gguf);
  } catch (const std::exception&) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::remove(back, ec);
  return 0;
}
