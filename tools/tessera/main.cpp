// tessera: one binary with subcommands (`tessera generate ...`).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"

#ifdef __linux__
#include <unistd.h>
#endif

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

constexpr Command kCommands[] = {
    {"generate", "generate text from a prompt with a model file", tessera::cli::generate_command},
    {"chat", "chat with a model in its chat template (stdin: one message a line)", tessera::cli::chat_command},
    {"train", "train a language model on text files and export it", tessera::cli::train_command},
    {"tokenizer", "train a byte-level BPE tokenizer (tokenizer train --help)", tessera::cli::tokenizer_command},
    {"convert", "convert models: HF -> MLX (-q), HF <-> GGUF (convert --help)", tessera::cli::convert_command},
    {"cache-prompt", "save a prompt's KV cache for generate --prompt-cache-file", tessera::cli::cache_prompt_command},
};

void usage(std::ostream& os) {
  os << "usage: tessera <command> [options]   (tessera <command> --help for its options)\n\ncommands:\n";
  for (auto& c : kCommands) {
    os << "  " << c.name << std::string(size_t(std::max(1, 14 - int(std::strlen(c.name)))), ' ') << c.summary << "\n";
  }
}

}  // namespace

extern "C" char* openblas_get_corename(void);

// Two libraries read settings from the environment once, when they are loaded, and their
// defaults cost a lot here; the command restarts itself once with better ones unless the user
// set them:
//  - oneDNN runs its products on an OpenMP team whose workers keep spinning after each product
//    and take the cores from Tessera's own threads and everything else on the machine (a
//    training step ran at a third of its speed): OMP_WAIT_POLICY=PASSIVE.
//  - OpenBLAS 0.3.21 does not recognise every AVX-512 Xeon and then runs its generic SSE3
//    (Prescott) kernels at a fraction of the speed: OPENBLAS_CORETYPE=SkylakeX where the CPU
//    has the AVX-512 subsets those kernels use.
//  - OpenBLAS's workers spin on sched_yield for ~2^28 cycles after each product; between
//    products Tessera's own threads run the elementwise work, and the spinning worker took a
//    quarter of the CPU samples of a training step (perf): OPENBLAS_THREAD_TIMEOUT=4 (2^4 cycles,
//    then sleep) made the float32 step ~10% faster.
//  - glibc's malloc keeps 7 freed blocks per size in its per-thread cache. A lazy graph frees
//    its nodes' shape and input vectors in bursts of hundreds, which overflow it into the slower
//    shared bins: glibc.malloc.tcache_count=2048 (GLIBC_TUNABLES) made a 100-op chain ~20% and a
//    stories260K decode step ~15% faster (interleaved runs).
static void tune_runtime_environment(char** argv) {
#ifdef __linux__
  bool restart = false;
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    restart = true;
  }
  if (std::getenv("OPENBLAS_THREAD_TIMEOUT") == nullptr) {
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
    restart = true;
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables == nullptr || std::strstr(tunables, "glibc.malloc.tcache_count") == nullptr) {
    std::string t = tunables && *tunables ? std::string(tunables) + ":" : std::string();
    setenv("GLIBC_TUNABLES", (t + "glibc.malloc.tcache_count=2048").c_str(), 1);
    restart = true;
  }
#if defined(__x86_64__)
  const char* core = openblas_get_corename();
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && core != nullptr && std::strcmp(core, "Prescott") == 0 &&
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    restart = true;
  }
#endif
  if (restart) execv("/proc/self/exe", argv);  // returns only on failure: carry on as started
#else
  (void)argv;
#endif
}

int main(int argc, char** argv) {
  tune_runtime_environment(argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  std::string name = argv[1];
  for (auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const std::exception& e) {
      std::cerr << "tessera " << name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "tessera: unknown command '" << name << "'\n";
  usage(std::cerr);
  return 2;
}
