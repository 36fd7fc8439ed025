// libFuzzer target for the GGUF reader (tessera::gguf::Reader, memory-mapped), the embedded
// SentencePiece-style vocabulary and the model loader: every metadata value is printed, every
// tensor loaded (dequantized or converted) and read, and a file that parses as a model is
// built. Loader errors are expected; crashes, leaks and out-of-bounds reads are not.
#include "fuzz_common.h"
#include "tessera/gguf.h"
#include "tessera/lm/model.h"
#include "tessera/lm/sentencepiece_gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    tessera::gguf::set_log_handler([](const std::string&) {});
    return true;
  }();
  (void)quiet;
  const std::string& path = fuzz::temp_path(".gguf");
  if (!fuzz::write_input(path, data, size)) return 0;
  try {
    tessera::gguf::Reader r(path);
    for (auto& [key, value] : r.metadata()) (void)(key.size() + value.to_string(4).size());
    for (auto& t : r.tensors()) {
      try {
        fuzz::touch(r.load(t.name));
        if (auto q = r.load_quantized(t.name)) {
          fuzz::touch(q->wq);
          fuzz::touch(q->scales);
          fuzz::touch(q->biases);
        }
      } catch (const std::exception&) {
      }
    }
    try {
      auto tok = tessera::lm::SentencePieceTokenizer::from_gguf(r);
      auto ids = tok->encode("Hello w\xC3\xB6rld </s> \xE2\x96\x81x");
      (void)tok->decode(ids).size();
      auto stream = tok->stream();
      for (int id : ids) (void)stream->add(id).size();
      (void)stream->finish().size();
    } catch (const std::exception&) {
    }
    auto m = tessera::lm::load_model(path);
    (void)m.model->config().num_layers;
  } catch (const std::exception&) {
  }
  return 0;
}
