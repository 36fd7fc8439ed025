// tessera: one binary with subcommands (`tessera generate ...`).
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

constexpr Command kCommands[] = {
    {"generate", "generate text from a prompt with a model file", tessera::cli::generate_command},
    {"train", "train a language model on text files and export it", tessera::cli::train_command},
    {"tokenizer", "train a byte-level BPE tokenizer (tokenizer train --help)", tessera::cli::tokenizer_command},
};

void usage(std::ostream& os) {
  os << "usage: tessera <command> [options]   (tessera <command> --help for its options)\n\ncommands:\n";
  for (auto& c : kCommands) os << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
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
